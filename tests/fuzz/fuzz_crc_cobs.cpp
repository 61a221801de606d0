// libFuzzer target: CrcCodec (CRC-16/MODBUS) around COBS, the sample device's framing.
#include <ferry/framing/cobs_codec.hpp>
#include <ferry/framing/crc_codec.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t max_frame = 512;
    using Codec = ferry::CrcCodec<ferry::CobsCodec>;
    Codec codec(ferry::CobsCodec(max_frame), ferry::crc::crc16_modbus());
    ferry::fuzz::CheckingSink sink(max_frame, "");
    ferry::fuzz::feed(codec, data, size, sink, max_frame);
    ferry::fuzz::check_round_trip(
        Codec(ferry::CobsCodec(max_frame + 2), ferry::crc::crc16_modbus()), sink.frames, max_frame,
        "");
    return 0;
}
