#pragma once
/// Waiting on several tasks: wait_for (timeout), gather, wait, and TaskGroup — asyncio's
/// semantics, on Task<T> / TaskHandle<T>.

#include <chrono>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <ferry/detail/timeout.hpp>
#include <ferry/future.hpp>
#include <ferry/sync.hpp>
#include <ferry/task.hpp>
#include <ferry/task_handle.hpp>

namespace ferry {

namespace detail {
/// Throws wait_for's TimeoutError ("wait_for: timed out after N ms").
[[noreturn]] void throw_timed_out(std::chrono::milliseconds timeout);

/// The value a task of T yields through gather (void becomes Empty).
template <class T>
using GatherValue = std::conditional_t<std::is_void_v<T>, Empty, T>;

template <class T>
GatherValue<T> result_or_empty(const TaskHandle<T>& handle) {
    if constexpr (std::is_void_v<T>) {
        handle.result();
        return {};
    } else {
        return handle.result();
    }
}

/// Shared by gather's children: counts completions and stops at the first failure.
struct GatherState {
    explicit GatherState(Loop& loop) : settled(loop) {}
    Future<void> settled;
    std::size_t remaining = 0;
    std::exception_ptr first_error;
    std::vector<std::function<void()>> cancel_children;

    void cancel_all() {
        for (auto& cancel : cancel_children) {
            cancel();
        }
    }
    void child_done(std::exception_ptr error) {
        if (settled.done()) {
            return;
        }
        if (error) {
            first_error = std::move(error);
            cancel_all();
            settled.set_result();
        } else if (--remaining == 0) {
            settled.set_result();
        }
    }
};

template <class T>
void gather_track(const std::shared_ptr<GatherState>& state, const TaskHandle<T>& child) {
    ++state->remaining;
    state->cancel_children.push_back([child] { child.cancel(); });
    child.add_done_callback([weak = std::weak_ptr<GatherState>(state), child] {
        std::exception_ptr error = child.exception(); // also marks it retrieved
        if (auto s = weak.lock()) {
            s->child_done(std::move(error));
        }
    });
}

/// Waits until every tracked child succeeded, or one failed (then rethrows its exception).
/// If the gathering task is cancelled, the children are cancelled too.
Task<void> gather_settle(std::shared_ptr<GatherState> state);

/// Wraps any awaitable as a Task (for wait_for on awaiters).
template <class Awaitable>
auto as_task(Awaitable awaitable) -> Task<decltype(std::declval<Awaitable&>().await_resume())> {
    co_return co_await awaitable;
}
} // namespace detail

/// Runs several tasks concurrently and yields their results in order (asyncio.gather). The
/// first exception propagates at once and the other tasks are cancelled; cancelling the
/// gathering task cancels them all.
template <class... T>
Task<std::tuple<detail::GatherValue<T>...>> gather(Task<T>... tasks) {
    Loop& loop = get_running_loop();
    auto children = std::make_tuple(loop.create_task(std::move(tasks))...);
    auto state = std::make_shared<detail::GatherState>(loop);
    std::apply([&](auto&... child) { (detail::gather_track(state, child), ...); }, children);
    if (state->remaining == 0) {
        state->settled.set_result();
    }
    co_await detail::gather_settle(state);
    co_return std::apply(
        [](auto&... child) { return std::make_tuple(detail::result_or_empty(child)...); },
        children);
}

/// gather over a run-time list of tasks of one type.
template <class T>
Task<std::vector<detail::GatherValue<T>>> gather(std::vector<Task<T>> tasks) {
    Loop& loop = get_running_loop();
    auto state = std::make_shared<detail::GatherState>(loop);
    std::vector<TaskHandle<T>> children;
    children.reserve(tasks.size());
    for (Task<T>& task : tasks) {
        children.push_back(loop.create_task(std::move(task)));
        detail::gather_track(state, children.back());
    }
    if (state->remaining == 0) {
        state->settled.set_result();
    }
    co_await detail::gather_settle(state);
    std::vector<detail::GatherValue<T>> results;
    results.reserve(children.size());
    for (const auto& child : children) {
        results.push_back(detail::result_or_empty(child));
    }
    co_return results;
}

/// When wait() returns.
enum class ReturnWhen { first_completed, first_exception, all_completed };

/// What wait() yields: the tasks that are done and those still pending.
template <class T>
struct WaitResult {
    std::vector<TaskHandle<T>> done;
    std::vector<TaskHandle<T>> pending;
};

/// Waits for the given tasks as `when` says (asyncio.wait) and splits them into done and
/// pending. Neither a timeout nor cancelling the waiting task cancels them.
template <class T>
Task<WaitResult<T>> wait(std::vector<TaskHandle<T>> tasks,
                         ReturnWhen when = ReturnWhen::all_completed) {
    struct State {
        Event changed;
    };
    auto state = std::make_shared<State>();
    auto satisfied = [&] {
        std::size_t done = 0;
        for (const auto& task : tasks) {
            if (task.done()) {
                ++done;
                if (when == ReturnWhen::first_completed) {
                    return true;
                }
                if (when == ReturnWhen::first_exception && task.exception()) {
                    return true;
                }
            }
        }
        return done == tasks.size();
    };
    for (const auto& task : tasks) {
        task.add_done_callback([weak = std::weak_ptr<State>(state)] {
            if (auto s = weak.lock()) {
                s->changed.set();
            }
        });
    }
    while (!satisfied()) {
        state->changed.clear();
        co_await state->changed.wait();
    }
    WaitResult<T> result;
    for (auto& task : tasks) {
        (task.done() ? result.done : result.pending).push_back(task);
    }
    co_return result;
}

namespace detail {
/// The library's own awaiters (a read, a readline, a drain, a Queue get, an Event wait...):
/// they park the task they run in, so a timer can end their wait.
template <class Awaiter>
concept ParkingAwaiter = std::derived_from<Awaiter, Suspension> && std::move_constructible<Awaiter>;

/// A Task under wait_for: owns it and awaits it as `co_await task` does, in the awaiting task.
template <class T>
class TaskAwaiter {
public:
    /// Awaits `task`.
    explicit TaskAwaiter(Task<T> task) noexcept : task_(std::move(task)) {}
    bool await_ready() noexcept { return task_.operator co_await().await_ready(); }
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
        return task_.operator co_await().await_suspend(awaiting);
    }
    T await_resume() { return task_.operator co_await().await_resume(); }

private:
    Task<T> task_;
};

/// A spawned task under wait_for: owns a handle to it (the awaiter points into its state).
template <class T>
struct HandleAwaiter : TaskHandle<T>::Awaiter {
    /// Awaits `task` as `co_await task` does.
    explicit HandleAwaiter(TaskHandle<T> task) noexcept
        : TaskHandle<T>::Awaiter(task.operator co_await()), task_(std::move(task)) {}

private:
    TaskHandle<T> task_;
};

template <class Awaiter>
inline constexpr bool is_task_awaiter = false;
template <class T>
inline constexpr bool is_task_awaiter<TaskAwaiter<T>> = true;

/// What wait_for can time without a task of its own: the library's awaiters and Tasks.
template <class Awaiter>
concept TimeableAwaiter = ParkingAwaiter<Awaiter> || is_task_awaiter<Awaiter>;
} // namespace detail

/// What wait_for returns for a Task or one of the library's awaiters: it is awaited in the
/// awaiting task as it would be without a timeout, and a timer ends whatever that task waits in
/// when the time is up (asyncio's `timeout()` around one await, which is what its wait_for does
/// for a coroutine): the awaited code sees CancelledError, and what comes out of this await is
/// TimeoutError. No task is spawned, no frame made and nothing allocated (the timer is a
/// detail::Timeout inside this object): a readline under wait_for cost 4.7 times a readline
/// when it ran as a task of its own (docs/benchmarks.md). Refers to what the awaiter refers to
/// (await it at once, or convert it to a Task).
template <detail::TimeableAwaiter Awaiter>
class [[nodiscard]] TimedAwaiter {
public:
    /// The awaiter's result type.
    using Result = decltype(std::declval<Awaiter&>().await_resume());

    /// `inner` with at most `timeout` to finish once it parks.
    TimedAwaiter(Awaiter inner, std::chrono::milliseconds timeout)
        : inner_(std::move(inner)), timeout_(timeout) {}
    /// Moving is for an awaiter not yet awaited.
    TimedAwaiter(TimedAwaiter&& other) noexcept
        : inner_(std::move(other.inner_)), timeout_(other.timeout_) {}
    TimedAwaiter& operator=(TimedAwaiter&&) = delete;
    /// Stops the timer if the awaiting coroutine is destroyed while it waits.
    ~TimedAwaiter() {
        if (task_ != nullptr) {
            fallback_.cancel();
            task_->end_region(this);
        }
    }

    /// Ready when the awaiter is (then no timer is armed).
    bool await_ready() { return inner_.await_ready(); }
    /// Awaits through the awaiter; starts the timer if that parked the task.
    bool await_suspend(std::coroutine_handle<> awaiting) {
        detail::TaskRuntime* task = detail::TaskRuntime::current();
        const unsigned cancels = task != nullptr ? task->cancel_count() : 0;
        if (!inner_.await_suspend(awaiting)) {
            return false; // done already (outside a ferry task: what was awaited says so)
        }
        if (task == nullptr) {
            return true; // outside a ferry task, parked in something else: nothing to time
        }
        // The task is parked somewhere inside this await (in `inner_`, or deeper when it
        // runs a Task): whatever it waits in when the time is up is what ends.
        task_ = task;
        cancels_before_ = cancels;
        if (!timer_.start(task_->loop(), timeout_, &TimedAwaiter::expired, this)) {
            // Every one of the loop's timeout lists ends later: a timer of its own.
            fallback_ = task_->loop().call_later(timeout_, [this] { expired(this); });
        }
        return true;
    }
    /// The awaiter's result; TimeoutError when the timer ended the wait.
    Result await_resume() {
        detail::TaskRuntime* task = std::exchange(task_, nullptr);
        if (task == nullptr) {
            return inner_.await_resume(); // never parked: no timer ran
        }
        timer_.stop();
        fallback_.cancel();
        task->end_region(this);
        if (!timed_out_) {
            return inner_.await_resume();
        }
        try {
            return inner_.await_resume(); // a wait that finished all the same keeps its result
        } catch (const CancelledError&) {
            if (task->cancel_count() != cancels_before_) {
                // The task was cancelled too: that wins (asyncio), and this is its delivery.
                task->forget_pending_cancel();
                throw;
            }
            detail::throw_timed_out(timeout_);
        }
    }
    /// The same wait as a Task (for create_task, gather, or awaiting it later).
    operator Task<Result>() && { return as_task(std::move(inner_), timeout_); }

private:
    static void expired(void* self) noexcept {
        auto& awaiter = *static_cast<TimedAwaiter*>(self);
        awaiter.timed_out_ = true;
        awaiter.task_->end_wait(self);
    }
    static Task<Result> as_task(Awaiter inner, std::chrono::milliseconds timeout) {
        co_return co_await TimedAwaiter(std::move(inner), timeout);
    }

    Awaiter inner_;
    std::chrono::milliseconds timeout_;
    detail::TaskRuntime* task_ = nullptr; // set while parked
    unsigned cancels_before_ = 0;
    detail::Timeout timer_;
    CallbackHandle fallback_;
    bool timed_out_ = false;
};

/// wait_for on one of the library's awaiters (`wait_for(reader.readline(), 2s)`): no task, no
/// frame (see TimedAwaiter). TimeoutError when the time runs out; the read consumes nothing.
template <detail::ParkingAwaiter Awaiter, class Rep, class Period>
TimedAwaiter<Awaiter> wait_for(Awaiter awaiter, std::chrono::duration<Rep, Period> timeout) {
    return TimedAwaiter<Awaiter>(std::move(awaiter),
                                 std::chrono::ceil<std::chrono::milliseconds>(timeout));
}

/// wait_for on a spawned task (asyncio.wait_for on a Task): on timeout the task is cancelled,
/// waited for, and TimeoutError is thrown; a task that catches the cancel and returns a value,
/// returns it. Cancelling the waiter cancels the task too. No coroutine of its own (see
/// TimedAwaiter).
template <class T, class Rep, class Period>
TimedAwaiter<detail::HandleAwaiter<T>> wait_for(TaskHandle<T> task,
                                                std::chrono::duration<Rep, Period> timeout) {
    return TimedAwaiter<detail::HandleAwaiter<T>>(
        detail::HandleAwaiter<T>(std::move(task)),
        std::chrono::ceil<std::chrono::milliseconds>(timeout));
}

/// wait_for on a Task (`wait_for(read_reply(reader), 1s)`): the task runs in the awaiting task,
/// as `co_await task` would, and nothing is spawned (see TimedAwaiter). On timeout the wait it
/// is parked in throws CancelledError inside it and this await throws TimeoutError; a task
/// that catches the CancelledError and returns a value, returns it.
template <class T, class Rep, class Period>
TimedAwaiter<detail::TaskAwaiter<T>> wait_for(Task<T> task,
                                              std::chrono::duration<Rep, Period> timeout) {
    return TimedAwaiter<detail::TaskAwaiter<T>>(
        detail::TaskAwaiter<T>(std::move(task)),
        std::chrono::ceil<std::chrono::milliseconds>(timeout));
}

/// wait_for on something whose `co_await` gives one of the library's awaiters (a Future: on
/// timeout the Future is cancelled, as asyncio's wait_for does).
template <class Awaitable, class Rep, class Period>
requires(!detail::ParkingAwaiter<Awaitable> && requires(const Awaitable& awaitable) {
    { awaitable.operator co_await() } -> detail::ParkingAwaiter;
}) auto wait_for(const Awaitable& awaitable, std::chrono::duration<Rep, Period> timeout) {
    return wait_for(awaitable.operator co_await(), timeout);
}

/// wait_for on any other awaitable: runs it as a task.
template <class Awaitable, class Rep, class Period>
requires(!detail::ParkingAwaiter<Awaitable> &&
         !requires(const Awaitable& awaitable) {
             { awaitable.operator co_await() } -> detail::ParkingAwaiter;
         }) auto wait_for(Awaitable awaitable, std::chrono::duration<Rep, Period> timeout)
    -> TimedAwaiter<detail::TaskAwaiter<decltype(std::declval<Awaitable&>().await_resume())>> {
    return wait_for(detail::as_task(std::move(awaitable)), timeout);
}

/// A scope for child tasks (asyncio.TaskGroup): wait() waits for all of them; when one fails,
/// the others are cancelled, wait() waits for them to finish and rethrows the first failure.
/// Cancelling the task in wait() cancels the children too. Destroying the group cancels any
/// child still running. Loop thread only.
class TaskGroup {
public:
    /// A group whose children run on `loop`.
    explicit TaskGroup(Loop& loop) : loop_(loop), state_(std::make_shared<State>()) {}
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    /// Cancels every child still running.
    ~TaskGroup() { state_->cancel_all(); }

    /// Spawns a child. Throws ferry::Error once a child has failed (the group is shutting).
    template <class T>
    TaskHandle<T> create_task(Task<T> task) {
        if (state_->first_error) {
            throw Error(make_error_code(errc::cancelled), "TaskGroup is shutting down");
        }
        TaskHandle<T> child = loop_.create_task(std::move(task));
        ++state_->running;
        state_->cancels.push_back([child] { child.cancel(); });
        child.add_done_callback([weak = std::weak_ptr<State>(state_), child] {
            std::exception_ptr error = child.exception();
            if (auto s = weak.lock()) {
                s->child_done(error, child.cancelled());
            }
        });
        return child;
    }
    /// Waits for every child; rethrows the first failure (after the rest have finished).
    Task<void> wait();

private:
    struct State {
        std::size_t running = 0;
        std::exception_ptr first_error;
        std::vector<std::function<void()>> cancels;
        Event changed;
        void cancel_all() {
            for (auto& cancel : cancels) {
                cancel();
            }
        }
        void child_done(std::exception_ptr error, bool cancelled) {
            --running;
            if (error && !cancelled && !first_error) {
                first_error = std::move(error);
                cancel_all();
            }
            changed.set();
        }
    };
    Loop& loop_;
    std::shared_ptr<State> state_;
};

} // namespace ferry
