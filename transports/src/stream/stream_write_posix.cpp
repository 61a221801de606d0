// StreamTransport::write_now on POSIX: write(2) on the descriptor itself rather than through
// uv_try_write, ~30 instructions fewer on every write (docs/benchmarks.md, "A direct write").
#include "stream/stream_transport.hpp"

#include <array>
#include <cerrno>

#include <sys/uio.h>
#include <unistd.h>

namespace ferry::detail {
namespace {

/// One write(2) or writev(2) of `parts` to `fd`.
ssize_t write_once(int fd, const ByteView* parts, std::size_t count) noexcept {
    if (count == 1) {
        return ::write(fd, parts[0].data(), parts[0].size());
    }
    std::array<iovec, WriteQueue::max_gather> vectors;
    for (std::size_t i = 0; i < count; ++i) {
        vectors[i].iov_base = const_cast<std::byte*>(parts[i].data());
        vectors[i].iov_len = parts[i].size();
    }
    return ::writev(fd, vectors.data(), static_cast<int>(count));
}

/// write_now's uncommon cases, as uv_try_write would answer them (a libuv-style result): the
/// descriptor not looked up yet, libuv's own queue holding something (it goes first), a
/// gather, or a first attempt that failed with `failed_errno` (0 when none was made).
[[gnu::noinline]] int write_otherwise(uv_stream_t* stream, int& descriptor, const ByteView* parts,
                                      std::size_t count, int failed_errno) noexcept {
    if (descriptor < 0) {
        uv_os_fd_t fd = -1;
        if (uv_fileno(reinterpret_cast<const uv_handle_t*>(stream), &fd) != 0) {
            // A handle without a descriptor: uv_try_write's own answer (an error).
            const uv_buf_t buf = as_uv_buf(parts[0]);
            return uv_try_write(stream, &buf, 1);
        }
        descriptor = fd;
    }
    if (stream->write_queue_size != 0) {
        return UV_EAGAIN; // the core queues behind it, and sends once libuv's queue is done
    }
    int error = failed_errno;
    if (error == 0 || error == EINTR) {
        ssize_t n = 0;
        while ((n = write_once(descriptor, parts, count)) < 0 && errno == EINTR) {
        }
        if (n >= 0) {
            return static_cast<int>(n);
        }
        error = errno;
    }
    if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
        return UV_EAGAIN;
    }
    return -error; // libuv's codes are negated errno values on POSIX
}

} // namespace

std::ptrdiff_t StreamTransport::write_now(const ByteView* parts, std::size_t count) noexcept {
    // The echo's path: two checks and one system call; all else out of line.
    uv_stream_t* const out = output();
    int failed_errno = 0;
    if (count == 1 && output_descriptor_ >= 0 && out->write_queue_size == 0) [[likely]] {
        const ssize_t n = ::write(output_descriptor_, parts[0].data(), parts[0].size());
        if (n >= 0) [[likely]] {
            return n;
        }
        failed_errno = errno;
    }
    return taken_or_failed(write_otherwise(out, output_descriptor_, parts, count, failed_errno));
}

} // namespace ferry::detail
