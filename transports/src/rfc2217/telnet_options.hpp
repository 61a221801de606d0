#pragma once
// Telnet option negotiation state for one connection (RFC 1143's rules reduced to what two
// cooperating ends need: a request is never repeated, a refusal never answered twice, so two
// ends cannot loop). Private to ferry::transports.

#include <array>
#include <bitset>
#include <cstdint>
#include <initializer_list>

#include <ferry/telnet.hpp>

namespace ferry::detail {

/// Which options this end agrees to enable, on its side (WILL) and on the peer's (DO), and
/// where each stands.
class TelnetOptions {
public:
    /// `local_ok`: options this end will enable on request; `remote_ok`: options it lets the
    /// peer enable.
    TelnetOptions(std::initializer_list<std::uint8_t> local_ok,
                  std::initializer_list<std::uint8_t> remote_ok);
    /// What either RFC 2217 end accepts, both ways: BINARY, SUPPRESS-GO-AHEAD, COM-PORT-OPTION.
    static TelnetOptions for_rfc2217();
    /// Asks for BINARY and SUPPRESS-GO-AHEAD both ways, as both RFC 2217 ends do.
    void request_binary_and_sga(Bytes& out);
    /// Offers to enable `option` on this side (WILL), unless on or asked for already.
    void request_local(std::uint8_t option, Bytes& out);
    /// Asks the peer to enable `option` (DO), unless on or asked for already.
    void request_remote(std::uint8_t option, Bytes& out);
    /// Answers a verb from the peer into `out`; true when an option changed state.
    bool receive(telnet::Verb verb, std::uint8_t option, Bytes& out);
    /// True once this side's `option` is agreed.
    bool local_enabled(std::uint8_t option) const noexcept { return local_[option].enabled; }
    /// True once the peer's `option` is agreed.
    bool remote_enabled(std::uint8_t option) const noexcept { return remote_[option].enabled; }
    /// True once the peer refused this side's `option`.
    bool local_refused(std::uint8_t option) const noexcept { return local_[option].refused; }

private:
    struct Side {
        bool enabled = false;
        bool requested = false;
        bool refused = false;
    };
    static bool enable(Side& side, bool ok, telnet::Verb yes, telnet::Verb no, std::uint8_t option,
                       Bytes& out);
    static bool disable(Side& side, telnet::Verb no, std::uint8_t option, Bytes& out);
    std::array<Side, 256> local_{};
    std::array<Side, 256> remote_{};
    std::bitset<256> local_ok_;
    std::bitset<256> remote_ok_;
};

} // namespace ferry::detail
