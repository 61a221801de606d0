// StreamReader: a bounded buffer with count, separator and EOF reads, asyncio's semantics.
#include <algorithm>
#include <cstring>
#include <tuple>

#include <ferry/detail/loop_access.hpp>
#include <ferry/detail/task_runtime.hpp>
#include <ferry/streams.hpp>

#include <ferry/detail/reader_writer_state.hpp>

namespace ferry {

IncompleteReadError::IncompleteReadError(Bytes partial_bytes, std::size_t expected_bytes)
    : Error(make_error_code(errc::closed),
            std::to_string(partial_bytes.size()) + " bytes read on a total of " +
                (expected_bytes == 0 ? std::string("undefined") : std::to_string(expected_bytes)) +
                " expected bytes"),
      partial(std::move(partial_bytes)), expected(expected_bytes) {}

LimitOverrunError::LimitOverrunError(const std::string& what, std::size_t consumed_bytes)
    : Error(make_error_code(errc::limit_overrun), what), consumed(consumed_bytes) {}

namespace detail {
namespace {

/// Where `needle` first occurs in `haystack` at or after `from` (npos when nowhere). One byte,
/// the usual separator, is a memchr.
std::size_t find_one(std::string_view haystack, std::string_view needle, std::size_t from) {
    if (needle.size() != 1) {
        return haystack.find(needle, from);
    }
    if (from >= haystack.size()) {
        return std::string_view::npos;
    }
    const void* hit = std::memchr(haystack.data() + from, needle[0], haystack.size() - from);
    return hit == nullptr
               ? std::string_view::npos
               : static_cast<std::size_t>(static_cast<const char*>(hit) - haystack.data());
}

/// readline's separator, shared by every readline.
const Separators& newline() {
    static const Separators separators(ByteView("\n"));
    return separators;
}

} // namespace

Separators::Separators(ByteView one) {
    if (one.size() <= inline_capacity) {
        std::copy(one.begin(), one.end(), inline_.begin());
        inline_size_ = static_cast<std::uint8_t>(one.size());
        one_inline_ = true;
    } else {
        several_.emplace_back(one.begin(), one.end());
    }
}

void Separators::check() const {
    if (one_inline_) {
        if (inline_size_ == 0) {
            throw Error(make_error_code(errc::invalid_argument),
                        "readuntil: a separator must not be empty");
        }
        return;
    }
    if (several_.empty()) {
        throw Error(make_error_code(errc::invalid_argument), "readuntil: no separator given");
    }
    for (const Bytes& separator : several_) {
        if (separator.empty()) {
            throw Error(make_error_code(errc::invalid_argument),
                        "readuntil: a separator must not be empty");
        }
    }
}

std::pair<std::size_t, std::size_t> Separators::find_shortest(ByteView data,
                                                              std::size_t from) const {
    const std::string_view haystack = data.as_string_view();
    if (one_inline_) {
        const std::string_view needle(reinterpret_cast<const char*>(inline_.data()), inline_size_);
        const std::size_t at = find_one(haystack, needle, from);
        if (at == std::string_view::npos) {
            return {std::string_view::npos, std::string_view::npos};
        }
        return {at, at + needle.size()};
    }
    std::size_t best_end = std::string_view::npos;
    std::size_t best_start = std::string_view::npos;
    for (const Bytes& separator : several_) {
        const std::string_view needle = ByteView(separator).as_string_view();
        const std::size_t at = find_one(haystack, needle, from);
        if (at != std::string_view::npos && at + needle.size() < best_end) {
            best_end = at + needle.size();
            best_start = at;
        }
    }
    return {best_start, best_end};
}

std::size_t Separators::next_search_from(std::size_t size) const noexcept {
    std::size_t longest = inline_size_;
    for (const Bytes& separator : several_) {
        longest = std::max(longest, separator.size());
    }
    return size + 1 > longest ? size + 1 - longest : 0;
}

bool ReaderState::finds_wanted_separator() {
    const auto [at, end] = wanted_separators->find_shortest(view(), searched_from);
    if (at != std::string_view::npos) {
        searched_from = at; // for the reader, which takes it without searching again
        match_end = end;
        return true;
    }
    searched_from = wanted_separators->next_search_from(size());
    return searched_from > limit; // the read ends with LimitOverrunError
}

} // namespace detail

StreamReader::StreamReader(Loop& loop, std::size_t limit)
    : state_(std::make_shared<detail::ReaderState>(loop, limit)) {
    if (limit == 0) {
        throw Error(make_error_code(errc::invalid_argument), "StreamReader: limit must be > 0");
    }
}

Task<Bytes> StreamReader::read_until_eof(StreamReader reader) {
    Bytes all;
    for (;;) {
        Bytes block;
        try {
            block = co_await reader.read(static_cast<std::ptrdiff_t>(reader.limit()));
        } catch (const CancelledError&) {
            // Cancelled or timed out: what was gathered goes back, for the next read.
            reader.state_->unread(all);
            throw;
        }
        if (block.empty()) {
            co_return all;
        }
        append(all, block);
    }
}

bool StreamReader::ReadAwaiter::ready_otherwise() {
    if (n_ < 0) {
        // Until EOF is a loop of reads: it runs as a Task, awaited through this awaiter.
        until_eof_ = read_until_eof(*reader_);
        return until_eof_.operator co_await().await_ready();
    }
    detail::ReaderState& s = *reader_->state_;
    if (n_ == 0 || s.size() > 0 || s.eof || s.error) {
        return true;
    }
    if (s.reading) {
        throw Error(make_error_code(errc::invalid_argument),
                    "read() called while another coroutine is already waiting for data");
    }
    // A reader that needs more than the buffer holds must let the transport fill it.
    if (s.paused && s.transport != nullptr) {
        s.paused = false;
        s.transport->resume_reading();
    }
    return false;
}

bool StreamReader::ReadAwaiter::suspend_until_eof(std::coroutine_handle<> awaiting) noexcept {
    return until_eof_.operator co_await().await_suspend(awaiting);
}

Bytes StreamReader::ReadAwaiter::resume_otherwise() {
    if (n_ < 0) {
        return until_eof_.operator co_await().await_resume();
    }
    throw_if_cancelled();
    detail::ReaderState& s = *reader_->state_;
    if (n_ == 0) {
        return Bytes{};
    }
    if (s.error && !s.eof) {
        std::rethrow_exception(s.error);
    }
    return Bytes{}; // EOF (the queue is woken only with data, EOF or an error)
}

Task<Bytes> StreamReader::ReadAwaiter::as_task(StreamReader reader, ReadAwaiter read) {
    read.reader_ = &reader; // the copy in this frame, which lives as long as the read
    co_return co_await read;
}

StreamReader::ReadAwaiter::operator Task<Bytes>() && {
    if (n_ < 0) {
        return read_until_eof(*reader_);
    }
    return as_task(*reader_, std::move(*this));
}

StreamReader::ChunkAwaiter::ChunkAwaiter(ChunkAwaiter&& other) noexcept
    : Waiter(std::move(other)), reader_(other.reader_), separators_(std::move(other.separators_)),
      size_(other.size_), kind_(other.kind_) {}

const char* StreamReader::ChunkAwaiter::name() const noexcept {
    switch (kind_) {
    case Kind::exactly:
        return "readexactly";
    case Kind::until:
        return "readuntil";
    case Kind::line:
        break;
    }
    return "readline";
}

inline const detail::Separators* StreamReader::ChunkAwaiter::separators() const noexcept {
    switch (kind_) {
    case Kind::exactly:
        return nullptr;
    case Kind::until:
        return &separators_;
    case Kind::line:
        break;
    }
    return &detail::newline();
}

bool StreamReader::ChunkAwaiter::await_ready() {
    detail::ReaderState& s = *reader_->state_;
    if (kind_ == Kind::until) {
        separators_.check();
    }
    if (s.reading) {
        throw Error(make_error_code(errc::invalid_argument),
                    std::string(name()) +
                        "() called while another coroutine is already waiting for data");
    }
    s.wanted_size = kind_ == Kind::exactly ? size_ : 1;
    s.wanted_separators = separators();
    if (s.eof || s.error || s.answers_parked_read()) {
        return true;
    }
    // A reader that needs more than the buffer holds must let the transport fill it.
    if (s.paused && s.transport != nullptr) {
        s.paused = false;
        s.transport->resume_reading();
    }
    return false;
}

Bytes StreamReader::ChunkAwaiter::await_resume() {
    detail::ReaderState& s = *reader_->state_;
    if (parked_) {
        s.reading = false;
        parked_ = false;
    }
    const std::size_t searched_from = s.searched_from;
    const std::size_t match_end = s.match_end;
    s.forget_wanted();
    throw_if_cancelled(); // a cancelled read consumes nothing
    return kind_ == Kind::exactly ? take_exactly(s) : take_until(s, searched_from, match_end);
}

Bytes StreamReader::ChunkAwaiter::take_exactly(detail::ReaderState& s) const {
    if (s.size() >= size_) {
        return s.take(size_);
    }
    if (s.error) {
        std::rethrow_exception(s.error); // the buffered bytes stay readable
    }
    // EOF: the only other reason the read was woken.
    throw IncompleteReadError(s.take(s.size()), size_);
}

Bytes StreamReader::ChunkAwaiter::take_until(detail::ReaderState& s, std::size_t searched_from,
                                             std::size_t match_end) const {
    const detail::Separators& separators = *this->separators();
    std::size_t at = searched_from;
    std::size_t end = match_end;
    if (end == 0) {
        // None found while the read waited, and every byte that came was searched: this looks
        // only at the bytes a match could still begin in.
        std::tie(at, end) = separators.find_shortest(s.view(), searched_from);
    }
    if (end != std::string_view::npos) {
        if (at > s.limit) {
            overrun(s, "separator is found, but chunk is longer than limit", at);
        }
        return s.take(end);
    }
    const std::size_t searched = separators.next_search_from(s.size());
    if (searched > s.limit) {
        overrun(s, "separator is not found, and chunk exceeds the limit", searched);
    }
    if (s.eof) {
        Bytes rest = s.take(s.size());
        if (kind_ == Kind::line) {
            return rest; // the last, unterminated line (maybe empty)
        }
        throw IncompleteReadError(std::move(rest), 0);
    }
    // The stream's error: the only other reason the read was woken.
    std::rethrow_exception(s.error);
}

void StreamReader::ChunkAwaiter::overrun(detail::ReaderState& s, const char* what,
                                         std::size_t consumed) const {
    if (kind_ == Kind::line) {
        // Resynchronise at the next line, as asyncio does: drop the over-long line.
        const ByteView rest = s.view();
        if (consumed < rest.size() && rest[consumed] == std::byte{'\n'}) {
            s.consume(consumed + 1);
        } else {
            s.consume(s.size());
        }
    }
    throw LimitOverrunError(what, consumed);
}

Task<Bytes> StreamReader::ChunkAwaiter::as_task(StreamReader reader, ChunkAwaiter read) {
    read.reader_ = &reader; // the copy in this frame, which lives as long as the read
    co_return co_await read;
}

StreamReader::ChunkAwaiter::operator Task<Bytes>() && {
    return as_task(*reader_, std::move(*this));
}

StreamReader::ChunkAwaiter StreamReader::readuntil(ByteView separator) const {
    return ChunkAwaiter(*this, ChunkAwaiter::Kind::until, 0, detail::Separators(separator));
}

StreamReader::ChunkAwaiter
StreamReader::readuntil(std::initializer_list<ByteView> separators) const {
    std::vector<Bytes> owned;
    owned.reserve(separators.size());
    for (ByteView separator : separators) {
        owned.push_back(to_bytes(separator));
    }
    return readuntil_any(std::move(owned));
}

StreamReader::ChunkAwaiter StreamReader::readuntil(std::span<const Bytes> separators) const {
    return readuntil_any(std::vector<Bytes>(separators.begin(), separators.end()));
}

StreamReader::ChunkAwaiter StreamReader::readuntil_any(std::vector<Bytes> separators) const {
    // Owned copies: the caller's views may be temporaries that end before the read does.
    return ChunkAwaiter(*this, ChunkAwaiter::Kind::until, 0,
                        detail::Separators(std::move(separators)));
}

bool StreamReader::at_eof() const noexcept {
    return state_->eof && state_->size() == 0;
}

std::size_t StreamReader::buffered() const noexcept {
    return state_->size();
}

std::size_t StreamReader::limit() const noexcept {
    return state_->limit;
}

void StreamReader::feed_eof() {
    state_->eof = true;
    state_->waiting.wake_one();
}

void StreamReader::set_exception(std::exception_ptr error) {
    state_->error = std::move(error);
    state_->waiting.wake_one();
}

void StreamReader::set_transport(Transport* transport) noexcept {
    state_->transport = transport;
}

} // namespace ferry
