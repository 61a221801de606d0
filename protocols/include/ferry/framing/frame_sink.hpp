#pragma once
/// What every framing codec shares: the errors it reports and the sink it reports them to.

#include <concepts>
#include <cstddef>
#include <string>
#include <system_error>

#include <ferry/bytes.hpp>
#include <ferry/error.hpp>

namespace ferry {

/// Bad input a decoder found: a ferry::Error (code(), what()) with the bytes it cost. The
/// decoder has already recovered as its codec documents (skipped to the next delimiter,
/// skipped the declared length, or reset). Reported to FrameSink::frame_error; thrown by
/// FramedStream::read_frame for an oversized frame under OversizePolicy::close.
class FrameError : public Error {
public:
    /// `code` is errc::frame_too_large, errc::bad_frame or errc::checksum_mismatch; `message`
    /// names the codec and what was wrong, e.g. "COBS: frame of 300 bytes exceeds the maximum
    /// of 256 (skipping to the next zero)"; `size` the bytes dropped because of it.
    FrameError(std::error_code code, const std::string& message, std::size_t size)
        : Error(code, message), size_(size) {}
    /// Bytes dropped because of it (so far, for a frame still being skipped).
    std::size_t size() const noexcept { return size_; }

private:
    std::size_t size_;
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
/// Throws the FrameError (frame_too_large) an encoder raises for a payload of `size` bytes
/// whose frame would exceed `limit`: an encoder never produces what its own decoder refuses.
[[noreturn]] void refuse_oversized_payload(const char* codec, std::size_t size, std::size_t limit);
/// Makes the FrameError a codec reports for malformed bytes.
FrameError bad_frame(const char* codec, const std::string& what, std::size_t size);

} // namespace ferry
