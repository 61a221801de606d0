// libFuzzer target: FixedLengthCodec and IdleGapCodec, whose end of frame the input decides.
#include <ferry/framing/fixed_length_codec.hpp>
#include <ferry/framing/idle_gap_codec.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::size_t length = 1 + data[0] % 32;
    ferry::FixedLengthCodec fixed(length);
    ferry::fuzz::CheckingSink fixed_sink(length, "");
    ferry::fuzz::feed(fixed, data, size, fixed_sink, length);
    for (const std::string& frame : fixed_sink.frames) {
        if (frame.size() != length) {
            ferry::fuzz::fail("a fixed-length frame of another length");
        }
    }
    // Idle gap: a 0xFF byte in the input stands for a silence on the line.
    constexpr std::size_t max_frame = 64;
    ferry::IdleGapCodec gap(std::chrono::microseconds(1750), max_frame);
    ferry::fuzz::CheckingSink gap_sink(max_frame, "idle gap");
    for (std::size_t i = 1; i < size; ++i) {
        if (data[i] == 0xFF) {
            gap.end_of_frame(gap_sink);
        } else {
            gap.decode(ferry::ByteView(data + i, 1), gap_sink);
        }
        if (gap.buffered() > max_frame) {
            ferry::fuzz::fail("the idle-gap codec holds more than its maximum");
        }
    }
    return 0;
}
