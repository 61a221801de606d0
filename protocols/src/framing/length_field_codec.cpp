// LengthFieldCodec: Netty's length-field framing, decoding straight from the caller's bytes
// when a whole frame is there.
#include <ferry/framing/length_field_codec.hpp>

#include <algorithm>
#include <limits>
#include <string>

#include <ferry/error.hpp>

namespace ferry {

LengthFieldCodec::LengthFieldCodec(LengthFieldOptions options)
    : options_(options), header_size_(options.length_field_offset + options.length_field_size) {
    const unsigned size = options.length_field_size;
    if (size != 1 && size != 2 && size != 3 && size != 4 && size != 8) {
        throw Error(make_error_code(errc::invalid_argument),
                    "LengthFieldCodec: length_field_size " + std::to_string(size) +
                        " (it must be 1, 2, 3, 4 or 8)");
    }
}

std::uint64_t LengthFieldCodec::read_field(const std::byte* field) const noexcept {
    std::uint64_t value = 0;
    const unsigned n = options_.length_field_size;
    for (unsigned i = 0; i < n; ++i) {
        const auto byte = static_cast<std::uint64_t>(field[options_.big_endian ? i : n - 1 - i]);
        value = (value << 8) | byte;
    }
    return value;
}

std::size_t LengthFieldCodec::decode_one(ByteView work, FrameSink& sink) {
    if (work.size() < header_size_) {
        return 0;
    }
    const std::uint64_t field = read_field(work.data() + options_.length_field_offset);
    // Whole frame size, in signed arithmetic: a hostile field can be 2^64-1, so a field too
    // large to add to safely is refused as nonsense before any addition.
    std::int64_t adjustment = options_.length_adjustment;
    if (options_.length_includes_header) {
        adjustment -= static_cast<std::int64_t>(header_size_);
    }
    const auto header = static_cast<std::int64_t>(header_size_);
    const bool sane =
        field <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 2);
    const std::int64_t frame_length =
        sane ? static_cast<std::int64_t>(field) + adjustment + header : -1;
    if (!sane || frame_length < header) {
        sink.frame_error(bad_frame("length field",
                                   "length field " + std::to_string(field) +
                                       " gives a frame shorter than its header; header skipped",
                                   header_size_));
        return header_size_;
    }
    const auto length = static_cast<std::uint64_t>(frame_length);
    if (length > options_.max_frame_length) {
        sink.frame_error(frame_too_large(
            "length field", static_cast<std::size_t>(std::min<std::uint64_t>(length, SIZE_MAX)),
            options_.max_frame_length, "its bytes are skipped"));
        const std::size_t now = std::min<std::uint64_t>(length, work.size());
        skipping_ = length - now;
        return now;
    }
    if (work.size() < length) {
        return 0;
    }
    if (options_.initial_bytes_to_strip > length) {
        sink.frame_error(bad_frame("length field",
                                   "frame of " + std::to_string(length) +
                                       " bytes is shorter than initial_bytes_to_strip " +
                                       std::to_string(options_.initial_bytes_to_strip) +
                                       "; frame skipped",
                                   static_cast<std::size_t>(length)));
        return static_cast<std::size_t>(length);
    }
    sink.frame_decoded(
        work.subview(options_.initial_bytes_to_strip,
                     static_cast<std::size_t>(length) - options_.initial_bytes_to_strip));
    return static_cast<std::size_t>(length);
}

void LengthFieldCodec::decode(ByteView data, FrameSink& sink) {
    if (skipping_ > 0) {
        const std::size_t skip = std::min<std::uint64_t>(skipping_, data.size());
        skipping_ -= skip;
        data = data.subview(skip);
    }
    // Whole frames straight from the caller's bytes while nothing is held.
    if (buffered() == 0) {
        buffer_.clear();
        consumed_ = 0;
        while (!data.empty()) {
            const std::size_t used = decode_one(data, sink);
            if (used == 0) {
                append(buffer_, data);
                return;
            }
            data = data.subview(used);
            if (skipping_ > 0) {
                return; // the oversized frame ran past this input
            }
        }
        return;
    }
    // A partial frame is held: complete it from the input, then go on without copying.
    append(buffer_, data);
    for (;;) {
        const ByteView work(buffer_.data() + consumed_, buffer_.size() - consumed_);
        if (work.empty()) {
            break;
        }
        const std::size_t used = decode_one(work, sink);
        if (used == 0) {
            break;
        }
        consumed_ += used;
        if (skipping_ > 0) {
            // decode_one skipped only what was held; drop the rest of the held bytes too.
            buffer_.clear();
            consumed_ = 0;
            return;
        }
    }
    if (consumed_ == buffer_.size()) {
        buffer_.clear();
        consumed_ = 0;
    } else if (consumed_ > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
        consumed_ = 0;
    }
}

void LengthFieldCodec::encode(ByteView payload, Bytes& out) const {
    const std::size_t offset = options_.length_field_offset;
    if (payload.size() < offset) {
        throw Error(make_error_code(errc::invalid_argument),
                    "LengthFieldCodec: payload of " + std::to_string(payload.size()) +
                        " bytes is shorter than length_field_offset " + std::to_string(offset));
    }
    // Inverse of decode: frame = payload + field, and frame = value + adjustment + header.
    std::int64_t value = static_cast<std::int64_t>(payload.size()) +
                         static_cast<std::int64_t>(options_.length_field_size) -
                         options_.length_adjustment - static_cast<std::int64_t>(header_size_);
    if (options_.length_includes_header) {
        value += static_cast<std::int64_t>(header_size_);
    }
    const unsigned n = options_.length_field_size;
    if (payload.size() + n > options_.max_frame_length) {
        refuse_oversized_payload("length field", payload.size() + n, options_.max_frame_length);
    }
    const std::uint64_t limit =
        n == 8 ? std::numeric_limits<std::uint64_t>::max() : (std::uint64_t{1} << (8 * n)) - 1;
    if (value < 0 || static_cast<std::uint64_t>(value) > limit) {
        throw Error(make_error_code(errc::invalid_argument),
                    "LengthFieldCodec: length " + std::to_string(value) + " does not fit a " +
                        std::to_string(n) + "-byte length field");
    }
    append(out, payload.subview(0, offset));
    for (unsigned i = 0; i < n; ++i) {
        const unsigned shift = 8 * (options_.big_endian ? n - 1 - i : i);
        out.push_back(static_cast<std::byte>((static_cast<std::uint64_t>(value) >> shift) & 0xFF));
    }
    append(out, payload.subview(offset));
}

void LengthFieldCodec::reset() noexcept {
    buffer_.clear();
    consumed_ = 0;
    skipping_ = 0;
}

} // namespace ferry
