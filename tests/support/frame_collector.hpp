#pragma once
// What a codec test needs: a sink that records, and a driver that feeds input in chunks.

#include <algorithm>
#include <string>
#include <vector>

#include <ferry/framing/frame_sink.hpp>

namespace ferry::test {

/// Records frames, errors and raw data as strings.
struct CollectingSink : FrameSink {
    std::vector<std::string> frames;
    std::vector<FrameError> errors;
    std::string raw;
    void frame_decoded(ByteView frame) override { frames.push_back(frame.to_string()); }
    void frame_error(const FrameError& error) override { errors.push_back(error); }
    void raw_data(ByteView data) override { raw.append(data.as_string_view()); }
};

/// Feeds `input` to `codec` in chunks of `chunk` bytes (the last may be shorter).
template <class Codec>
void feed_in_chunks(Codec& codec, const std::string& input, std::size_t chunk, FrameSink& sink) {
    for (std::size_t at = 0; at < input.size(); at += chunk) {
        const std::size_t n = std::min(chunk, input.size() - at);
        codec.decode(ByteView(input.data() + at, n), sink);
    }
}

/// Decodes `input` with a fresh copy of `prototype`, fed `chunk` bytes at a time.
template <class Codec>
CollectingSink decode_in_chunks(const Codec& prototype, const std::string& input,
                                std::size_t chunk) {
    Codec codec = prototype;
    CollectingSink sink;
    feed_in_chunks(codec, input, chunk, sink);
    return sink;
}

/// The bytes of `codec.encode(payload)`, as a string.
template <class Codec>
std::string encoded(const Codec& codec, const std::string& payload) {
    Bytes out;
    codec.encode(ByteView(payload), out);
    return ByteView(out).to_string();
}

/// A string from raw byte values, for binary vectors.
inline std::string bytes_of(std::initializer_list<int> values) {
    std::string s;
    for (int v : values) {
        s.push_back(static_cast<char>(v));
    }
    return s;
}

} // namespace ferry::test
