// Address ranges for ferry-bridge's --allow.
#include "allowlist.hpp"

#include <charconv>
#include <cstring>
#include <stdexcept>

#include <ferry/address.hpp>

namespace bridge_tool {
namespace {

/// The 16 address bytes of `host` (IPv4 in the first 4) and whether it is IPv6; IPv4-mapped
/// IPv6 addresses (::ffff:a.b.c.d, what a dual-stack socket reports) become IPv4.
std::optional<std::pair<std::array<std::uint8_t, 16>, bool>>
address_bytes(const std::string& host) {
    const auto address = ferry::SocketAddress::from_numeric(host, 0);
    if (!address) {
        return std::nullopt;
    }
    const std::vector<std::uint8_t> ip = address->ip_bytes();
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), ip.data(), ip.size());
    if (ip.size() == 4) {
        return std::pair{bytes, false};
    }
    static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes.data(), mapped, 12) == 0) {
        std::array<std::uint8_t, 16> v4{};
        std::memcpy(v4.data(), bytes.data() + 12, 4);
        return std::pair{v4, false};
    }
    return std::pair{bytes, true};
}

} // namespace

AddressRange AddressRange::parse(const std::string& text) {
    const std::size_t slash = text.find('/');
    const std::string host = text.substr(0, slash);
    const auto parsed = address_bytes(host);
    if (!parsed) {
        throw std::invalid_argument("bad --allow range \"" + text + "\": \"" + host +
                                    "\" is not an IPv4 or IPv6 address");
    }
    AddressRange range;
    range.text_ = text;
    range.bytes_ = parsed->first;
    range.ipv6_ = parsed->second;
    const int bits = range.ipv6_ ? 128 : 32;
    range.prefix_ = bits;
    if (slash != std::string::npos) {
        const std::string length = text.substr(slash + 1);
        int prefix = -1;
        const auto [end, error] =
            std::from_chars(length.data(), length.data() + length.size(), prefix);
        if (length.empty() || error != std::errc() || end != length.data() + length.size() ||
            prefix < 0 || prefix > bits) {
            throw std::invalid_argument("bad --allow range \"" + text + "\": the prefix length \"" +
                                        length + "\" is not a number from 0 to " +
                                        std::to_string(bits));
        }
        range.prefix_ = prefix;
    }
    return range;
}

bool AddressRange::contains(const ferry::SocketAddress& address) const {
    const auto parsed = address_bytes(address.host());
    if (!parsed || parsed->second != ipv6_) {
        return false;
    }
    const auto& bytes = parsed->first;
    int left = prefix_;
    for (std::size_t i = 0; left > 0; ++i, left -= 8) {
        const std::uint8_t mask = left >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - left));
        if ((bytes[i] & mask) != (bytes_[i] & mask)) {
            return false;
        }
    }
    return true;
}

bool Allowlist::allows(const std::optional<ferry::SocketAddress>& peer) const {
    if (ranges_.empty() || !peer || peer->family() == ferry::SocketAddress::Family::unix_path) {
        return true;
    }
    for (const AddressRange& range : ranges_) {
        if (range.contains(*peer)) {
            return true;
        }
    }
    return false;
}

} // namespace bridge_tool
