#pragma once
/// What every framing codec shares: the errors it reports and the sink it reports them to.

#include <concepts>
#include <cstddef>
#include <string>
#include <system_error>

#include <ferry/bytes.hpp>

namespace ferry {

/// Bad input a decoder found. The decoder has already recovered as its codec documents
/// (skipped to the next delimiter, skipped the declared length, or reset).
struct FrameError {
    /// errc::frame_too_large, errc::bad_frame or errc::checksum_mismatch.
    std::error_code code;
    /// Names the codec and what was wrong, e.g. "COBS: frame exceeds the maximum of 256 bytes".
    std::string message;
    /// Bytes dropped because of it (so far, for a frame still being skipped).
    std::size_t size = 0;
};

/// Receives what a decoder finds, synchronously, inside decode().
class FrameSink {
public:
    virtual ~FrameSink() = default;
    /// A whole frame. The view is valid only during the call.
    virtual void frame_decoded(ByteView frame) = 0;
    /// Bad input, already recovered from.
    virtual void frame_error(const FrameError& error) = 0;
    /// Bytes passed through unframed (LineCodec's raw mode). The default throws: only sinks
    /// that switch a LineCodec to raw mode receive these.
    virtual void raw_data(ByteView data);
};

/// A pure, incremental codec: decode() takes bytes in any chunking and reports whole frames;
/// encode() appends one framed payload to a buffer. No I/O, no clock.
template <class C>
concept FrameCodec = requires(C codec, const C& const_codec, ByteView bytes, FrameSink& sink,
                              Bytes& out) {
    {codec.decode(bytes, sink)};
    {const_codec.encode(bytes, out)};
    {codec.reset()};
    { const_codec.buffered() } -> std::convertible_to<std::size_t>;
};

/// Makes the FrameError a codec reports when a frame exceeds its maximum.
FrameError frame_too_large(const char* codec, std::size_t size, std::size_t limit,
                           const char* recovery);
/// Makes the FrameError a codec reports for malformed bytes.
FrameError bad_frame(const char* codec, const std::string& what, std::size_t size);

} // namespace ferry
