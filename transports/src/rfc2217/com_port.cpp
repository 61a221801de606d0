// RFC 2217's value encodings.
#include "rfc2217/com_port.hpp"

#include <array>

namespace ferry::detail::com_port {

std::uint8_t encode(Parity parity) noexcept {
    switch (parity) {
    case Parity::none:
        return 1;
    case Parity::odd:
        return 2;
    case Parity::even:
        return 3;
    case Parity::mark:
        return 4;
    case Parity::space:
        return 5;
    }
    return 1;
}

std::uint8_t encode(StopBits stop_bits) noexcept {
    switch (stop_bits) {
    case StopBits::one:
        return 1;
    case StopBits::two:
        return 2;
    case StopBits::one_and_half:
        return 3;
    }
    return 1;
}

std::uint8_t encode(FlowControl flow) noexcept {
    switch (flow) {
    case FlowControl::none:
        return control::flow_none;
    case FlowControl::xon_xoff:
        return control::flow_xon_xoff;
    case FlowControl::rts_cts:
        return control::flow_hardware;
    case FlowControl::dsr_dtr:
        return control::flow_dsr;
    }
    return control::flow_none;
}

std::optional<Parity> decode_parity(std::uint8_t value) noexcept {
    static constexpr std::array<Parity, 5> parities{Parity::none, Parity::odd, Parity::even,
                                                    Parity::mark, Parity::space};
    if (value < 1 || value > parities.size()) {
        return std::nullopt;
    }
    return parities[value - 1];
}

std::optional<StopBits> decode_stop_bits(std::uint8_t value) noexcept {
    switch (value) {
    case 1:
        return StopBits::one;
    case 2:
        return StopBits::two;
    case 3:
        return StopBits::one_and_half;
    default:
        return std::nullopt;
    }
}

std::optional<FlowControl> decode_flow(std::uint8_t value) noexcept {
    switch (value) {
    case control::flow_none:
        return FlowControl::none;
    case control::flow_xon_xoff:
        return FlowControl::xon_xoff;
    case control::flow_hardware:
        return FlowControl::rts_cts;
    case control::flow_dsr:
        return FlowControl::dsr_dtr;
    default:
        return std::nullopt;
    }
}

std::uint8_t encode(const ModemStatus& now, const ModemStatus& before) noexcept {
    std::uint8_t value = 0;
    value |= now.cd ? modem::cd : 0;
    value |= now.ri ? modem::ri : 0;
    value |= now.dsr ? modem::dsr : 0;
    value |= now.cts ? modem::cts : 0;
    value |= now.cd != before.cd ? modem::delta_cd : 0;
    value |= (before.ri && !now.ri) ? modem::ri_trailing_edge : 0;
    value |= now.dsr != before.dsr ? modem::delta_dsr : 0;
    value |= now.cts != before.cts ? modem::delta_cts : 0;
    return value;
}

ModemStatus decode_modem_state(std::uint8_t value) noexcept {
    ModemStatus status;
    status.cd = (value & modem::cd) != 0;
    status.ri = (value & modem::ri) != 0;
    status.dsr = (value & modem::dsr) != 0;
    status.cts = (value & modem::cts) != 0;
    return status;
}

void append_u32(std::uint32_t value, Bytes& out) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<std::byte>((value >> shift) & 0xff));
    }
}

std::uint32_t read_u32(ByteView payload) noexcept {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        value = (value << 8) | std::to_integer<std::uint32_t>(payload.data()[i]);
    }
    return value;
}

std::string_view command_name(std::uint8_t code) noexcept {
    static constexpr std::array<std::string_view, last_command + 1> names{
        "SIGNATURE",           "SET-BAUDRATE",       "SET-DATASIZE",       "SET-PARITY",
        "SET-STOPSIZE",        "SET-CONTROL",        "NOTIFY-LINESTATE",   "NOTIFY-MODEMSTATE",
        "FLOWCONTROL-SUSPEND", "FLOWCONTROL-RESUME", "SET-LINESTATE-MASK", "SET-MODEMSTATE-MASK",
        "PURGE-DATA"};
    if (code >= server_offset) {
        code = static_cast<std::uint8_t>(code - server_offset);
    }
    return code <= last_command ? names[code] : std::string_view("unknown command");
}

} // namespace ferry::detail::com_port
