// NetstringCodec: a byte-driven state machine; payloads copied in runs.
#include <ferry/framing/netstring_codec.hpp>

#include <algorithm>
#include <string>

namespace ferry {

namespace {
/// More digits than any sane length has: a stream of digits is garbage, not a length.
constexpr std::size_t max_digits = 19;
} // namespace

void NetstringCodec::fail(FrameSink& sink, const std::string& what) {
    const std::size_t dropped = buffered() + 1;
    reset();
    sink.frame_error(bad_frame("netstring", what + "; starting afresh", dropped));
}

void NetstringCodec::decode(ByteView data, FrameSink& sink) {
    const std::byte* p = data.data();
    const std::byte* const end = p + data.size();
    while (p < end) {
        switch (state_) {
        case State::length: {
            const char c = static_cast<char>(*p++);
            if (c >= '0' && c <= '9') {
                if (leading_zero_) {
                    fail(sink, "length has a leading zero");
                } else if (digits_ == max_digits) {
                    fail(sink, "length has more than " + std::to_string(max_digits) + " digits");
                } else {
                    leading_zero_ = digits_ == 0 && c == '0';
                    length_ = length_ * 10 + static_cast<std::size_t>(c - '0');
                    ++digits_;
                }
            } else if (c == ':' && digits_ > 0) {
                digits_ = 0;
                leading_zero_ = false;
                if (length_ > max_length_) {
                    sink.frame_error(frame_too_large("netstring", length_, max_length_,
                                                     "its bytes are skipped"));
                    skip_ = length_ + 1; // the payload and its comma
                    state_ = State::skipping;
                } else {
                    state_ = length_ == 0 ? State::comma : State::payload;
                }
            } else {
                fail(sink, c == ':' ? "length is missing" : "expected a digit or ':'");
            }
            break;
        }
        case State::payload: {
            const std::size_t n =
                std::min<std::size_t>(length_ - payload_.size(), static_cast<std::size_t>(end - p));
            append(payload_, ByteView(p, n));
            p += n;
            if (payload_.size() == length_) {
                state_ = State::comma;
            }
            break;
        }
        case State::comma:
            if (*p++ != std::byte{','}) {
                fail(sink,
                     "payload of " + std::to_string(length_) + " bytes is not followed by ','");
                break;
            }
            sink.frame_decoded(payload_);
            reset();
            break;
        case State::skipping: {
            const std::size_t n = std::min<std::size_t>(skip_, static_cast<std::size_t>(end - p));
            p += n;
            skip_ -= n;
            if (skip_ == 0) {
                reset();
            }
            break;
        }
        }
    }
}

void NetstringCodec::encode(ByteView payload, Bytes& out) const {
    if (payload.size() > max_length_) {
        refuse_oversized_payload("netstring", payload.size(), max_length_);
    }
    const std::string length = std::to_string(payload.size()) + ":";
    append(out, ByteView(length));
    append(out, payload);
    out.push_back(std::byte{','});
}

void NetstringCodec::reset() noexcept {
    state_ = State::length;
    length_ = digits_ = skip_ = 0;
    leading_zero_ = false;
    payload_.clear();
}

} // namespace ferry
