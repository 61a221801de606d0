#pragma once
/// CrcCodec: any codec with a CRC appended to each payload, checked and stripped on decode.

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include <ferry/crc.hpp>
#include <ferry/error.hpp>
#include <ferry/framing/frame_sink.hpp>

namespace ferry {

/// Byte order of a CRC in a frame.
enum class CrcOrder {
    /// Low byte first for reflected CRCs (Modbus RTU), high byte first for the others (XMODEM).
    natural,
    /// Low byte first.
    little_endian,
    /// High byte first.
    big_endian,
};

/// Wraps `Inner`: encode() appends the CRC of the payload before framing it; decode() checks
/// each frame's trailing CRC and strips it. A mismatch, or a frame too short to hold a CRC, is
/// reported (checksum_mismatch / bad_frame), counted, and the frame dropped; the stream goes
/// on. The Crc must outlive the codec (the catalogue's crc:: functions return statics).
template <FrameCodec Inner>
class CrcCodec {
public:
    /// `inner` frames; `crc` checks.
    CrcCodec(Inner inner, const Crc& crc, CrcOrder order = CrcOrder::natural)
        : inner_(std::move(inner)), crc_(&crc),
          little_endian_(order == CrcOrder::little_endian ||
                         (order == CrcOrder::natural && crc.parameters().reflect_in)) {}

    /// Reports each frame whose CRC matches, without the CRC. Not re-entrant.
    void decode(ByteView data, FrameSink& sink) {
        Checker checker{*this, sink};
        inner_.decode(data, checker);
    }
    /// Frames `payload` followed by its CRC.
    void encode(ByteView payload, Bytes& out) const {
        Bytes with_crc;
        with_crc.reserve(payload.size() + crc_->size());
        append(with_crc, payload);
        put_crc(crc_->compute(payload), with_crc);
        try {
            inner_.encode(with_crc, out);
        } catch (const FrameError& e) {
            // Say it in the caller's terms: the CRC counts towards the inner maximum.
            throw FrameError(e.code(),
                             std::string(e.what()) + "; the payload of " +
                                 std::to_string(payload.size()) + " bytes plus its " +
                                 std::to_string(crc_->size()) + "-byte CRC count towards it",
                             payload.size());
        }
    }
    /// Drops a partial frame.
    void reset() noexcept { inner_.reset(); }
    /// Bytes the inner codec holds.
    std::size_t buffered() const noexcept { return inner_.buffered(); }

    /// Frames dropped for a bad CRC since construction.
    std::uint64_t crc_errors() const noexcept { return crc_errors_; }
    /// The inner codec (e.g. to set a LineCodec's mode).
    Inner& inner() noexcept { return inner_; }

private:
    /// Checks frames from the inner codec on their way to the user's sink.
    struct Checker final : FrameSink {
        CrcCodec& codec;
        FrameSink& sink;
        Checker(CrcCodec& c, FrameSink& s) : codec(c), sink(s) {}
        void frame_decoded(ByteView frame) override {
            const std::size_t n = codec.crc_->size();
            if (frame.size() < n) {
                ++codec.crc_errors_;
                sink.frame_error({make_error_code(errc::bad_frame),
                                  std::string(codec.crc_->parameters().name) + ": frame of " +
                                      std::to_string(frame.size()) +
                                      " bytes is too short to hold its CRC; dropped",
                                  frame.size()});
                return;
            }
            const ByteView payload = frame.subview(0, frame.size() - n);
            const std::uint32_t expected = codec.get_crc(frame.subview(frame.size() - n, n));
            const std::uint32_t actual = codec.crc_->compute(payload);
            if (expected != actual) {
                ++codec.crc_errors_;
                sink.frame_error({make_error_code(errc::checksum_mismatch),
                                  std::string(codec.crc_->parameters().name) +
                                      " mismatch: frame says 0x" + hex(expected) +
                                      ", contents give 0x" + hex(actual) + "; frame of " +
                                      std::to_string(frame.size()) + " bytes dropped",
                                  frame.size()});
                return;
            }
            sink.frame_decoded(payload);
        }
        void frame_error(const FrameError& error) override { sink.frame_error(error); }
        void raw_data(ByteView data) override { sink.raw_data(data); }
    };

    static std::string hex(std::uint32_t value) {
        static const char digits[] = "0123456789ABCDEF";
        std::string text;
        do {
            text.insert(text.begin(), digits[value & 0xF]);
            value >>= 4;
        } while (value != 0);
        return text;
    }
    void put_crc(std::uint32_t value, Bytes& out) const {
        const std::size_t n = crc_->size();
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t shift = 8 * (little_endian_ ? i : n - 1 - i);
            out.push_back(static_cast<std::byte>((value >> shift) & 0xFF));
        }
    }
    std::uint32_t get_crc(ByteView bytes) const noexcept {
        std::uint32_t value = 0;
        const std::size_t n = bytes.size();
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t shift = 8 * (little_endian_ ? i : n - 1 - i);
            value |= static_cast<std::uint32_t>(bytes[i]) << shift;
        }
        return value;
    }

    Inner inner_;
    const Crc* crc_;
    bool little_endian_;
    std::uint64_t crc_errors_ = 0;
};

} // namespace ferry
