#pragma once
/// Future<T>: a value that will be set later, to turn any callback API into an awaitable.

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <ferry/detail/task_runtime.hpp>
#include <ferry/error.hpp>
#include <ferry/loop.hpp>
#include <ferry/result.hpp>
#include <ferry/task.hpp>

namespace ferry {

/// A result that arrives later (asyncio.Future). Copies share the state: give one to the
/// callback that completes it and co_await another. Completing wakes every awaiter (on the
/// next iteration). Cancelling a task that awaits the future cancels the future, as in
/// asyncio. Loop thread only.
template <class T = void>
class Future {
    using Stored = std::conditional_t<std::is_void_v<T>, Empty, T>;

public:
    /// A pending future on `loop`.
    explicit Future(Loop& loop) : state_(std::make_shared<State>(loop)) {}

    /// True once a result, an exception or a cancellation was set.
    bool done() const noexcept { return state_->done; }
    /// True when cancelled.
    bool cancelled() const noexcept { return state_->cancelled; }

    /// Completes with a value. Throws ferry::Error if already done.
    template <class U = Stored>
    void set_result(U&& value = U{}) {
        check_pending("set_result");
        state_->value.emplace(std::forward<U>(value));
        complete();
    }
    /// Completes with an exception. Throws ferry::Error if already done.
    void set_exception(std::exception_ptr error) {
        check_pending("set_exception");
        state_->error = std::move(error);
        complete();
    }
    /// Completes from a callback-style Result.
    void set(Result<Stored> result) {
        if (result.ok()) {
            set_result(std::move(result).value());
        } else {
            set_exception(result.error());
        }
    }
    /// Cancels: awaiters get CancelledError. False if already done.
    bool cancel() {
        if (state_->done) {
            return false;
        }
        state_->cancelled = true;
        state_->error = std::make_exception_ptr(CancelledError());
        complete();
        return true;
    }
    /// The value; rethrows the exception; throws ferry::Error if not done yet.
    std::conditional_t<std::is_void_v<T>, void, T> result() const {
        if (!state_->done) {
            throw Error(make_error_code(errc::invalid_argument), "the future is not done yet");
        }
        if (state_->error) {
            std::rethrow_exception(state_->error);
        }
        if constexpr (!std::is_void_v<T>) {
            return *state_->value;
        }
    }
    /// The exception it completed with, or null.
    std::exception_ptr exception() const noexcept { return state_->error; }
    /// Runs `callback` on the loop once done (next iteration if it already is).
    void add_done_callback(std::function<void()> callback) {
        if (state_->done) {
            state_->loop.call_soon(std::move(callback));
        } else {
            state_->callbacks.push_back(std::move(callback));
        }
    }

    /// The awaiter behind co_await.
    struct Awaiter : detail::Waiter {
        explicit Awaiter(Future future) noexcept : future_(std::move(future)) {}
        bool await_ready() const noexcept { return future_.done(); }
        bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
            if (!park(awaiting)) {
                return false;
            }
            future_.state_->waiters.push_back(*this);
            return true;
        }
        auto await_resume() const {
            throw_if_cancelled();
            return future_.result();
        }
        bool on_cancel() noexcept override {
            Waiter::on_cancel(); // leave the queue first, then cancel the future (asyncio)
            future_.cancel();
            return true;
        }

    private:
        Future future_;
    };
    /// Waits for the result.
    Awaiter operator co_await() const noexcept { return Awaiter(*this); }

private:
    struct State {
        explicit State(Loop& l) : loop(l) {}
        Loop& loop;
        std::optional<Stored> value;
        std::exception_ptr error;
        bool done = false;
        bool cancelled = false;
        detail::WaitQueue waiters;
        std::vector<std::function<void()>> callbacks;
    };
    void check_pending(const char* what) const {
        if (state_->done) {
            throw Error(make_error_code(errc::invalid_argument),
                        std::string(what) + ": the future is already done");
        }
    }
    void complete() {
        state_->done = true;
        state_->waiters.wake_all();
        for (auto& callback : state_->callbacks) {
            state_->loop.call_soon(std::move(callback));
        }
        state_->callbacks.clear();
    }
    std::shared_ptr<State> state_;
};

/// Does nothing: what settle() undoes by default when the awaiter has gone.
struct KeepWhatArrivedLate {
    template <class Value>
    void operator()(Value&) const noexcept {}
};

/// The one adapter from a callback API to an awaitable: the completion callback that settles
/// `future` with the operation's Result. If the awaiter gave up first (it was cancelled, so
/// the future is done) and the operation succeeded anyway, `discard` undoes it — e.g. aborts
/// the transport that connected too late. Every awaitable factory is built on this.
template <class T, class Discard = KeepWhatArrivedLate>
std::function<void(Result<std::conditional_t<std::is_void_v<T>, Empty, T>>)>
settle(Future<T> future, Discard discard = {}) {
    using Stored = std::conditional_t<std::is_void_v<T>, Empty, T>;
    return [future, discard](Result<Stored> result) mutable {
        if (future.done()) {
            if (result.ok()) {
                discard(result.value());
            }
            return;
        }
        future.set(std::move(result));
    };
}

/// settle() for operations that report only an error code (empty = success): a failure
/// becomes the exception `describe(code)` returns.
template <class Describe>
std::function<void(std::error_code)> settle_on_error(Future<void> future, Describe describe) {
    return [future, describe](std::error_code error) mutable {
        if (future.done()) {
            return;
        }
        if (error) {
            future.set_exception(std::make_exception_ptr(describe(error)));
        } else {
            future.set_result();
        }
    };
}

/// Runs `work` on libuv's thread pool and yields its result on the loop thread (asyncio's
/// loop.run_in_executor). Cancelling the awaiting task stops the wait; a job that already
/// started runs to the end and its result is dropped. `work` must not touch the loop.
template <class Work, class Value = std::invoke_result_t<Work&>>
Task<Value> run_in_executor(Loop& loop, Work work) {
    using Stored = std::conditional_t<std::is_void_v<Value>, Empty, Value>;
    Future<Value> result(loop);
    loop.run_in_executor(std::move(work), std::function<void(Result<Stored>)>(settle(result)));
    co_return co_await result;
}

} // namespace ferry
