#pragma once
// The framed device's wire protocol, shared by the simulated device and the host.
//
// Every frame is COBS-encoded, ends with a zero byte, and carries a CRC-16/MODBUS (low byte
// first) after its payload. A request's payload is [id][command][arguments...]; the answer
// repeats the id, then a status byte and the data: [id][status][data...]. Ids let the host
// keep several requests in flight and tell a late answer from a fresh one.

#include <cstdint>

#include <ferry/framing.hpp>

namespace sample {

/// The framing both ends use.
using DeviceCodec = ferry::CrcCodec<ferry::CobsCodec>;

/// A codec for the device protocol (frames up to 256 bytes).
inline DeviceCodec device_codec() {
    return DeviceCodec(ferry::CobsCodec(256), ferry::crc::crc16_modbus());
}

/// What a request asks.
enum class Command : std::uint8_t {
    /// -> the firmware version as text.
    get_version = 0x01,
    /// [channel] -> the reading in hundredths of a degree, int16 big-endian.
    read_sensor = 0x02,
    /// [channel][0|1] -> nothing; switches an output.
    set_output = 0x03,
};

/// How the device answered.
enum class Status : std::uint8_t { ok = 0x00, unknown_command = 0x01, bad_argument = 0x02 };

} // namespace sample
