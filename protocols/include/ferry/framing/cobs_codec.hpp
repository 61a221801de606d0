#pragma once
/// CobsCodec: Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999), frames ended by 0.

#include <cstddef>

#include <ferry/framing/frame_sink.hpp>

namespace ferry {

/// COBS-encoded frames, each followed by a zero byte. Empty frames (two zeros in a row, or a
/// leading zero sent to resynchronise the receiver) are skipped. Recovery: a frame whose
/// decoded size would exceed max_frame is reported (frame_too_large) and skipped to the next
/// zero; a frame whose last block is cut short by the zero is reported (bad_frame) and dropped.
/// Either way decoding goes on with the next frame.
class CobsCodec {
public:
    /// Frames up to `max_frame` decoded bytes: what encode() accepts and decode() delivers (inside
    /// a CrcCodec that includes the CRC, so the largest payload is max_frame minus its size).
    explicit CobsCodec(std::size_t max_frame = 65536) : max_frame_(max_frame) {}

    /// Reports each complete frame, decoded. Not re-entrant.
    void decode(ByteView data, FrameSink& sink);
    /// Appends `payload` COBS-encoded and the zero delimiter. A payload over the maximum throws
    /// FrameError(frame_too_large): the decoder would refuse it.
    void encode(ByteView payload, Bytes& out) const;
    /// Drops a partial frame.
    void reset() noexcept;
    /// Decoded bytes held for an unfinished frame.
    std::size_t buffered() const noexcept { return frame_.size(); }

private:
    std::size_t max_frame_;
    Bytes frame_;
    /// Data bytes left in the current block; 0 when the next byte is a code byte.
    unsigned remaining_ = 0;
    /// The current block's code was below 0xFF: a zero follows it unless the frame ends.
    bool zero_pending_ = false;
    /// At least one byte of the current frame seen (its code byte).
    bool started_ = false;
    bool discarding_ = false;
};

} // namespace ferry
