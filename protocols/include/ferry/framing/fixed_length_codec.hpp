#pragma once
/// FixedLengthCodec: every frame has the same size.

#include <cstddef>

#include <ferry/framing/frame_sink.hpp>

namespace ferry {

/// Splits bytes into frames of `frame_length` bytes. There is no bad input: every byte
/// belongs to a frame; encode() refuses a payload of another size.
class FixedLengthCodec {
public:
    /// Throws ferry::Error(invalid_argument) for a length of 0.
    explicit FixedLengthCodec(std::size_t frame_length);

    /// Reports each complete frame. Not re-entrant.
    void decode(ByteView data, FrameSink& sink);
    /// Appends `payload`; throws ferry::Error(invalid_argument) unless it is frame_length long.
    void encode(ByteView payload, Bytes& out) const;
    /// Drops a partial frame.
    void reset() noexcept { buffer_.clear(); }
    /// Bytes held for an unfinished frame.
    std::size_t buffered() const noexcept { return buffer_.size(); }

private:
    std::size_t frame_length_;
    Bytes buffer_;
};

} // namespace ferry
