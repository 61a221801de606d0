#pragma once
/// Spawned tasks: TaskHandle<T> (cancel, done, result, co_await), Loop::create_task and
/// Loop::run_until_complete(task), shield and get_running_loop.

#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <ferry/detail/loop_access.hpp>
#include <ferry/detail/task_runtime.hpp>
#include <ferry/error.hpp>
#include <ferry/loop.hpp>
#include <ferry/task.hpp>

namespace ferry {
namespace detail {

/// The outermost coroutine of a spawned task: runs the user's Task and records the outcome.
/// Its frame frees itself when it ends.
struct Runner {
    struct promise_type {
        Runner get_return_object() noexcept {
            return {std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { std::terminate(); } // the body catches all
    };
    std::coroutine_handle<promise_type> handle;
};

/// The state of a spawned task without its value type: completion, awaiters, done callbacks,
/// and the loop's ownership while it runs.
class SpawnedTaskBase : public TaskRuntime {
public:
    explicit SpawnedTaskBase(Loop& loop);
    SpawnedTaskBase(const SpawnedTaskBase&) = delete;
    SpawnedTaskBase& operator=(const SpawnedTaskBase&) = delete;
    /// Reports an exception nobody retrieved to the loop's exception handler (or the log).
    virtual ~SpawnedTaskBase();

    /// Makes the loop own the task and schedules its first step.
    void start(std::shared_ptr<SpawnedTaskBase> self, std::coroutine_handle<> runner);
    /// Records the outcome, wakes awaiters, schedules done callbacks, releases the loop's hold.
    void finish(std::exception_ptr error, bool cancelled) noexcept;
    /// Runs `callback` (via call_soon) once the task is done.
    void add_done_callback(std::function<void()> callback);
    /// True when the task ended by CancelledError.
    bool cancelled() const noexcept { return cancelled_; }
    /// The exception the task ended with (null if none); marks it retrieved.
    std::exception_ptr exception() noexcept;
    /// Throws unless the task is done; rethrows its exception.
    void check_result();
    /// Those awaiting this task's completion.
    WaitQueue& awaiters() noexcept { return awaiters_; }
    void close_for_loop_shutdown() noexcept override;

private:
    std::coroutine_handle<> runner_;
    std::shared_ptr<SpawnedTaskBase> self_;
    std::exception_ptr error_;
    bool cancelled_ = false;
    bool retrieved_ = false;
    std::vector<std::function<void()>> done_callbacks_;
    WaitQueue awaiters_;
    std::weak_ptr<void> loop_alive_;
};

/// A spawned task with its value.
template <class T>
class SpawnedTask final : public SpawnedTaskBase {
public:
    using SpawnedTaskBase::SpawnedTaskBase;
    std::optional<std::conditional_t<std::is_void_v<T>, Empty, T>> value;
};

template <class T>
Runner run_spawned(SpawnedTask<T>* self, Task<T> task) {
    std::exception_ptr error;
    bool cancelled = false;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await task;
            self->value.emplace();
        } else {
            self->value.emplace(co_await task);
        }
    } catch (const CancelledError&) {
        error = std::current_exception();
        cancelled = true;
    } catch (...) {
        error = std::current_exception();
    }
    self->finish(error, cancelled);
}

} // namespace detail

/// A task the loop runs: cancel it, ask whether it is done, get its result, or co_await it.
/// Copies refer to the same task. Loop thread only.
template <class T = void>
class TaskHandle {
public:
    /// A handle to no task.
    TaskHandle() = default;

    /// Asks the task to stop (asyncio's Task.cancel): the await it is parked in throws
    /// CancelledError. False if it has already finished.
    bool cancel() const noexcept { return state_->cancel(); }
    /// True once the task finished with a value, an exception or by cancellation.
    bool done() const noexcept { return state_->done(); }
    /// True when the task ended by CancelledError.
    bool cancelled() const noexcept { return state_->cancelled(); }
    /// The task's value; rethrows its exception; throws ferry::Error if it is not done.
    std::conditional_t<std::is_void_v<T>, void, T> result() const {
        state_->check_result();
        if constexpr (!std::is_void_v<T>) {
            return *state_->value;
        }
    }
    /// The exception the task ended with, or null.
    std::exception_ptr exception() const noexcept { return state_->exception(); }
    /// Runs `callback` on the loop once the task is done (at once, next iteration, if it is).
    void add_done_callback(std::function<void()> callback) const {
        state_->add_done_callback(std::move(callback));
    }
    /// True when this refers to a task.
    explicit operator bool() const noexcept { return static_cast<bool>(state_); }

    /// Waits for the task and yields its result (asyncio: `await task`). Cancelling the
    /// awaiting task cancels this one too; use shield() to prevent that.
    auto operator co_await() const noexcept { return Awaiter{state_.get(), false}; }

    /// The awaiter behind co_await; `shielded` leaves the awaited task running on cancel.
    struct Awaiter : detail::Waiter {
        Awaiter(detail::SpawnedTask<T>* target, bool shielded) noexcept
            : target_(target), shielded_(shielded) {}
        bool await_ready() const noexcept { return target_->done(); }
        bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
            if (!park(awaiting)) {
                return false;
            }
            target_->awaiters().push_back(*this);
            return true;
        }
        auto await_resume() {
            throw_if_cancelled();
            target_->check_result();
            if constexpr (!std::is_void_v<T>) {
                return *target_->value;
            }
        }
        bool on_cancel() noexcept override {
            if (shielded_) {
                return Waiter::on_cancel(); // leave the target running
            }
            target_->cancel(); // asyncio: cancelling the awaiter cancels the awaited task
            return false;      // and the wait ends when the target does
        }

    private:
        detail::SpawnedTask<T>* target_;
        bool shielded_;
    };

private:
    friend class Loop;
    template <class U>
    friend auto shield(const TaskHandle<U>& task) noexcept;
    explicit TaskHandle(std::shared_ptr<detail::SpawnedTask<T>> state) : state_(std::move(state)) {}
    std::shared_ptr<detail::SpawnedTask<T>> state_;
};

/// Awaits `task` without letting the awaiter's cancellation reach it (asyncio's shield): the
/// awaiter gets CancelledError, the task runs on.
template <class T>
auto shield(const TaskHandle<T>& task) noexcept {
    return typename TaskHandle<T>::Awaiter{task.state_.get(), true};
}

/// The loop running the current task (asyncio's get_running_loop). Throws outside a task.
inline Loop& get_running_loop() {
    return detail::running_loop();
}

template <class T>
TaskHandle<T> Loop::create_task(Task<T> task) {
    if (is_shutting_down()) {
        throw Error(make_error_code(errc::loop_closed), "create_task: the loop is closing");
    }
    auto state = std::make_shared<detail::SpawnedTask<T>>(*this);
    detail::Runner runner = detail::run_spawned<T>(state.get(), std::move(task));
    state->start(state, runner.handle);
    return TaskHandle<T>(std::move(state));
}

template <class T>
T Loop::run_until_complete(Task<T> task) {
    TaskHandle<T> handle = create_task(std::move(task));
    // asyncio's way: the task's end stops the loop, which meanwhile runs as run() does (libuv
    // iterating by itself; a uv_run call per iteration from here cost a quarter of a
    // coroutine switch). The flag keeps a callback that outlives this call from stopping a
    // later run.
    auto waiting = std::make_shared<bool>(true);
    handle.add_done_callback([this, waiting] {
        if (*waiting) {
            stop();
        }
    });
    run();
    *waiting = false;
    if (!handle.done()) {
        handle.cancel();
        throw Error(make_error_code(errc::cancelled),
                    "run_until_complete: the loop was stopped before the task completed");
    }
    return handle.result();
}

} // namespace ferry
