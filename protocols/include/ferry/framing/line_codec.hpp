#pragma once
/// LineCodec: frames ended by a delimiter (Twisted's LineReceiver, including raw mode).

#include <cstddef>
#include <string>
#include <vector>

#include <ferry/framing/frame_sink.hpp>

namespace ferry {

/// How lines are delimited.
struct LineOptions {
    /// One or several delimiters; the first is what encode() appends. When two match at the same
    /// place the longer wins ("\r\n" before "\n").
    std::vector<std::string> delimiters{"\r\n"};
    /// Keep the delimiter at the end of each frame (false: strip it).
    bool keep_delimiter = false;
    /// Longest line, delimiter not counted (Twisted's MAX_LENGTH).
    std::size_t max_length = 16384;
};

/// Splits bytes into lines. A line longer than max_length is reported once (frame_too_large)
/// and skipped up to the next delimiter; the lines after it are delivered. In raw mode (set
/// from inside frame_decoded, as Twisted's setRawMode) every byte after the current line,
/// buffered or still to come, goes to raw_data until set_line_mode().
class LineCodec {
public:
    /// Throws ferry::Error(invalid_argument) for no delimiter or an empty one.
    explicit LineCodec(LineOptions options = {});

    /// Reports each complete line; keeps a partial one. Not re-entrant.
    void decode(ByteView data, FrameSink& sink);
    /// Appends `line` and the first delimiter.
    void encode(ByteView line, Bytes& out) const;
    /// Drops a partial line and leaves raw mode.
    void reset() noexcept;
    /// Bytes held for an unfinished line.
    std::size_t buffered() const noexcept { return buffer_.size() - consumed_; }

    /// From now on pass bytes to raw_data (the rest of the current input too).
    void set_raw_mode() noexcept { raw_ = true; }
    /// Back to lines (call from raw_data, as Twisted's setLineMode): `extra`, the part of the
    /// raw data the sink did not use, is split into lines first, then the bytes still to come.
    void set_line_mode(ByteView extra = {});
    /// True in raw mode.
    bool raw_mode() const noexcept { return raw_; }
    /// The options.
    const LineOptions& options() const noexcept { return options_; }

private:
    struct Match {
        std::size_t position;
        std::size_t length;
    };
    /// The earliest delimiter in `text` at or after `from` (the longest one at that place).
    Match find_delimiter(std::string_view text, std::size_t from) noexcept;
    /// Splits `input` into lines, holding what is left; returns the bytes that go to raw_data
    /// when the sink switched to raw mode (empty otherwise).
    std::string decode_lines(std::string_view input, FrameSink& sink);

    LineOptions options_;
    std::size_t longest_delimiter_ = 0;
    /// The unfinished line, from consumed_ on.
    Bytes buffer_;
    std::size_t consumed_ = 0;
    /// Bytes at the start of the unfinished line already known to hold no delimiter.
    std::size_t scanned_ = 0;
    /// Skipping an oversized line up to the next delimiter.
    bool discarding_ = false;
    bool raw_ = false;
    /// What set_line_mode() handed back, split into lines when raw_data returns.
    Bytes handed_back_;
    /// The distinct first bytes of the delimiters, and per first byte where it next occurs
    /// in the text being split (found searching from searched_from_; npos: not after it).
    std::string first_bytes_;
    std::vector<std::size_t> next_first_;
    std::vector<std::size_t> searched_from_;
};

} // namespace ferry
