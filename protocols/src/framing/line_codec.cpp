// LineCodec: delimiter search without rescanning, oversized lines skipped to the next
// delimiter, raw mode as Twisted's LineReceiver.
#include <ferry/framing/line_codec.hpp>

#include <algorithm>

#include <ferry/error.hpp>

namespace ferry {

LineCodec::LineCodec(LineOptions options) : options_(std::move(options)) {
    if (options_.delimiters.empty()) {
        throw Error(make_error_code(errc::invalid_argument), "LineCodec: no delimiter given");
    }
    for (const std::string& delimiter : options_.delimiters) {
        if (delimiter.empty()) {
            throw Error(make_error_code(errc::invalid_argument), "LineCodec: empty delimiter");
        }
        longest_delimiter_ = std::max(longest_delimiter_, delimiter.size());
        if (first_bytes_.find(delimiter.front()) == std::string::npos) {
            first_bytes_.push_back(delimiter.front());
        }
    }
    next_first_.resize(first_bytes_.size());
    searched_from_.resize(first_bytes_.size());
}

LineCodec::Match LineCodec::find_delimiter(std::string_view text, std::size_t from) noexcept {
    if (options_.delimiters.size() == 1) { // memchr-backed search for the common case
        const std::string& delimiter = options_.delimiters.front();
        return {text.find(delimiter, from), delimiter.size()};
    }
    // Several delimiters: candidates are where some delimiter's first byte occurs. Each first
    // byte's next occurrence is found with memchr and remembered for this text, so the text
    // is read about once however rare a delimiter is (searching for every delimiter from
    // every line start would cost lines x length).
    constexpr std::size_t npos = std::string_view::npos;
    for (;;) {
        std::size_t candidate = npos;
        for (std::size_t k = 0; k < first_bytes_.size(); ++k) {
            const bool known =
                next_first_[k] != npos ? next_first_[k] >= from : searched_from_[k] <= from;
            if (!known) {
                next_first_[k] = text.find(first_bytes_[k], from);
                searched_from_[k] = from;
            }
            candidate = std::min(candidate, next_first_[k]);
        }
        if (candidate == npos) {
            return {npos, 0};
        }
        std::size_t longest = 0;
        for (const std::string& delimiter : options_.delimiters) {
            if (delimiter.size() > longest &&
                text.compare(candidate, delimiter.size(), delimiter) == 0) {
                longest = delimiter.size();
            }
        }
        if (longest > 0) {
            return {candidate, longest};
        }
        from = candidate + 1; // a first byte not followed by the rest: look further
    }
}

void LineCodec::decode(ByteView data, FrameSink& sink) {
    std::string_view input = data.as_string_view();
    std::string raw;
    for (;;) {
        if (raw_) {
            if (!input.empty()) {
                handed_back_.clear();
                sink.raw_data(ByteView(input.data(), input.size()));
            }
            if (raw_ || handed_back_.empty()) {
                return;
            }
            // set_line_mode(extra) inside raw_data: split what was handed back.
            raw.assign(reinterpret_cast<const char*>(handed_back_.data()), handed_back_.size());
            handed_back_.clear();
            input = raw;
            continue;
        }
        std::string rest = decode_lines(input, sink);
        if (!raw_) {
            return;
        }
        raw = std::move(rest);
        input = raw;
    }
}

std::string LineCodec::decode_lines(std::string_view input, FrameSink& sink) {
    // Work on the caller's bytes when nothing is held (no copy for whole lines), else on the
    // held partial line with the input appended.
    const bool held = buffered() > 0;
    std::size_t search_from = 0;
    if (held) {
        append(buffer_, ByteView(input.data(), input.size()));
        search_from = scanned_;
    } else {
        buffer_.clear();
        consumed_ = 0;
    }
    const std::string_view work =
        held ? std::string_view(reinterpret_cast<const char*>(buffer_.data()) + consumed_,
                                buffer_.size() - consumed_)
             : input;
    // A new text: forget where first bytes were seen.
    std::fill(next_first_.begin(), next_first_.end(), std::string_view::npos);
    std::fill(searched_from_.begin(), searched_from_.end(), std::string_view::npos);
    std::size_t pos = 0;
    while (pos < work.size()) {
        const Match match = find_delimiter(work, std::max(pos, search_from));
        if (match.position == std::string_view::npos) {
            break;
        }
        const std::size_t end = match.position + match.length;
        const std::size_t length = match.position - pos;
        if (discarding_) {
            discarding_ = false; // the oversized line ends here; it was reported already
        } else if (length > options_.max_length) {
            sink.frame_error(
                frame_too_large("line", length, options_.max_length, "skipped to the delimiter"));
        } else {
            sink.frame_decoded(
                ByteView(work.data() + pos, options_.keep_delimiter ? end - pos : length));
        }
        pos = end;
        if (raw_) {
            std::string rest(work.substr(pos));
            buffer_.clear();
            consumed_ = scanned_ = 0;
            return rest;
        }
    }
    std::string_view remainder = work.substr(pos);
    // A delimiter may start in the last longest-1 bytes and end in the next input.
    const std::size_t tail = longest_delimiter_ - 1;
    if (!discarding_ && remainder.size() > options_.max_length + tail) {
        sink.frame_error(frame_too_large("line", remainder.size(), options_.max_length,
                                         "skipping to the next delimiter"));
        discarding_ = true;
    }
    if (discarding_ && remainder.size() > tail) {
        remainder.remove_prefix(remainder.size() - tail); // keep only a possible delimiter start
    }
    if (held) {
        consumed_ = static_cast<std::size_t>(remainder.data() -
                                             reinterpret_cast<const char*>(buffer_.data()));
        if (consumed_ == buffer_.size()) {
            buffer_.clear();
            consumed_ = 0;
        } else if (consumed_ > buffer_.size() / 2) {
            buffer_.erase(buffer_.begin(),
                          buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
            consumed_ = 0;
        }
    } else {
        append(buffer_, ByteView(remainder.data(), remainder.size()));
    }
    scanned_ = remainder.size() > tail ? remainder.size() - tail : 0;
    return {};
}

void LineCodec::encode(ByteView line, Bytes& out) const {
    if (line.size() > options_.max_length) {
        refuse_oversized_payload("line", line.size(), options_.max_length);
    }
    for (const std::string& delimiter : options_.delimiters) {
        if (line.as_string_view().find(delimiter) != std::string_view::npos) {
            // The decoder would deliver it as two lines.
            throw FrameError(make_error_code(errc::bad_frame),
                             "line: cannot encode a line that contains a delimiter", line.size());
        }
    }
    append(out, line);
    append(out, ByteView(options_.delimiters.front()));
}

void LineCodec::set_line_mode(ByteView extra) {
    raw_ = false;
    append(handed_back_, extra);
}

void LineCodec::reset() noexcept {
    buffer_.clear();
    handed_back_.clear();
    consumed_ = scanned_ = 0;
    discarding_ = raw_ = false;
}

} // namespace ferry
