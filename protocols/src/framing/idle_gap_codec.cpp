// IdleGapCodec: frames ended by silence, and the gap arithmetic for serial settings.
#include <ferry/framing/idle_gap_codec.hpp>

#include <cmath>

namespace ferry {

std::chrono::microseconds idle_gap(const SerialOptions& options, double characters) {
    return std::chrono::microseconds(
        static_cast<std::int64_t>(std::ceil(character_time(options) * characters * 1e6)));
}

std::chrono::microseconds modbus_rtu_gap(const SerialOptions& options) {
    if (options.baud_rate > 19200) {
        return std::chrono::microseconds(1750);
    }
    return idle_gap(options, 3.5);
}

void IdleGapCodec::decode(ByteView data, FrameSink& sink) {
    if (discarding_ || data.empty()) {
        return;
    }
    if (frame_.size() + data.size() > max_frame_) {
        const std::size_t size = frame_.size() + data.size();
        frame_.clear();
        discarding_ = true;
        sink.frame_error(
            frame_too_large("idle gap", size, max_frame_, "the rest is dropped up to the gap"));
        return;
    }
    append(frame_, data);
}

void IdleGapCodec::end_of_frame(FrameSink& sink) {
    discarding_ = false;
    if (frame_.empty()) {
        return;
    }
    Bytes frame;
    frame.swap(frame_); // the sink may feed more bytes from inside frame_decoded
    sink.frame_decoded(frame);
}

void IdleGapCodec::reset() noexcept {
    frame_.clear();
    discarding_ = false;
}

} // namespace ferry
