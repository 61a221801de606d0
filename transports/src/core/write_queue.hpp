#pragma once
// WriteQueue: the bytes a transport accepted and the OS has not taken yet. Private to
// ferry::transports; every transport's core owns one.

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include <ferry/bytes.hpp>

namespace ferry::detail {

/// Queued bytes in chunks. Small writes coalesce into the last chunk (up to 64 KiB) so a burst
/// of tiny writes becomes one large write; gather() hands the front chunks out as views for
/// one gathered OS write. Serves both kinds of backend:
/// - readiness (write what the OS takes now): gather(), write, consume(n) — a partial write
///   leaves the rest of the front chunk queued;
/// - completion (hand over a gather, hear later how much completed): gather(),
///   begin_flight(count) — those chunks are not touched (no coalescing into them) until
///   complete(n) — then consume what completed.
class WriteQueue {
public:
    /// Chunks grow by coalescing up to this size.
    static constexpr std::size_t coalesce_limit = 64 * 1024;
    /// At most this many chunks go into one gathered write (well under IOV_MAX).
    static constexpr std::size_t max_gather = 64;

    /// True when nothing is queued.
    bool empty() const noexcept { return !state_ || state_->head == state_->chunks.size(); }
    /// Bytes queued (including any in flight).
    std::size_t bytes() const noexcept { return state_ ? state_->bytes : 0; }
    /// True while a completion backend's write of the front chunks is outstanding.
    bool in_flight() const noexcept { return state_ && state_->flight_chunks != 0; }
    /// Bytes of the write in flight (what begin_flight returned).
    std::size_t flight_bytes() const noexcept { return state_ ? state_->flight_bytes : 0; }

    /// Appends `data` (copied); with `own_chunk`, never joined to another (a datagram).
    void push(ByteView data, bool own_chunk = false);
    /// Fills `out` with views of the front chunks (the first one past what was already
    /// consumed of it), stopping once `max_bytes` are gathered (at least one chunk); returns
    /// how many. Views stay valid until the queue changes, or, for chunks in flight, until
    /// complete().
    std::size_t gather(std::span<ByteView> out,
                       std::size_t max_bytes = static_cast<std::size_t>(-1)) const noexcept;
    /// What a readiness backend gathers per write: more than any OS buffer takes at once
    /// (a pty takes 4 KiB), so gathering all 64 chunks each time would be wasted work.
    static constexpr std::size_t readiness_gather_bytes = 256 * 1024;
    /// gather() straight into the caller's array of OS buffers (uv_buf_t, iovec), each made by
    /// `make(data, size)`: no array of views to fill first.
    template <class Out, class Make>
    std::size_t gather_into(Out* out, std::size_t max, Make make) const noexcept {
        std::size_t count = 0;
        if (!state_) {
            return 0;
        }
        for (auto chunk = state_->chunks.begin() + static_cast<std::ptrdiff_t>(state_->head);
             chunk != state_->chunks.end() && count < max; ++chunk, ++count) {
            const std::size_t skip = count == 0 ? state_->front_offset : 0;
            out[count] = make(chunk->data() + skip, chunk->size() - skip);
        }
        return count;
    }
    /// The first `chunks` chunks (as gathered) are being written by a completion backend;
    /// returns their bytes.
    std::size_t begin_flight(std::size_t chunks) noexcept;
    /// The write in flight finished and `n` of its bytes were taken (all of them, for libuv's
    /// uv_write; perhaps fewer, for an overlapped write).
    void complete(std::size_t n) noexcept;
    /// `n` bytes from the front were taken by the OS (readiness backends).
    void consume(std::size_t n) noexcept;
    /// Drops everything (abort, or the handle closed) and frees the queue's memory.
    void clear() noexcept { state_.reset(); }

private:
    struct State {
        // A vector with a moving front, not a std::deque: an empty deque already holds a
        // 512-byte node and its map.
        std::vector<Bytes> chunks; // live chunks are [head, size())
        std::size_t head = 0;
        std::size_t front_offset = 0; // bytes of the front chunk already taken
        std::size_t bytes = 0;
        std::size_t flight_chunks = 0;
        std::size_t flight_bytes = 0;
    };
    // Made when bytes first queue: most connections write everything at once and never queue,
    // and an idle one then pays one pointer instead of 56 bytes (docs/benchmarks.md, memory).
    // Kept once made, so a connection that queues often does not allocate each time.
    std::unique_ptr<State> state_;
};

} // namespace ferry::detail
