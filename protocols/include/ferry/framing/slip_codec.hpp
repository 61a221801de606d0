#pragma once
/// SlipCodec: RFC 1055 Serial Line IP framing.

#include <cstddef>

#include <ferry/framing/frame_sink.hpp>

namespace ferry {

/// SLIP: frames end with END (0xC0); END and ESC (0xDB) inside a frame are sent as
/// ESC ESC_END (0xDB 0xDC) and ESC ESC_ESC (0xDB 0xDD). Empty frames are skipped (RFC 1055
/// sends an END first to flush line noise). Recovery: ESC followed by anything else is a
/// protocol violation — reported (bad_frame), the frame dropped, decoding resumes after the next
/// END (RFC 1055's sample code keeps the byte instead; a device protocol is better served by
/// the error). A frame longer than max_frame is reported (frame_too_large) and skipped to the
/// next END.
class SlipCodec {
public:
    /// Frames up to `max_frame` decoded bytes; `leading_end`: encode() starts each frame with
    /// an END too, as RFC 1055 recommends.
    explicit SlipCodec(std::size_t max_frame = 65536, bool leading_end = true)
        : max_frame_(max_frame), leading_end_(leading_end) {}

    /// Reports each complete frame, unescaped. Not re-entrant.
    void decode(ByteView data, FrameSink& sink);
    /// Appends `payload` escaped, with END after it (and before it, if leading_end).
    void encode(ByteView payload, Bytes& out) const;
    /// Drops a partial frame.
    void reset() noexcept;
    /// Decoded bytes held for an unfinished frame.
    std::size_t buffered() const noexcept { return frame_.size(); }

    /// SLIP's special bytes.
    static constexpr std::byte end{0xC0}, esc{0xDB}, esc_end{0xDC}, esc_esc{0xDD};

private:
    std::size_t max_frame_;
    bool leading_end_;
    Bytes frame_;
    bool escaped_ = false;
    bool discarding_ = false;
};

} // namespace ferry
