#pragma once
/// A StreamReader's and a StreamWriter's state, shared by their handles and the stream protocol
/// that feeds them. In a header (not private to ferry::protocols) only so that read()'s and
/// drain()'s awaiters are inline where they are awaited; users never touch it.

#include <array>
#include <cstdint>
#include <cstring>
#include <exception>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <ferry/bytes.hpp>
#include <ferry/detail/loop_access.hpp>
#include <ferry/detail/task_runtime.hpp>
#include <ferry/transport.hpp>

namespace ferry::detail {

/// The separators a readuntil() or readline() waits for. One of up to 16 bytes is kept inline
/// (readline's "\n", a "\r\n"), so such a read allocates nothing for it; several, or a longer
/// one, are kept in a vector.
class Separators {
public:
    /// None (readexactly's; readline waits for a shared "\n").
    Separators() = default;
    /// One separator (copied).
    explicit Separators(ByteView one);
    /// Several; a read ends at the one that ends the shortest chunk.
    explicit Separators(std::vector<Bytes> several) noexcept : several_(std::move(several)) {}
    /// Throws ferry::Error when there is no separator or one is empty (readuntil's checks).
    void check() const;
    /// Where the earliest-ending match in `data` at or after `from` starts and ends; npos for
    /// both when there is none.
    std::pair<std::size_t, std::size_t> find_shortest(ByteView data, std::size_t from) const;
    /// Bytes of `size` buffered that a later, longer buffer must search again (a match may
    /// begin in them): the next search starts at the returned offset.
    std::size_t next_search_from(std::size_t size) const noexcept;

private:
    static constexpr std::size_t inline_capacity = 16;
    std::array<std::byte, inline_capacity> inline_{};
    std::uint8_t inline_size_ = 0;
    bool one_inline_ = false;
    std::vector<Bytes> several_;
};

/// The reader's buffer and waiting state, shared by every StreamReader handle and the protocol.
/// Unread bytes are buffer[start, end); buffer[end, size) is scratch space the transport
/// receives into (prepare/commit), so incoming data is never copied.
struct ReaderState {
    ReaderState(Loop& l, std::size_t lim) : loop(l), limit(lim) {}

    Loop& loop;
    std::size_t limit;
    Bytes buffer;
    std::size_t start = 0;
    std::size_t end = 0;
    std::exception_ptr error;
    Transport* transport = nullptr;
    bool eof = false;
    bool paused = false;
    bool reading = false; // a read is waiting for data
    bool staged = false;  // the last prepare() gave the loop's read buffer
    WaitQueue waiting;
    /// The n of the read(n) parked in `waiting` (0 when none): a receive that fits it goes to it
    /// in a buffer of its own (see commit).
    std::size_t parked_read_max = 0;
    /// What the parked read needs beyond a byte: readexactly's count, readuntil's and
    /// readline's separators. commit() wakes the read only once the buffer answers it (or the
    /// search overruns the limit), so those reads need no loop and no coroutine frame of their
    /// own. The defaults (a byte, no separator) are read()'s.
    std::size_t wanted_size = 1;
    const Separators* wanted_separators = nullptr;
    /// Bytes of view() before this were searched for the wanted separators without a match;
    /// once one is found, where it starts.
    std::size_t searched_from = 0;
    /// Where the wanted separator found ends in view(); 0 while none is.
    std::size_t match_end = 0;
    /// Receives at least this large go straight into `buffer`.
    static constexpr std::size_t direct_receive_size = 64 * 1024;

    std::size_t size() const noexcept { return end - start; }
    ByteView view() const noexcept { return ByteView(buffer.data() + start, size()); }

    /// Space for a receive of up to `want` bytes (get_buffer's). A small receive into an empty
    /// buffer is staged in the loop's read buffer and commit() copies it out, so a quiet
    /// connection holds no receive buffer (it held 64 KiB, a page of it resident). So is any
    /// receive a parked read(n) will take whole: the kernel copies into the loop's buffer,
    /// which stays in cache, rather than into a per-connection one in pages malloc may have
    /// just given back (measured when the library's stream protocol still received this way:
    /// streams bulk echo at 500 connections, docs/benchmarks.md; it now takes data_received,
    /// and this serves users' own BufferedProtocols). Otherwise (bulk data for a reader that
    /// is behind) it lands in the reader's buffer directly and is handed to read() without a
    /// copy.
    std::span<std::byte> prepare(std::size_t want) {
        const std::span<std::byte> staging = LoopAccess::read_buffer(loop);
        if (size() == 0 && want <= staging.size() &&
            (want < direct_receive_size || (want <= parked_read_max && !waiting.empty()))) {
            staged = true;
            return staging.first(want);
        }
        staged = false;
        return reserve(want);
    }
    /// Room for at least `want` more bytes after `end`.
    std::span<std::byte> reserve(std::size_t want) {
        if (buffer.size() - end < want) {
            if (start > 0 && start >= size()) {
                // Reuse the dead prefix instead of growing (a cheap move: it is the smaller part).
                std::memmove(buffer.data(), buffer.data() + start, size());
                end -= start;
                start = 0;
            }
            if (buffer.size() - end < want) {
                buffer.resize(end + want); // Bytes does not zero-fill
            }
        }
        return {buffer.data() + end, buffer.size() - end};
    }
    /// Gives `data` to the read(n) that waits for it if that read takes all of it, resuming it
    /// now: the bytes get a buffer of exactly their size, which take() hands over whole (no
    /// reserve, no second copy; the streams echo's hot path). False when no such read waits.
    bool hand_over(ByteView data) {
        const std::size_t n = data.size();
        if (n == 0 || size() != 0 || n > parked_read_max || waiting.empty() ||
            TaskRuntime::current() != nullptr) {
            return false;
        }
        buffer = Bytes(n); // not zero-filled
        std::memcpy(buffer.data(), data.data(), n);
        start = 0;
        end = n;
        waiting.wake_one_now();
        return true;
    }
    /// Received bytes, copied in (feed_data's). `data` may be in the loop's read buffer.
    void append(ByteView data) {
        if (!hand_over(data)) {
            std::memcpy(reserve(data.size()).data(), data.data(), data.size());
            staged = false;
            commit(data.size());
        }
    }
    /// `n` bytes were written at the start of the last prepared space.
    void commit(std::size_t n) {
        if (staged) {
            staged = false;
            const ByteView data(LoopAccess::read_buffer(loop).data(), n);
            if (hand_over(data)) {
                return;
            }
            start = end = 0;
            std::memcpy(reserve(n).data(), data.data(), n);
        }
        end += n;
        if (size() == 0) {
            return; // nothing to hand over (a waiting read is woken only with something to read)
        }
        // The reader runs now, from the transport's read callback, so it consumes the bytes
        // while they are still in cache, as a Protocol's data_received would; waking it on
        // the next iteration instead let every connection's reads pile up first (measured:
        // 0.6x raw libuv's stream efficiency, against 1.0x for a Protocol echo).
        if (answers_parked_read()) {
            waiting.wake_one_now();
        }
        // Only then the bound: a 256 KiB receive is over 2 x limit by itself, and pausing
        // before the reader took it stopped and restarted reading (two epoll_ctl calls) on
        // every bulk receive. A read still parked needs more than is buffered (a long
        // readexactly): pausing would leave it waiting for ever.
        if (waiting.empty()) {
            maybe_pause();
        }
    }
    /// Puts `data` back before the unread bytes (a read(-1) that was cancelled returns what it
    /// had gathered: a cancelled read consumes nothing). No read waits meanwhile.
    void unread(ByteView data) {
        if (data.empty()) {
            return;
        }
        Bytes joined(data.size() + size()); // not zero-filled
        std::memcpy(joined.data(), data.data(), data.size());
        if (size() > 0) {
            std::memcpy(joined.data() + data.size(), buffer.data() + start, size());
        }
        buffer = std::move(joined);
        start = 0;
        end = buffer.size();
        searched_from = 0;
        match_end = 0;
        maybe_pause();
    }
    /// True when what is buffered answers the read that waits (nothing waiting: true).
    bool answers_parked_read() {
        if (size() < wanted_size) {
            return false;
        }
        return wanted_separators == nullptr || finds_wanted_separator();
    }
    /// A wanted separator is buffered, or the search for one has passed the limit (the read
    /// must end with LimitOverrunError). Remembers how far it searched.
    bool finds_wanted_separator();
    /// Back to read()'s defaults once the read that wanted more has its answer.
    void forget_wanted() noexcept {
        wanted_size = 1;
        wanted_separators = nullptr;
        searched_from = 0;
        match_end = 0;
    }
    Bytes take(std::size_t n) {
        if (start == 0 && n == end && n * 4 >= buffer.capacity()) {
            // Everything buffered goes out and fills a good part of the buffer: hand over the
            // buffer itself instead of copying (small reads are copied, so a 64-byte result
            // does not carry a 64 KiB allocation).
            if (buffer.size() != end) {
                buffer.resize(end); // drop the scratch space after the data
            }
            Bytes out = std::move(buffer); // leaves `buffer` empty, without memory
            start = end = 0;
            if (paused) {
                maybe_resume();
            }
            return out;
        }
        Bytes out = ByteView(buffer.data() + start, n).to_bytes();
        consume(n);
        return out;
    }
    void consume(std::size_t n) {
        start += n;
        if (start == end) {
            start = end = 0; // keep the memory for the next receive
        }
        maybe_resume();
    }
    void maybe_resume() {
        if (paused && size() <= limit && transport != nullptr) {
            paused = false;
            transport->resume_reading();
        }
    }
    void maybe_pause() {
        if (!paused && transport != nullptr && size() > 2 * limit) {
            paused = true;
            transport->pause_reading();
        }
    }
};

/// What a StreamWriter needs to know of its connection: flow-control pauses and the loss.
struct WriterState {
    Transport* transport = nullptr;
    bool paused = false; // between pause_writing and resume_writing
    bool lost = false;
    std::error_code lost_error;
    WaitQueue drainers;
    WaitQueue closers;
};

} // namespace ferry::detail
