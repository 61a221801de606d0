#pragma once
// The loop's lists of wait_for timeouts, one per duration (see <ferry/detail/timeout.hpp>).

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <uv.h>

#include <ferry/detail/loop_access.hpp>
#include <ferry/detail/timeout.hpp>

namespace ferry::detail {

/// The pending timeouts of one duration, oldest first, under one libuv timer armed for the
/// oldest. Lazily: stopping the oldest leaves the timer as it is; when it fires early it is
/// armed again for the new oldest. Frees itself once its timer is closed. Loop thread only.
class TimeoutList final : public LoopResource {
public:
    /// How many durations a loop keeps lists for (beyond that, Timeout::start says no).
    static constexpr std::size_t max_lists = 16;

    /// A list for `duration` on `loop`, registered as one of its resources.
    TimeoutList(Loop& loop, std::chrono::milliseconds duration);

    /// True when no timeout is pending.
    bool empty() const noexcept { return head_ == nullptr; }
    /// Appends `timeout`, due `duration` from now.
    void add(Timeout& timeout) noexcept;
    /// Unlinks a pending `timeout`.
    void remove(Timeout& timeout) noexcept;
    /// Lets the pending timeouts go (they never fire) and closes the timer.
    void close() noexcept;
    void close_for_loop_shutdown() noexcept override { close(); }

private:
    static void on_timer(uv_timer_t* timer);
    void arm(std::uint64_t due) noexcept;

    uv_timer_t timer_{};
    Loop& loop_;
    std::uint64_t duration_ms_;
    Timeout* head_ = nullptr;
    Timeout* tail_ = nullptr;
    bool armed_ = false;
};

} // namespace ferry::detail
