#pragma once
/// SocketAddress: an IPv4, IPv6 or Unix-socket address, as peername() and sockname() report it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct sockaddr;

namespace ferry {

/// A socket address held by value (large enough for any sockaddr the OS returns).
class SocketAddress {
public:
    /// Address family of a SocketAddress.
    enum class Family { none, ipv4, ipv6, unix_path };

    /// An empty address (family none).
    SocketAddress() = default;
    /// Copies an OS sockaddr of `length` bytes.
    SocketAddress(const sockaddr* address, std::size_t length);
    /// Parses a numeric IPv4 or IPv6 literal; nullopt when `host` is not one.
    static std::optional<SocketAddress> from_numeric(const std::string& host, std::uint16_t port);
    /// The address of the Unix socket (or Windows named pipe) at `path`.
    static SocketAddress from_unix_path(const std::string& path);

    /// The address family.
    Family family() const noexcept;
    /// The host part: "127.0.0.1", "::1", or the socket path for Unix sockets.
    std::string host() const;
    /// The port (0 for Unix sockets).
    std::uint16_t port() const noexcept;
    /// The IP address in network byte order: 4 bytes for IPv4, 16 for IPv6, none otherwise
    /// (for address ranges and allowlists).
    std::vector<std::uint8_t> ip_bytes() const;
    /// "127.0.0.1:80", "[::1]:80" or the Unix socket path.
    std::string to_string() const;
    /// The OS sockaddr, for passing to system calls.
    const sockaddr* native() const noexcept;
    /// Length of the OS sockaddr in bytes.
    std::size_t native_length() const noexcept { return length_; }

    /// Compares family, host and port.
    friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

private:
    alignas(8) std::array<std::byte, 128> storage_{};
    std::size_t length_ = 0;
};

} // namespace ferry
