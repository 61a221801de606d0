// libFuzzer target: LineCodec with one or several delimiters on any input, in any chunking.
#include <ferry/framing/line_codec.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ferry::LineOptions options;
    options.max_length = 256;
    if (size > 0 && (data[0] & 0x80) != 0) {
        options.delimiters = {"\n", "\r\n", std::string("\x00\x01", 2)}; // several lengths
    }
    const std::size_t longest = 2;
    ferry::LineCodec codec(options);
    ferry::fuzz::CheckingSink sink(options.max_length, "line");
    // A partial line may hold up to max_length + the delimiter's first bytes, plus one chunk
    // appended before it is scanned.
    ferry::fuzz::feed(codec, data, size, sink, options.max_length + longest + 64);
    for (const std::string& line : sink.frames) {
        for (const std::string& delimiter : options.delimiters) {
            if (line.find(delimiter) != std::string::npos) {
                ferry::fuzz::fail("a delivered line contains a delimiter");
            }
        }
    }
    return 0;
}
