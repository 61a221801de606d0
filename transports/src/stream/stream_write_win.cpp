// StreamTransport::write_now on Windows: uv_try_write (libuv's own non-blocking write on a
// socket or pipe handle).
#include "stream/stream_transport.hpp"

#include <array>

namespace ferry::detail {

std::ptrdiff_t StreamTransport::write_now(const ByteView* parts, std::size_t count) noexcept {
    std::array<uv_buf_t, WriteQueue::max_gather> bufs;
    for (std::size_t i = 0; i < count; ++i) {
        bufs[i] = as_uv_buf(parts[i]);
    }
    return taken_or_failed(uv_try_write(output(), bufs.data(), static_cast<unsigned int>(count)));
}

} // namespace ferry::detail
