#pragma once
/// IdleGapCodec: frames separated by silence on the line (Modbus RTU and many binary devices).

#include <chrono>
#include <cstddef>

#include <ferry/framing/frame_sink.hpp>
#include <ferry/serial.hpp>

namespace ferry {

/// Silence lasting `characters` character times at these settings (start, data, parity and
/// stop bits over the baud rate), rounded up to a microsecond.
std::chrono::microseconds idle_gap(const SerialOptions& options, double characters);

/// Modbus RTU's end of frame: 3.5 character times, but a fixed 1.75 ms above 19200 baud
/// (Modbus over serial line, section 2.5.1.1).
std::chrono::microseconds modbus_rtu_gap(const SerialOptions& options);

/// Collects bytes until the line has been silent for idle_gap(); end_of_frame() then reports
/// them as one frame. The codec has no clock: FramedProtocol calls end_of_frame() from a loop
/// timer restarted by every read (the loop's timers count whole milliseconds, so a 1.75 ms gap
/// is waited for as 2 ms). Recovery: a frame longer than max_frame is reported
/// (frame_too_large) and the rest of it, up to the next gap, dropped.
class IdleGapCodec {
public:
    /// A frame ends after `gap` of silence; at most `max_frame` bytes (Modbus RTU: 256).
    explicit IdleGapCodec(std::chrono::microseconds gap, std::size_t max_frame = 256)
        : gap_(gap), max_frame_(max_frame) {}

    /// Adds bytes to the current frame. Not re-entrant.
    void decode(ByteView data, FrameSink& sink);
    /// The line was silent for idle_gap(): reports the frame collected, if any.
    void end_of_frame(FrameSink& sink);
    /// Appends `payload` as is (the sender keeps the gap between frames).
    void encode(ByteView payload, Bytes& out) const {
        if (payload.size() > max_frame_) {
            refuse_oversized_payload("idle gap", payload.size(), max_frame_);
        }
        append(out, payload);
    }
    /// Drops a partial frame.
    void reset() noexcept;
    /// Bytes of the frame being collected.
    std::size_t buffered() const noexcept { return frame_.size(); }
    /// The silence that ends a frame.
    std::chrono::microseconds idle_gap() const noexcept { return gap_; }

private:
    std::chrono::microseconds gap_;
    std::size_t max_frame_;
    Bytes frame_;
    bool discarding_ = false;
};

} // namespace ferry
