// SocketAddress: formatting and parsing through libuv's portable address helpers.
#include <ferry/address.hpp>

#include <cstring>

#include <uv.h>

namespace ferry {

SocketAddress::SocketAddress(const sockaddr* address, std::size_t length) {
    if (address == nullptr || length > storage_.size()) {
        return;
    }
    std::memcpy(storage_.data(), address, length);
    length_ = length;
}

std::optional<SocketAddress> SocketAddress::from_numeric(const std::string& host,
                                                         std::uint16_t port) {
    sockaddr_in v4{};
    if (uv_ip4_addr(host.c_str(), port, &v4) == 0) {
        return SocketAddress(reinterpret_cast<const sockaddr*>(&v4), sizeof v4);
    }
    sockaddr_in6 v6{};
    if (uv_ip6_addr(host.c_str(), port, &v6) == 0) {
        return SocketAddress(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
    }
    return std::nullopt;
}

SocketAddress SocketAddress::from_unix_path(const std::string& path) {
    // Laid out as sockaddr_un: the family, then the path bytes (truncated to fit).
    SocketAddress address;
    const auto family = static_cast<decltype(sockaddr::sa_family)>(AF_UNIX);
    std::memcpy(address.storage_.data(), &family, sizeof family);
    const std::size_t room = address.storage_.size() - sizeof family - 1;
    const std::size_t n = path.size() < room ? path.size() : room;
    std::memcpy(address.storage_.data() + sizeof family, path.data(), n);
    address.length_ = sizeof family + n;
    return address;
}

const sockaddr* SocketAddress::native() const noexcept {
    return reinterpret_cast<const sockaddr*>(storage_.data());
}

SocketAddress::Family SocketAddress::family() const noexcept {
    if (length_ == 0) {
        return Family::none;
    }
    switch (native()->sa_family) {
    case AF_INET:
        return Family::ipv4;
    case AF_INET6:
        return Family::ipv6;
#ifdef AF_UNIX
    case AF_UNIX:
        return Family::unix_path;
#endif
    default:
        return Family::none;
    }
}

std::string SocketAddress::host() const {
    char text[INET6_ADDRSTRLEN + 1] = {};
    switch (family()) {
    case Family::ipv4:
    case Family::ipv6:
        uv_ip_name(native(), text, sizeof text);
        return text;
    case Family::unix_path: {
        // sun_path follows sun_family; an unnamed socket has no path bytes at all.
        const std::size_t offset = sizeof(native()->sa_family);
        if (length_ <= offset) {
            return {};
        }
        const char* path = reinterpret_cast<const char*>(storage_.data()) + offset;
        return std::string(path, strnlen(path, length_ - offset));
    }
    case Family::none:
        break;
    }
    return {};
}

std::uint16_t SocketAddress::port() const noexcept {
    switch (family()) {
    case Family::ipv4:
        return ntohs(reinterpret_cast<const sockaddr_in*>(native())->sin_port);
    case Family::ipv6:
        return ntohs(reinterpret_cast<const sockaddr_in6*>(native())->sin6_port);
    default:
        return 0;
    }
}

std::vector<std::uint8_t> SocketAddress::ip_bytes() const {
    switch (family()) {
    case Family::ipv4: {
        const auto* ip = reinterpret_cast<const std::uint8_t*>(
            &reinterpret_cast<const sockaddr_in*>(native())->sin_addr);
        return {ip, ip + 4};
    }
    case Family::ipv6: {
        const auto* ip = reinterpret_cast<const std::uint8_t*>(
            &reinterpret_cast<const sockaddr_in6*>(native())->sin6_addr);
        return {ip, ip + 16};
    }
    default:
        return {};
    }
}

std::string SocketAddress::to_string() const {
    switch (family()) {
    case Family::ipv4:
        return host() + ":" + std::to_string(port());
    case Family::ipv6:
        return "[" + host() + "]:" + std::to_string(port());
    case Family::unix_path:
        return host();
    case Family::none:
        break;
    }
    return "<none>";
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
    return a.family() == b.family() && a.port() == b.port() && a.host() == b.host();
}

} // namespace ferry
