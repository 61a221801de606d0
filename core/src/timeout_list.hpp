#pragma once
// The loop's lists of wait_for timeouts, each in the order they fall due (see
// <ferry/detail/timeout.hpp>).

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <uv.h>

#include <ferry/detail/loop_access.hpp>
#include <ferry/detail/timeout.hpp>

namespace ferry::detail {

/// Pending timeouts in the order they fall due, under one libuv timer armed for the first.
/// Lazily: stopping the first leaves the timer as it is; when it fires early it is armed again
/// for the new first. Frees itself once its timer is closed. Loop thread only.
class TimeoutList final : public LoopResource {
public:
    /// How many lists a loop keeps (beyond that, Timeout::start says no).
    static constexpr std::size_t max_lists = 16;

    /// A list on `loop`, registered as one of its resources.
    explicit TimeoutList(Loop& loop);

    /// True when no timeout is pending.
    bool empty() const noexcept { return head_ == nullptr; }
    /// No earlier than when the last pending timeout falls due (the loop's milliseconds; kept
    /// here, so that choosing a list touches no timeout). Meaningful while not empty.
    std::uint64_t last_due() const noexcept { return last_due_; }
    /// Appends `timeout`, due at `due`, which is no earlier than last_due().
    void add(Timeout& timeout, std::uint64_t due) noexcept;
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
    Timeout* head_ = nullptr;
    Timeout* tail_ = nullptr;
    std::uint64_t armed_due_ = 0; // while armed_
    std::uint64_t last_due_ = 0;  // the latest added: a removed last one leaves it as it was
    bool armed_ = false;
};

} // namespace ferry::detail
