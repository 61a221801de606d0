#pragma once
// RFC 2217's COM-PORT-OPTION: command codes, values, and their mapping to SerialOptions and
// ModemStatus. Shared by the client and the server. Private to ferry::transports.

#include <cstdint>
#include <optional>
#include <string_view>

#include <ferry/bytes.hpp>
#include <ferry/serial.hpp>

namespace ferry::detail::com_port {

/// Client-to-server command codes; the server answers with code + server_offset.
enum Command : std::uint8_t {
    signature = 0,
    set_baudrate = 1,
    set_datasize = 2,
    set_parity = 3,
    set_stopsize = 4,
    set_control = 5,
    notify_linestate = 6,
    notify_modemstate = 7,
    flowcontrol_suspend = 8,
    flowcontrol_resume = 9,
    set_linestate_mask = 10,
    set_modemstate_mask = 11,
    purge_data = 12,
};
/// What the server adds to a command code in its answers.
inline constexpr std::uint8_t server_offset = 100;
/// The highest command code.
inline constexpr std::uint8_t last_command = purge_data;

/// SET-CONTROL values.
namespace control {
inline constexpr std::uint8_t flow_query = 0;
inline constexpr std::uint8_t flow_none = 1;
inline constexpr std::uint8_t flow_xon_xoff = 2;
inline constexpr std::uint8_t flow_hardware = 3;
inline constexpr std::uint8_t break_query = 4;
inline constexpr std::uint8_t break_on = 5;
inline constexpr std::uint8_t break_off = 6;
inline constexpr std::uint8_t dtr_query = 7;
inline constexpr std::uint8_t dtr_on = 8;
inline constexpr std::uint8_t dtr_off = 9;
inline constexpr std::uint8_t rts_query = 10;
inline constexpr std::uint8_t rts_on = 11;
inline constexpr std::uint8_t rts_off = 12;
inline constexpr std::uint8_t inbound_query = 13;
inline constexpr std::uint8_t inbound_none = 14;
inline constexpr std::uint8_t inbound_xon_xoff = 15;
inline constexpr std::uint8_t inbound_hardware = 16;
inline constexpr std::uint8_t flow_dcd = 17;
inline constexpr std::uint8_t inbound_dtr = 18;
inline constexpr std::uint8_t flow_dsr = 19;
} // namespace control

/// PURGE-DATA values.
inline constexpr std::uint8_t purge_receive = 1;
inline constexpr std::uint8_t purge_transmit = 2;
inline constexpr std::uint8_t purge_both = 3;

/// NOTIFY-MODEMSTATE bits.
namespace modem {
inline constexpr std::uint8_t cd = 0x80;
inline constexpr std::uint8_t ri = 0x40;
inline constexpr std::uint8_t dsr = 0x20;
inline constexpr std::uint8_t cts = 0x10;
inline constexpr std::uint8_t delta_cd = 0x08;
inline constexpr std::uint8_t ri_trailing_edge = 0x04;
inline constexpr std::uint8_t delta_dsr = 0x02;
inline constexpr std::uint8_t delta_cts = 0x01;
} // namespace modem

/// SET-PARITY value of `parity`.
std::uint8_t encode(Parity parity) noexcept;
/// SET-STOPSIZE value of `stop_bits`.
std::uint8_t encode(StopBits stop_bits) noexcept;
/// SET-CONTROL value of `flow` (outbound).
std::uint8_t encode(FlowControl flow) noexcept;
/// The parity a SET-PARITY value names; nullopt for 0 (query) or an unknown value.
std::optional<Parity> decode_parity(std::uint8_t value) noexcept;
/// The stop bits a SET-STOPSIZE value names.
std::optional<StopBits> decode_stop_bits(std::uint8_t value) noexcept;
/// The flow control a SET-CONTROL value 1, 2, 3 or 19 names.
std::optional<FlowControl> decode_flow(std::uint8_t value) noexcept;
/// A NOTIFY-MODEMSTATE byte: the lines now, and the delta bits against `before`.
std::uint8_t encode(const ModemStatus& now, const ModemStatus& before) noexcept;
/// The lines a NOTIFY-MODEMSTATE byte reports.
ModemStatus decode_modem_state(std::uint8_t value) noexcept;
/// A baud rate as the four big-endian bytes SET-BAUDRATE carries.
void append_u32(std::uint32_t value, Bytes& out);
/// The big-endian 32-bit value at the start of `payload` (which has at least four bytes).
std::uint32_t read_u32(ByteView payload) noexcept;
/// A command's name for messages ("SET-BAUDRATE"); answers (code + 100) are named as their
/// command.
std::string_view command_name(std::uint8_t code) noexcept;

} // namespace ferry::detail::com_port
