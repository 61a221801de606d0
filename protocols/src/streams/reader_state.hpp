#pragma once
// A StreamReader's state, private to ferry::protocols: its buffer, EOF and error, and the read
// waiting for data. Shared by every StreamReader handle and the stream protocol that feeds it.

#include <cstring>
#include <exception>
#include <span>

#include <ferry/detail/loop_access.hpp>
#include <ferry/detail/task_runtime.hpp>
#include <ferry/streams.hpp>

namespace ferry::detail {

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
    bool eof = false;
    std::exception_ptr error;
    Transport* transport = nullptr;
    bool paused = false;
    bool reading = false; // a read is waiting for data
    bool staged = false;  // the last prepare() gave the loop's read buffer
    WaitQueue waiting;
    /// Receives at least this large go straight into `buffer`.
    static constexpr std::size_t direct_receive_size = 64 * 1024;

    std::size_t size() const noexcept { return end - start; }
    ByteView view() const noexcept { return ByteView(buffer.data() + start, size()); }

    /// Space for a receive of up to `want` bytes (get_buffer's). A small receive into an empty
    /// buffer is staged in the loop's read buffer and commit() copies it out, so a quiet
    /// connection holds no receive buffer (it held 64 KiB, a page of it resident); a large one
    /// (the transport's adaptive read size has grown: bulk data) lands in the reader's buffer
    /// directly and is handed to read() without a copy.
    std::span<std::byte> prepare(std::size_t want) {
        if (size() == 0 && want < direct_receive_size) {
            staged = true;
            return LoopAccess::read_buffer(loop).first(want);
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
    /// `n` bytes were written at the start of the last prepared space.
    void commit(std::size_t n) {
        if (staged) {
            staged = false;
            start = end = 0;
            std::memcpy(reserve(n).data(), LoopAccess::read_buffer(loop).data(), n);
        }
        end += n;
        if (size() == 0) {
            return; // nothing to hand over (a waiting read is woken only with something to read)
        }
        // The reader runs now, from the transport's read callback, so it consumes the bytes
        // while they are still in cache, as a Protocol's data_received would; waking it on
        // the next iteration instead let every connection's reads pile up first (measured:
        // 0.6x raw libuv's stream efficiency, against 1.0x for a Protocol echo).
        waiting.wake_one_now();
        // Only then the bound: a 256 KiB receive is over 2 x limit by itself, and pausing
        // before the reader took it stopped and restarted reading (two epoll_ctl calls) on
        // every bulk receive.
        maybe_pause();
    }
    Bytes take(std::size_t n) {
        if (start == 0 && n == end && n * 4 >= buffer.capacity()) {
            // Everything buffered goes out and fills a good part of the buffer: hand over the
            // buffer itself instead of copying (small reads are copied, so a 64-byte result
            // does not carry a 64 KiB allocation).
            buffer.resize(end);
            Bytes out = std::move(buffer);
            buffer = Bytes();
            start = end = 0;
            maybe_resume();
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

} // namespace ferry::detail
