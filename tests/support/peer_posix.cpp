// Peer on POSIX: every kind is a non-blocking file descriptor.
#include "peer.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace ferry::test {

bool Peer::write(std::string_view bytes) noexcept {
    const ssize_t n = ::write(static_cast<int>(handle_), bytes.data(), bytes.size());
    return n == static_cast<ssize_t>(bytes.size());
}

std::ptrdiff_t Peer::write_some(std::string_view bytes) noexcept {
    const ssize_t n = ::write(static_cast<int>(handle_), bytes.data(), bytes.size());
    return n > 0 ? n : -1;
}

std::ptrdiff_t Peer::read_some(char* buffer, std::size_t size) noexcept {
    const ssize_t n = ::read(static_cast<int>(handle_), buffer, size);
    if (n > 0) {
        return n;
    }
    // EIO: a pty master whose terminal end closed.
    return n < 0 && (errno == EAGAIN || errno == EINTR) ? -1 : 0;
}

void Peer::shutdown_write() noexcept {
    ::shutdown(static_cast<int>(handle_), SHUT_WR);
}

void Peer::reset() noexcept {
    if (kind_ == Kind::socket) {
        const linger reset{1, 0};
        ::setsockopt(static_cast<int>(handle_), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    close();
}

void Peer::close() noexcept {
    if (kind_ != Kind::none) {
        ::close(static_cast<int>(handle_));
        kind_ = Kind::none;
        handle_ = -1;
    }
}

} // namespace ferry::test
