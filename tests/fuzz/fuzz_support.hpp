#pragma once
// What every decoder fuzzer shares: chunking the input as the fuzzer chooses, and the checks
// that must hold for any input whatsoever.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ferry/error.hpp>
#include <ferry/framing/frame_sink.hpp>

namespace ferry::fuzz {

/// Stops the fuzzer with a message: libFuzzer reports the input that caused it.
[[noreturn]] inline void fail(const char* what) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
}

/// Checks what the decoder reports: frames within the limit, errors with a known code and a
/// message naming the codec.
struct CheckingSink : FrameSink {
    std::size_t max_frame;
    const char* codec_name;
    std::vector<std::string> frames;
    std::size_t errors = 0;
    CheckingSink(std::size_t max, const char* name) : max_frame(max), codec_name(name) {}
    void frame_decoded(ByteView frame) override {
        if (frame.size() > max_frame) {
            fail("a frame larger than the codec's maximum was delivered");
        }
        frames.push_back(frame.to_string());
    }
    void frame_error(const FrameError& error) override {
        ++errors;
        if (error.code() != make_error_code(errc::frame_too_large) &&
            error.code() != make_error_code(errc::bad_frame) &&
            error.code() != make_error_code(errc::checksum_mismatch)) {
            fail("an error with an unexpected code");
        }
        if (std::string(error.what()).find(codec_name) == std::string::npos) {
            fail("an error message that does not name the codec");
        }
    }
    void raw_data(ByteView) override {}
};

/// Feeds `data` to `codec` in chunks whose sizes come from the input's first byte, and checks
/// that what the codec holds stays within `bound` after every chunk.
template <class Codec>
void feed(Codec& codec, const std::uint8_t* data, std::size_t size, FrameSink& sink,
          std::size_t bound) {
    std::size_t chunk = 1;
    if (size > 0) {
        chunk = 1 + data[0] % 64;
        ++data;
        --size;
    }
    for (std::size_t at = 0; at < size; at += chunk) {
        const std::size_t n = size - at < chunk ? size - at : chunk;
        codec.decode(ByteView(data + at, n), sink);
        if (codec.buffered() > bound) {
            fail("the codec holds more than its bound");
        }
    }
}

/// Encodes each frame again and decodes it alone: it must come back unchanged.
template <class Codec>
void check_round_trip(const Codec& prototype, const std::vector<std::string>& frames,
                      std::size_t max_frame, const char* name) {
    for (const std::string& frame : frames) {
        Bytes encoded;
        prototype.encode(ByteView(frame), encoded);
        Codec codec = prototype;
        CheckingSink sink(max_frame, name);
        codec.decode(encoded, sink);
        if (sink.frames.size() != 1 || sink.frames[0] != frame || sink.errors != 0) {
            fail("a decoded frame does not survive encode + decode");
        }
    }
}

} // namespace ferry::fuzz
