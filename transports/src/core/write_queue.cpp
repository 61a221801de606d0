// WriteQueue: coalescing, gathering and partial consumption of queued bytes.
#include "core/write_queue.hpp"

#include <algorithm>

namespace ferry::detail {

void WriteQueue::push(ByteView data, bool own_chunk) {
    if (!state_) {
        state_ = std::make_unique<State>();
    }
    State& s = *state_;
    // Never into a chunk in flight: its memory is the OS's until complete().
    if (!own_chunk && s.chunks.size() - s.head > s.flight_chunks &&
        s.chunks.back().size() + data.size() <= coalesce_limit) {
        append(s.chunks.back(), data);
    } else {
        s.chunks.push_back(data.to_bytes());
    }
    s.bytes += data.size();
}

std::size_t WriteQueue::gather(std::span<ByteView> out, std::size_t max_bytes) const noexcept {
    if (!state_) {
        return 0;
    }
    const State& s = *state_;
    const std::size_t limit = std::min(out.size(), max_gather);
    std::size_t gathered = 0;
    std::size_t count = 0;
    for (auto chunk = s.chunks.begin() + static_cast<std::ptrdiff_t>(s.head);
         chunk != s.chunks.end() && count < limit && gathered < max_bytes; ++chunk, ++count) {
        const std::size_t skip = count == 0 ? s.front_offset : 0;
        out[count] = ByteView(chunk->data() + skip, chunk->size() - skip);
        gathered += out[count].size();
    }
    return count;
}

std::size_t WriteQueue::begin_flight(std::size_t chunks) noexcept {
    if (!state_) {
        return 0;
    }
    State& s = *state_;
    s.flight_chunks = std::min(chunks, s.chunks.size() - s.head);
    std::size_t total = 0;
    auto chunk = s.chunks.begin() + static_cast<std::ptrdiff_t>(s.head);
    for (std::size_t i = 0; i < s.flight_chunks; ++i, ++chunk) {
        total += chunk->size() - (i == 0 ? s.front_offset : 0);
    }
    s.flight_bytes = total;
    return total;
}

void WriteQueue::complete(std::size_t n) noexcept {
    if (state_) {
        state_->flight_chunks = 0;
        state_->flight_bytes = 0;
        consume(n);
    }
}

void WriteQueue::consume(std::size_t n) noexcept {
    if (!state_) {
        return;
    }
    State& s = *state_;
    s.bytes -= std::min(n, s.bytes);
    while (n > 0 && !empty()) {
        Bytes& front = s.chunks[s.head];
        const std::size_t left = front.size() - s.front_offset;
        if (n < left) {
            s.front_offset += n;
            return;
        }
        n -= left;
        Bytes().swap(front); // its memory goes now, not when the vector is next compacted
        ++s.head;
        s.front_offset = 0;
    }
    if (empty()) {
        s.chunks.clear(); // keeps the (small) capacity for the next burst
        s.head = 0;
    } else if (s.head >= max_gather) {
        // Compact now and then, so a queue that never quite empties does not grow.
        s.chunks.erase(s.chunks.begin(), s.chunks.begin() + static_cast<std::ptrdiff_t>(s.head));
        s.head = 0;
    }
}

} // namespace ferry::detail
