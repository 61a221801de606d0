#pragma once
/// LengthFieldCodec: frames that carry their own length (Netty's LengthFieldBasedFrameDecoder
/// and LengthFieldPrepender, with the same parameters).

#include <cstddef>
#include <cstdint>

#include <ferry/framing/frame_sink.hpp>

namespace ferry {

/// Where the length is and what it counts. A frame is laid out as
/// [length_field_offset header bytes][length field][the rest]; its whole size is
/// field value + length_adjustment + length_field_offset + length_field_size
/// (minus length_field_offset + length_field_size again when length_includes_header).
struct LengthFieldOptions {
    /// Largest whole frame (header included), Netty's maxFrameLength.
    std::size_t max_frame_length = 65536;
    /// Bytes before the length field.
    std::size_t length_field_offset = 0;
    /// Bytes in the length field: 1, 2, 3, 4 or 8.
    unsigned length_field_size = 2;
    /// Added to the field's value to get the bytes that follow the field (may be negative).
    std::int64_t length_adjustment = 0;
    /// The field counts the whole frame, header and field included.
    bool length_includes_header = false;
    /// Bytes removed from the front of each decoded frame (e.g. the header and field).
    std::size_t initial_bytes_to_strip = 0;
    /// Byte order of the field.
    bool big_endian = true;
};

/// Decodes frames by their length field. Recovery: a frame whose declared length exceeds
/// max_frame_length is reported (frame_too_large) and its declared bytes are skipped (Netty's
/// behaviour), so the next frame is found; a length that makes no sense (shorter than the
/// header, or shorter than initial_bytes_to_strip) is reported (bad_frame) and the header is
/// skipped. encode() writes the header as the decoder expects it around a payload whose first
/// length_field_offset bytes are the header before the field.
class LengthFieldCodec {
public:
    /// Throws ferry::Error(invalid_argument) for a field size other than 1, 2, 3, 4 or 8.
    explicit LengthFieldCodec(LengthFieldOptions options = {});

    /// Reports each complete frame; keeps a partial one. Not re-entrant.
    void decode(ByteView data, FrameSink& sink);
    /// Inserts the length field at length_field_offset of `payload` and appends the result.
    /// Throws ferry::Error(invalid_argument) when the length does not fit the field or the
    /// payload is shorter than length_field_offset.
    void encode(ByteView payload, Bytes& out) const;
    /// Drops a partial frame (and any skipping in progress).
    void reset() noexcept;
    /// Bytes held for an unfinished frame.
    std::size_t buffered() const noexcept { return buffer_.size() - consumed_; }
    /// The options.
    const LengthFieldOptions& options() const noexcept { return options_; }

private:
    /// Handles one frame at the start of `work`; returns bytes consumed, 0 if it needs more.
    std::size_t decode_one(ByteView work, FrameSink& sink);
    std::uint64_t read_field(const std::byte* field) const noexcept;

    LengthFieldOptions options_;
    std::size_t header_size_;
    Bytes buffer_;
    std::size_t consumed_ = 0;
    /// Bytes of an oversized frame still to skip.
    std::uint64_t skipping_ = 0;
};

} // namespace ferry
