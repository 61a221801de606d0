// FixedLengthCodec: whole frames straight from the caller's bytes, a partial one held.
#include <ferry/framing/fixed_length_codec.hpp>

#include <algorithm>
#include <string>

#include <ferry/error.hpp>

namespace ferry {

FixedLengthCodec::FixedLengthCodec(std::size_t frame_length) : frame_length_(frame_length) {
    if (frame_length == 0) {
        throw Error(make_error_code(errc::invalid_argument),
                    "FixedLengthCodec: frame length must be at least 1");
    }
}

void FixedLengthCodec::decode(ByteView data, FrameSink& sink) {
    if (!buffer_.empty()) {
        const std::size_t n = std::min(frame_length_ - buffer_.size(), data.size());
        append(buffer_, data.subview(0, n));
        data = data.subview(n);
        if (buffer_.size() < frame_length_) {
            return;
        }
        sink.frame_decoded(buffer_);
        buffer_.clear();
    }
    while (data.size() >= frame_length_) {
        sink.frame_decoded(data.subview(0, frame_length_));
        data = data.subview(frame_length_);
    }
    append(buffer_, data);
}

void FixedLengthCodec::encode(ByteView payload, Bytes& out) const {
    if (payload.size() != frame_length_) {
        throw Error(make_error_code(errc::invalid_argument),
                    "FixedLengthCodec: payload of " + std::to_string(payload.size()) +
                        " bytes, frames are " + std::to_string(frame_length_));
    }
    append(out, payload);
}

} // namespace ferry
