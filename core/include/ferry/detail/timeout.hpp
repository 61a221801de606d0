#pragma once
/// wait_for's timer for one of the library's awaiters: a node in the loop's list of the
/// timeouts of one duration. Users never name it.

#include <chrono>
#include <cstdint>

namespace ferry {
class Loop;
} // namespace ferry

namespace ferry::detail {

class TimeoutList;

/// One pending timeout, kept inside what it ends (no allocation). Timeouts of one duration
/// fall due in the order they start, so the loop keeps lists in due order, each under one
/// libuv timer, and a timeout joins the list whose last one falls due latest but no later than
/// it (one duration's keep joining the same list; so do a deadline's shrinking durations):
/// starting and stopping one is a link and an unlink, where a libuv timer of its own costs a
/// heap insertion and removal (~700 instructions, docs/benchmarks.md). The loop keeps up to
/// TimeoutList::max_lists lists; start() returns false when every one ends later. Loop
/// thread only.
class Timeout {
public:
    /// What runs when the time is up: `expired(context)`.
    using Expired = void (*)(void* context);

    Timeout() = default;
    Timeout(const Timeout&) = delete;
    Timeout& operator=(const Timeout&) = delete;
    ~Timeout() { stop(); }

    /// Calls `expired(context)` once `duration` has passed on `loop`, unless stopped first.
    /// False (nothing started) when the loop is closing or has lists for too many other
    /// durations.
    bool start(Loop& loop, std::chrono::milliseconds duration, Expired expired, void* context);
    /// Stops it; nothing happens if it was not started, has expired or was stopped.
    void stop() noexcept {
        if (list_ != nullptr) {
            unlink();
        }
    }

private:
    friend class TimeoutList;
    void unlink() noexcept;

    TimeoutList* list_ = nullptr; // null when not pending
    Timeout* prev_ = nullptr;
    Timeout* next_ = nullptr;
    std::uint64_t due_ = 0; // the loop's time, in milliseconds
    Expired expired_ = nullptr;
    void* context_ = nullptr;
};

} // namespace ferry::detail
