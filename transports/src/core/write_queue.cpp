// WriteQueue: coalescing, gathering and partial consumption of queued bytes.
#include "core/write_queue.hpp"

#include <algorithm>

namespace ferry::detail {

void WriteQueue::push(ByteView data) {
    // Never into a chunk in flight: its memory is the OS's until complete().
    if (chunks_.size() - head_ > flight_chunks_ &&
        chunks_.back().size() + data.size() <= coalesce_limit) {
        append(chunks_.back(), data);
    } else {
        chunks_.push_back(data.to_bytes());
    }
    bytes_ += data.size();
}

std::size_t WriteQueue::gather(std::span<ByteView> out, std::size_t max_bytes) const noexcept {
    const std::size_t limit = std::min(out.size(), max_gather);
    std::size_t gathered = 0;
    std::size_t count = 0;
    for (auto chunk = chunks_.begin() + static_cast<std::ptrdiff_t>(head_);
         chunk != chunks_.end() && count < limit && gathered < max_bytes; ++chunk, ++count) {
        const std::size_t skip = count == 0 ? front_offset_ : 0;
        out[count] = ByteView(chunk->data() + skip, chunk->size() - skip);
        gathered += out[count].size();
    }
    return count;
}

std::size_t WriteQueue::begin_flight(std::size_t chunks) noexcept {
    flight_chunks_ = std::min(chunks, chunks_.size() - head_);
    std::size_t total = 0;
    auto chunk = chunks_.begin() + static_cast<std::ptrdiff_t>(head_);
    for (std::size_t i = 0; i < flight_chunks_; ++i, ++chunk) {
        total += chunk->size() - (i == 0 ? front_offset_ : 0);
    }
    return total;
}

void WriteQueue::complete(std::size_t n) noexcept {
    flight_chunks_ = 0;
    consume(n);
}

void WriteQueue::consume(std::size_t n) noexcept {
    bytes_ -= std::min(n, bytes_);
    while (n > 0 && !empty()) {
        Bytes& front = chunks_[head_];
        const std::size_t left = front.size() - front_offset_;
        if (n < left) {
            front_offset_ += n;
            return;
        }
        n -= left;
        Bytes().swap(front); // its memory goes now, not when the vector is next compacted
        ++head_;
        front_offset_ = 0;
    }
    if (empty()) {
        chunks_.clear(); // keeps the (small) capacity for the next burst
        head_ = 0;
    } else if (head_ >= max_gather) {
        // Compact now and then, so a queue that never quite empties does not grow.
        chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
}

void WriteQueue::clear() noexcept {
    chunks_.clear();
    head_ = 0;
    front_offset_ = 0;
    bytes_ = 0;
    flight_chunks_ = 0;
}

} // namespace ferry::detail
