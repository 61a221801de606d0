#pragma once
// ferry-bridge's client allowlist: address ranges in CIDR form, IPv4 and IPv6.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ferry/address.hpp>

namespace bridge_tool {

/// One address range, e.g. 192.168.1.0/24 or fd00::/8; a bare address is a range of one.
class AddressRange {
public:
    /// Parses `text`; throws std::invalid_argument naming it when it is not a range.
    static AddressRange parse(const std::string& text);
    /// True when `address` (an IPv4-mapped IPv6 address counts as IPv4) lies in the range.
    bool contains(const ferry::SocketAddress& address) const;
    /// The range as it was given.
    const std::string& text() const noexcept { return text_; }

private:
    std::array<std::uint8_t, 16> bytes_{};
    bool ipv6_ = false;
    int prefix_ = 0;
    std::string text_;
};

/// The clients let in: anyone when empty, else those in one of the ranges. A Unix-socket
/// client (no IP address) is always let in: the socket file's permissions guard it.
class Allowlist {
public:
    /// Adds a range (throws std::invalid_argument for a bad one).
    void add(const std::string& range) { ranges_.push_back(AddressRange::parse(range)); }
    /// True when `peer` may connect.
    bool allows(const std::optional<ferry::SocketAddress>& peer) const;
    /// True when no range was given.
    bool empty() const noexcept { return ranges_.empty(); }

private:
    std::vector<AddressRange> ranges_;
};

} // namespace bridge_tool
