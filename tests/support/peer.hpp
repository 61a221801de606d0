#pragma once
// Peer: the raw OS object a test plays the other end of a transport with (a socket, a pipe, a
// pty master, a COM port), read and written by hand without blocking on reads. The platform
// parts are in peer_posix.cpp and peer_win.cpp; reading while a loop runs in peer.cpp.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace ferry {
class Loop;
}

namespace ferry::test {

/// Owns one OS descriptor or handle; move-only.
class Peer {
public:
    /// What the descriptor is: it decides how "nothing yet" and "the end" are told apart.
    enum class Kind { none, fd, socket, pipe, com };

    Peer() = default;
    /// Takes `handle` (an fd, a SOCKET or a HANDLE, by `kind`); POSIX fds must be non-blocking.
    Peer(Kind kind, std::intptr_t handle) noexcept : kind_(kind), handle_(handle) {}
    Peer(Peer&& other) noexcept
        : kind_(std::exchange(other.kind_, Kind::none)), handle_(std::exchange(other.handle_, -1)) {
    }
    Peer& operator=(Peer&& other) noexcept {
        if (this != &other) {
            close();
            kind_ = std::exchange(other.kind_, Kind::none);
            handle_ = std::exchange(other.handle_, -1);
        }
        return *this;
    }
    Peer(const Peer&) = delete;
    Peer& operator=(const Peer&) = delete;
    ~Peer() { close(); }

    /// True while it holds a descriptor.
    bool is_open() const noexcept { return kind_ != Kind::none; }
    /// Writes `bytes` in one call; true when all were taken. Keep them small: it may block.
    bool write(std::string_view bytes) noexcept;
    /// Writes what the descriptor takes now: the count; -1 when it takes nothing yet (full),
    /// or failed. For bulk writes with the loop running in between.
    std::ptrdiff_t write_some(std::string_view bytes) noexcept;
    /// Reads what has arrived: the count; 0 at the end (EOF, hang-up, reset); -1 when nothing
    /// has arrived yet.
    std::ptrdiff_t read_some(char* buffer, std::size_t size) noexcept;
    /// Sends end of data, keeping the reading side (sockets only).
    void shutdown_write() noexcept;
    /// Hangs up.
    void close() noexcept;
    /// Hangs up with a reset (sockets; other kinds just close), as a peer that vanishes.
    void reset() noexcept;

private:
    Kind kind_ = Kind::none;
    std::intptr_t handle_ = -1;
};

/// Reads from `peer`, running `loop` in between, until `want` bytes arrived, the descriptor
/// ended, or `timeout` passed; returns what arrived.
std::string peer_read(Loop& loop, Peer& peer, std::size_t want,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20));
/// True once `peer` reports end of data or hang-up within `timeout`, running the
/// loop meanwhile; bytes read on the way are appended to `extra`.
bool peer_sees_end(Loop& loop, Peer& peer, std::string& extra,
                   std::chrono::milliseconds timeout = std::chrono::seconds(20));

} // namespace ferry::test
