// Telnet option negotiation state.
#include "rfc2217/telnet_options.hpp"

namespace ferry::detail {

using telnet::Verb;

TelnetOptions::TelnetOptions(std::initializer_list<std::uint8_t> local_ok,
                             std::initializer_list<std::uint8_t> remote_ok) {
    for (const std::uint8_t option : local_ok) {
        local_ok_.set(option);
    }
    for (const std::uint8_t option : remote_ok) {
        remote_ok_.set(option);
    }
}

TelnetOptions TelnetOptions::for_rfc2217() {
    using namespace telnet::option;
    return TelnetOptions({binary, suppress_go_ahead, com_port},
                         {binary, suppress_go_ahead, com_port});
}

void TelnetOptions::request_binary_and_sga(Bytes& out) {
    request_remote(telnet::option::binary, out);
    request_local(telnet::option::binary, out);
    request_local(telnet::option::suppress_go_ahead, out);
    request_remote(telnet::option::suppress_go_ahead, out);
}

void TelnetOptions::request_local(std::uint8_t option, Bytes& out) {
    Side& side = local_[option];
    if (!side.enabled && !side.requested) {
        side.requested = true;
        telnet::append_negotiation(Verb::will_, option, out);
    }
}

void TelnetOptions::request_remote(std::uint8_t option, Bytes& out) {
    Side& side = remote_[option];
    if (!side.enabled && !side.requested) {
        side.requested = true;
        telnet::append_negotiation(Verb::do_, option, out);
    }
}

bool TelnetOptions::enable(Side& side, bool ok, Verb yes, Verb no, std::uint8_t option,
                           Bytes& out) {
    if (side.enabled) {
        return false; // an acknowledgement of the state it is in: no answer (no loop)
    }
    if (!ok) {
        if (!side.refused) {
            side.refused = true;
            telnet::append_negotiation(no, option, out);
        }
        return false;
    }
    if (!side.requested) {
        telnet::append_negotiation(yes, option, out);
    }
    side.requested = false;
    side.refused = false;
    side.enabled = true;
    return true;
}

bool TelnetOptions::disable(Side& side, Verb no, std::uint8_t option, Bytes& out) {
    const bool was_enabled = side.enabled;
    if (was_enabled && !side.requested) {
        telnet::append_negotiation(no, option, out);
    }
    side.refused = side.requested || side.refused;
    side.requested = false;
    side.enabled = false;
    return was_enabled;
}

bool TelnetOptions::receive(Verb verb, std::uint8_t option, Bytes& out) {
    switch (verb) {
    case Verb::will_:
        return enable(remote_[option], remote_ok_.test(option), Verb::do_, Verb::dont, option, out);
    case Verb::wont:
        return disable(remote_[option], Verb::dont, option, out);
    case Verb::do_:
        return enable(local_[option], local_ok_.test(option), Verb::will_, Verb::wont, option, out);
    case Verb::dont:
        return disable(local_[option], Verb::wont, option, out);
    }
    return false;
}

} // namespace ferry::detail
