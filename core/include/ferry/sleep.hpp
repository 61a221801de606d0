#pragma once
/// sleep(duration): suspend the current task; sleep(0) yields to the loop once.

#include <chrono>

#include <ferry/detail/task_runtime.hpp>

namespace ferry {

/// The awaiter sleep() returns. Cancellable: cancelling the task cancels the timer. One of
/// the library's parking awaiters, so `wait_for(sleep(d), t)` times it without a task.
class [[nodiscard]] SleepAwaiter : public detail::Suspension {
public:
    /// Sleeps for `delay` (zero: yield once, as asyncio.sleep(0)).
    explicit SleepAwaiter(std::chrono::milliseconds delay) noexcept : delay_(delay) {}
    /// Moving is for a sleep not yet awaited (no timer armed yet).
    SleepAwaiter(SleepAwaiter&& other) noexcept
        : Suspension(std::move(other)), delay_(other.delay_) {}
    SleepAwaiter& operator=(SleepAwaiter&&) = delete;
    ~SleepAwaiter() {
        if (delay_.count() > 0) {
            timer_.cancel(); // a yield (sleep(0)) armed none
        }
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
        if (delay_.count() <= 0) {
            return yield(awaiting);
        }
        if (!park(awaiting)) {
            return false;
        }
        timer_ = loop().call_later(delay_, [this] { wake(); });
        return true;
    }
    void await_resume() const { throw_if_cancelled(); }

protected:
    bool on_cancel() noexcept override {
        timer_.cancel();
        return true;
    }

private:
    std::chrono::milliseconds delay_;
    CallbackHandle timer_;
};

/// Suspends the current task for `delay` (rounded up to milliseconds; never early).
template <class Rep, class Period>
SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) noexcept {
    return SleepAwaiter(std::chrono::ceil<std::chrono::milliseconds>(delay));
}

} // namespace ferry
