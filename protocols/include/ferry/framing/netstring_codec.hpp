#pragma once
/// NetstringCodec: D. J. Bernstein's netstrings, "5:hello,".

#include <cstddef>

#include <ferry/framing/frame_sink.hpp>

namespace ferry {

/// Decodes netstrings. Recovery: a payload longer than max_length is reported
/// (frame_too_large) and its declared bytes and comma skipped; anything malformed (a non-digit
/// or leading zero in the length, a missing ':' or ',') is reported (bad_frame) and the
/// decoder starts afresh at the next byte, as nothing tells where the next netstring begins.
class NetstringCodec {
public:
    /// Payloads up to `max_length` bytes (Twisted's MAX_LENGTH is 99999).
    explicit NetstringCodec(std::size_t max_length = 99999) : max_length_(max_length) {}

    /// Reports each complete netstring's payload. Not re-entrant.
    void decode(ByteView data, FrameSink& sink);
    /// Appends "<length>:<payload>,".
    void encode(ByteView payload, Bytes& out) const;
    /// Starts afresh.
    void reset() noexcept;
    /// Bytes held for an unfinished netstring (digits or payload).
    std::size_t buffered() const noexcept { return digits_ + payload_.size(); }

private:
    enum class State { length, payload, comma, skipping };
    void fail(FrameSink& sink, const std::string& what);

    std::size_t max_length_;
    State state_ = State::length;
    std::size_t length_ = 0;
    std::size_t digits_ = 0;
    bool leading_zero_ = false;
    Bytes payload_;
    std::size_t skip_ = 0;
};

} // namespace ferry
