#pragma once
/// Waiting on several tasks: wait_for (timeout), gather, wait, and TaskGroup — asyncio's
/// semantics, on Task<T> / TaskHandle<T>.

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <ferry/future.hpp>
#include <ferry/sync.hpp>
#include <ferry/task.hpp>
#include <ferry/task_handle.hpp>

namespace ferry {

namespace detail {
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

/// Waits for `task` at most `timeout` (asyncio.wait_for): on timeout the task is cancelled,
/// waited for, and TimeoutError is thrown. Cancelling the waiter cancels the task too.
template <class T, class Rep, class Period>
Task<T> wait_for(TaskHandle<T> task, std::chrono::duration<Rep, Period> timeout) {
    Loop& loop = get_running_loop();
    auto timed_out = std::make_shared<bool>(false);
    CallbackHandle timer = loop.call_later(timeout, [task, timed_out] {
        *timed_out = true;
        task.cancel();
    });
    std::exception_ptr error;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await task;
            timer.cancel();
            co_return;
        } else {
            auto value = co_await task;
            timer.cancel();
            co_return value;
        }
    } catch (const CancelledError&) {
        error = std::current_exception();
    }
    timer.cancel();
    if (*timed_out) {
        throw TimeoutError(
            std::make_error_code(std::errc::timed_out),
            "wait_for: timed out after " +
                std::to_string(std::chrono::ceil<std::chrono::milliseconds>(timeout).count()) +
                " ms");
    }
    std::rethrow_exception(error);
}

/// wait_for on a Task not spawned yet: spawns it first.
template <class T, class Rep, class Period>
Task<T> wait_for(Task<T> task, std::chrono::duration<Rep, Period> timeout) {
    return wait_for(get_running_loop().create_task(std::move(task)), timeout);
}

/// wait_for on any other awaitable (a Future, an Event wait, a Queue get...).
template <class Awaitable, class Rep, class Period>
auto wait_for(Awaitable awaitable, std::chrono::duration<Rep, Period> timeout)
    -> Task<decltype(std::declval<Awaitable&>().await_resume())> {
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
