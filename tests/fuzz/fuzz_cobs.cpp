// libFuzzer target: CobsCodec on any input, in any chunking.
#include <ferry/framing/cobs_codec.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t max_frame = 512;
    ferry::CobsCodec codec(max_frame);
    ferry::fuzz::CheckingSink sink(max_frame, "COBS");
    ferry::fuzz::feed(codec, data, size, sink, max_frame);
    ferry::fuzz::check_round_trip(ferry::CobsCodec(max_frame), sink.frames, max_frame, "COBS");
    return 0;
}
