// libFuzzer target: NetstringCodec on any input, in any chunking.
#include <ferry/framing/netstring_codec.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t max_length = 300;
    ferry::NetstringCodec codec(max_length);
    ferry::fuzz::CheckingSink sink(max_length, "netstring");
    // Digits of the length count as held bytes too.
    ferry::fuzz::feed(codec, data, size, sink, max_length + 20);
    ferry::fuzz::check_round_trip(ferry::NetstringCodec(max_length), sink.frames, max_length,
                                  "netstring");
    return 0;
}
