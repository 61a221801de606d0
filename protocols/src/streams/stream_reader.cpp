// StreamReader: a bounded buffer with count, separator and EOF reads, asyncio's semantics.
#include <algorithm>
#include <cstring>
#include <optional>

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

/// Parks the reading task until data, EOF or an error arrives.
class DataAwaiter : public Waiter {
public:
    DataAwaiter(ReaderState& state, const char* what) : state_(state), what_(what) {}
    ~DataAwaiter() {
        if (parked_) {
            state_.reading = false;
        }
    }
    bool await_ready() {
        if (state_.reading) {
            throw Error(make_error_code(errc::invalid_argument),
                        std::string(what_) +
                            "() called while another coroutine is already waiting for data");
        }
        // A reader that needs more than the buffer holds must let the transport fill it.
        if (state_.paused && state_.transport != nullptr) {
            state_.paused = false;
            state_.transport->resume_reading();
        }
        return false;
    }
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
        if (!park(awaiting)) {
            return false;
        }
        parked_ = true;
        state_.reading = true;
        state_.waiting.push_back(*this);
        return true;
    }
    void await_resume() {
        if (parked_) {
            state_.reading = false;
            parked_ = false;
        }
        throw_if_cancelled();
    }

private:
    ReaderState& state_;
    const char* what_;
    bool parked_ = false;
};

/// Where the earliest-ending separator match ends in `data`, searching from `from`;
/// also returns where that match starts. npos when none matches.
std::pair<std::size_t, std::size_t> find_shortest(ByteView data, const std::vector<Bytes>& seps,
                                                  std::size_t from) {
    std::size_t best_end = std::string_view::npos;
    std::size_t best_start = std::string_view::npos;
    const std::string_view haystack = data.as_string_view();
    for (const Bytes& sep : seps) {
        const std::string_view needle = ByteView(sep).as_string_view();
        const std::size_t at = haystack.find(needle, from);
        if (at != std::string_view::npos && at + needle.size() < best_end) {
            best_end = at + needle.size();
            best_start = at;
        }
    }
    return {best_start, best_end};
}

Task<Bytes> read_some(std::shared_ptr<ReaderState> s, std::size_t n) {
    while (s->size() == 0 && !s->eof) {
        if (s->error) {
            std::rethrow_exception(s->error);
        }
        co_await DataAwaiter(*s, "read");
    }
    co_return s->take(std::min(n, s->size()));
}

Task<Bytes> read_all(std::shared_ptr<ReaderState> s) {
    Bytes all;
    for (;;) {
        Bytes block = co_await read_some(s, s->limit);
        if (block.empty()) {
            co_return all;
        }
        append(all, block);
    }
}

Task<Bytes> read_exactly(std::shared_ptr<ReaderState> s, std::size_t n) {
    while (s->size() < n) {
        if (s->error) {
            std::rethrow_exception(s->error); // the buffered bytes stay readable
        }
        if (s->eof) {
            throw IncompleteReadError(s->take(s->size()), n);
        }
        co_await DataAwaiter(*s, "readexactly");
    }
    co_return s->take(n);
}

Task<Bytes> read_until(std::shared_ptr<ReaderState> s, std::vector<Bytes> separators) {
    if (separators.empty()) {
        throw Error(make_error_code(errc::invalid_argument), "readuntil: no separator given");
    }
    std::size_t longest = 0;
    for (const Bytes& sep : separators) {
        if (sep.empty()) {
            throw Error(make_error_code(errc::invalid_argument),
                        "readuntil: a separator must not be empty");
        }
        longest = std::max(longest, sep.size());
    }
    std::size_t from = 0; // bytes before this were already searched
    for (;;) {
        auto [at, end] = find_shortest(s->view(), separators, from);
        if (end != std::string_view::npos) {
            if (at > s->limit) {
                throw LimitOverrunError("separator is found, but chunk is longer than limit", at);
            }
            co_return s->take(end);
        }
        from = s->size() + 1 > longest ? s->size() + 1 - longest : 0;
        if (from > s->limit) {
            throw LimitOverrunError("separator is not found, and chunk exceeds the limit", from);
        }
        if (s->eof) {
            throw IncompleteReadError(s->take(s->size()), 0);
        }
        if (s->error) {
            std::rethrow_exception(s->error);
        }
        co_await DataAwaiter(*s, "readuntil");
    }
}

Task<Bytes> read_line(std::shared_ptr<ReaderState> s) {
    // The separator list is built outside the co_await expression: GCC 12 rejects an
    // initializer list there ("array used as initializer").
    std::vector<Bytes> newline;
    newline.push_back(Bytes{std::byte{'\n'}});
    std::optional<Bytes> line;
    std::exception_ptr overrun;
    std::size_t consumed = 0;
    try {
        line = co_await read_until(s, std::move(newline));
    } catch (IncompleteReadError& e) {
        line = std::move(e.partial); // EOF: the last, unterminated line (maybe empty)
    } catch (const LimitOverrunError& e) {
        overrun = std::current_exception();
        consumed = e.consumed;
    }
    if (line) {
        co_return std::move(*line);
    }
    // Resynchronise at the next line, as asyncio does: drop the over-long line.
    const ByteView rest = s->view();
    if (consumed < rest.size() && rest[consumed] == std::byte{'\n'}) {
        s->consume(consumed + 1);
    } else {
        s->consume(s->size());
    }
    std::rethrow_exception(overrun);
}

} // namespace
} // namespace detail

StreamReader::StreamReader(Loop& loop, std::size_t limit)
    : state_(std::make_shared<detail::ReaderState>(loop, limit)) {
    if (limit == 0) {
        throw Error(make_error_code(errc::invalid_argument), "StreamReader: limit must be > 0");
    }
}

bool StreamReader::ReadAwaiter::ready_otherwise() {
    if (n_ < 0) {
        // Until EOF is a loop of reads: it runs as a Task, awaited through this awaiter.
        until_eof_ = detail::read_all(reader_->state_);
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

StreamReader::ReadAwaiter::operator Task<Bytes>() && {
    if (n_ < 0) {
        return detail::read_all(reader_->state_);
    }
    if (n_ == 0) {
        return []() -> Task<Bytes> { co_return Bytes{}; }();
    }
    return detail::read_some(reader_->state_, static_cast<std::size_t>(n_));
}

Task<Bytes> StreamReader::readexactly(std::size_t n) const {
    return detail::read_exactly(state_, n);
}

Task<Bytes> StreamReader::readuntil(ByteView separator) const {
    return readuntil_any({to_bytes(separator)});
}

Task<Bytes> StreamReader::readuntil(std::initializer_list<ByteView> separators) const {
    std::vector<Bytes> owned;
    owned.reserve(separators.size());
    for (ByteView separator : separators) {
        owned.push_back(to_bytes(separator));
    }
    return readuntil_any(std::move(owned));
}

Task<Bytes> StreamReader::readuntil(std::span<const Bytes> separators) const {
    return readuntil_any(std::vector<Bytes>(separators.begin(), separators.end()));
}

Task<Bytes> StreamReader::readuntil_any(std::vector<Bytes> separators) const {
    // The coroutine gets owned copies: the caller's views may be temporaries that end before
    // the lazy task first runs.
    return detail::read_until(state_, std::move(separators));
}

Task<Bytes> StreamReader::readline() const {
    return detail::read_line(state_);
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
