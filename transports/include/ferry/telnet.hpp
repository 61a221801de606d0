#pragma once
/// Telnet (RFC 854/855) as RFC 2217 uses it: an incremental decoder that separates data from
/// commands, option negotiation and subnegotiations, and the encoders for each. No I/O, so it
/// can be fed in any chunk size and fuzzed.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <ferry/bytes.hpp>

namespace ferry::telnet {

/// Interpret As Command: starts every command; doubled in data and subnegotiation values.
inline constexpr std::uint8_t iac = 255;
/// Subnegotiation begin.
inline constexpr std::uint8_t sb = 250;
/// Subnegotiation end.
inline constexpr std::uint8_t se = 240;

/// The four negotiation verbs.
enum class Verb : std::uint8_t { will_ = 251, wont = 252, do_ = 253, dont = 254 };

/// Option codes ferry negotiates.
namespace option {
/// RFC 856: 8-bit data; agreed both ways so no byte is altered.
inline constexpr std::uint8_t binary = 0;
/// RFC 857.
inline constexpr std::uint8_t echo = 1;
/// RFC 858: suppress go-ahead.
inline constexpr std::uint8_t suppress_go_ahead = 3;
/// RFC 860: DO TIMING-MARK is answered once everything sent before it has been read.
inline constexpr std::uint8_t timing_mark = 6;
/// RFC 2217's COM-PORT-OPTION.
inline constexpr std::uint8_t com_port = 44;
} // namespace option

/// What the decoder found; each called in stream order.
class Sink {
public:
    virtual ~Sink() = default;
    /// Data bytes, with IAC IAC already undoubled. The view is valid only during the call.
    virtual void telnet_data(ByteView data) = 0;
    /// WILL / WONT / DO / DONT `option`.
    virtual void telnet_negotiation(Verb verb, std::uint8_t option) = 0;
    /// IAC SB option ... IAC SE, the payload undoubled (without the option byte).
    virtual void telnet_subnegotiation(std::uint8_t option, ByteView payload) = 0;
    /// Any other two-byte command (NOP, BRK, AYT, ...): ignored unless overridden.
    virtual void telnet_command(std::uint8_t command) { (void)command; }
    /// Input that breaks the protocol (an oversized subnegotiation, IAC followed by an
    /// unknown byte inside one); the decoder has already resynchronised.
    virtual void telnet_error(std::string_view what) = 0;
};

/// An incremental decoder. Data runs are handed over without copying; only subnegotiation
/// payloads are collected, up to max_subnegotiation bytes (a longer one is dropped whole and
/// reported: decoding resumes after its IAC SE).
class Decoder {
public:
    /// The largest subnegotiation payload kept (RFC 2217's longest is a signature string).
    static constexpr std::size_t max_subnegotiation = 1024;
    /// Decodes `input`, calling `sink` for what it holds; a command split across calls is
    /// completed by the next one.
    void feed(ByteView input, Sink& sink);

private:
    enum class State : std::uint8_t { data, command, verb, sb_option, sb_data, sb_command };
    State state_ = State::data;
    Verb verb_ = Verb::will_;
    std::uint8_t sb_option_ = 0;
    bool sb_too_long_ = false;
    Bytes sb_payload_;
};

/// Appends `data` to `out` with every 0xFF doubled.
void append_escaped(ByteView data, Bytes& out);
/// Appends IAC `verb` `option`.
void append_negotiation(Verb verb, std::uint8_t option, Bytes& out);
/// Appends IAC SB `option` `payload` IAC SE, the payload escaped.
void append_subnegotiation(std::uint8_t option, ByteView payload, Bytes& out);
/// A verb's name for log lines ("WILL").
std::string_view verb_name(Verb verb) noexcept;

} // namespace ferry::telnet
