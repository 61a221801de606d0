// CobsCodec: streaming COBS decode (a frame may arrive a byte at a time) with data bytes copied
// in runs, and the reference encoder (a new block after 254 bytes only if more input follows,
// so the published vectors come out byte for byte).
#include <ferry/framing/cobs_codec.hpp>

#include <algorithm>
#include <cstring>
#include <string>

namespace ferry {

void CobsCodec::reset() noexcept {
    frame_.clear();
    remaining_ = 0;
    zero_pending_ = started_ = discarding_ = false;
}

void CobsCodec::decode(ByteView data, FrameSink& sink) {
    const std::byte* p = data.data();
    const std::byte* const end = p + data.size();
    const auto too_large = [&](std::size_t size) {
        reset();
        discarding_ = true;
        sink.frame_error(frame_too_large("COBS", size, max_frame_, "skipping to the next zero"));
    };
    while (p < end) {
        if (discarding_) {
            const void* zero = std::memchr(p, 0, static_cast<std::size_t>(end - p));
            if (zero == nullptr) {
                return;
            }
            p = static_cast<const std::byte*>(zero) + 1;
            reset();
            continue;
        }
        if (*p == std::byte{0}) {
            ++p;
            if (!started_) {
                continue; // an empty frame: a resynchronising zero
            }
            if (remaining_ > 0) {
                const std::size_t dropped = frame_.size();
                reset();
                sink.frame_error(bad_frame("COBS",
                                           "frame ends inside a block (" + std::to_string(dropped) +
                                               " bytes dropped)",
                                           dropped));
                continue;
            }
            sink.frame_decoded(frame_);
            reset();
            continue;
        }
        if (remaining_ == 0) {
            // A code byte: the previous block's implied zero is real, since more follows.
            if (zero_pending_) {
                if (frame_.size() == max_frame_) {
                    too_large(frame_.size() + 1);
                    continue;
                }
                frame_.push_back(std::byte{0});
            }
            const auto code = static_cast<unsigned>(*p++);
            started_ = true;
            remaining_ = code - 1;
            zero_pending_ = code != 0xFF;
            continue;
        }
        // Data bytes of the current block, up to its end or a zero (which ends the frame).
        std::size_t n = std::min<std::size_t>(remaining_, static_cast<std::size_t>(end - p));
        if (const void* zero = std::memchr(p, 0, n)) {
            n = static_cast<std::size_t>(static_cast<const std::byte*>(zero) - p);
        }
        if (frame_.size() + n > max_frame_) {
            too_large(frame_.size() + n);
            p += n;
            continue;
        }
        append(frame_, ByteView(p, n));
        p += n;
        remaining_ -= static_cast<unsigned>(n);
    }
}

void CobsCodec::encode(ByteView payload, Bytes& out) const {
    if (payload.size() > max_frame_) {
        refuse_oversized_payload("COBS", payload.size(), max_frame_);
    }
    out.reserve(out.size() + payload.size() + payload.size() / 254 + 2);
    std::size_t code_at = out.size();
    out.push_back(std::byte{0}); // the first block's code, filled in below
    unsigned code = 1;
    const std::byte* p = payload.data();
    const std::byte* const end = p + payload.size();
    while (p < end) {
        if (*p == std::byte{0}) {
            out[code_at] = static_cast<std::byte>(code);
            code_at = out.size();
            out.push_back(std::byte{0});
            code = 1;
            ++p;
            continue;
        }
        out.push_back(*p++);
        if (++code == 0xFF && p < end) {
            out[code_at] = std::byte{0xFF};
            code_at = out.size();
            out.push_back(std::byte{0});
            code = 1;
        }
    }
    out[code_at] = static_cast<std::byte>(code);
    out.push_back(std::byte{0}); // the delimiter
}

} // namespace ferry
