// SlipCodec: RFC 1055 framing, with runs of ordinary bytes copied at once.
#include <ferry/framing/slip_codec.hpp>

#include <cstdio>
#include <string>

namespace ferry {

void SlipCodec::reset() noexcept {
    frame_.clear();
    escaped_ = discarding_ = false;
}

void SlipCodec::decode(ByteView data, FrameSink& sink) {
    const std::byte* p = data.data();
    const std::byte* const end = p + data.size();
    const auto too_large = [&](std::size_t size) {
        reset();
        discarding_ = true;
        sink.frame_error(frame_too_large("SLIP", size, max_frame_, "skipping to the next END"));
    };
    while (p < end) {
        if (discarding_) {
            while (p < end && *p != SlipCodec::end) {
                ++p;
            }
            if (p == end) {
                return;
            }
            ++p;
            reset();
            continue;
        }
        if (escaped_) {
            const std::byte b = *p++;
            escaped_ = false;
            if (b == esc_end || b == esc_esc) {
                if (frame_.size() == max_frame_) {
                    too_large(frame_.size() + 1);
                    continue;
                }
                frame_.push_back(b == esc_end ? SlipCodec::end : esc);
                continue;
            }
            char what[80];
            std::snprintf(what, sizeof what, "ESC followed by 0x%02X (%zu bytes dropped)",
                          static_cast<unsigned>(b), frame_.size());
            const std::size_t dropped = frame_.size();
            reset();
            // ESC END: the END still ends the frame, so the next one starts in step.
            discarding_ = b != SlipCodec::end;
            sink.frame_error(bad_frame("SLIP", what, dropped));
            continue;
        }
        const std::byte* run = p;
        while (p < end && *p != SlipCodec::end && *p != esc) {
            ++p;
        }
        const auto length = static_cast<std::size_t>(p - run);
        if (frame_.size() + length > max_frame_) {
            too_large(frame_.size() + length);
            continue; // the discarding branch finds the END this run stopped at
        }
        append(frame_, ByteView(run, length));
        if (p == end) {
            return;
        }
        if (*p++ == esc) {
            escaped_ = true;
            continue;
        }
        if (!frame_.empty()) { // END: an empty frame is line noise being flushed
            sink.frame_decoded(frame_);
            frame_.clear();
        }
    }
}

void SlipCodec::encode(ByteView payload, Bytes& out) const {
    if (payload.size() > max_frame_) {
        refuse_oversized_payload("SLIP", payload.size(), max_frame_);
    }
    out.reserve(out.size() + payload.size() + payload.size() / 8 + 2);
    if (leading_end_) {
        out.push_back(SlipCodec::end);
    }
    for (std::byte b : payload) {
        if (b == SlipCodec::end) {
            out.push_back(esc);
            out.push_back(esc_end);
        } else if (b == esc) {
            out.push_back(esc);
            out.push_back(esc_esc);
        } else {
            out.push_back(b);
        }
    }
    out.push_back(SlipCodec::end);
}

} // namespace ferry
