// libFuzzer target: SlipCodec on any input, in any chunking.
#include <ferry/framing/slip_codec.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t max_frame = 512;
    ferry::SlipCodec codec(max_frame);
    ferry::fuzz::CheckingSink sink(max_frame, "SLIP");
    ferry::fuzz::feed(codec, data, size, sink, max_frame);
    ferry::fuzz::check_round_trip(ferry::SlipCodec(max_frame), sink.frames, max_frame, "SLIP");
    return 0;
}
