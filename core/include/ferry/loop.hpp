#pragma once
/// Loop: the event loop (one uv_loop_t), its callbacks, timers, signals and executor.

#include <chrono>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include <ferry/result.hpp>

struct uv_loop_s;

namespace ferry {

class Loop;

namespace detail {
struct ScheduledCallback;
struct TimerEntry;
class TimeoutList;
class TaskRuntime;
class LoopResource;
class LoopAccess;
} // namespace detail

template <class T>
class Task;
template <class T>
class TaskHandle;

/// A cancellable reference to a callback scheduled with call_soon, call_later or call_at.
/// Dropping the handle does not cancel the callback. Loop thread only.
class CallbackHandle {
public:
    /// A handle that refers to nothing.
    CallbackHandle() = default;
    /// Prevents the callback from running (if it has not run yet) and releases what it captured.
    void cancel() noexcept;
    /// True when cancel() was called before the callback ran.
    bool cancelled() const noexcept;

private:
    friend class Loop;
    explicit CallbackHandle(std::shared_ptr<detail::ScheduledCallback> state)
        : state_(std::move(state)) {}
    std::shared_ptr<detail::ScheduledCallback> state_;
};

/// What the exception handler receives when something escapes a callback.
struct ExceptionContext {
    /// Where it happened, e.g. "exception in call_soon callback".
    std::string message;
    /// The exception itself (may be null when the report carries only a message).
    std::exception_ptr exception;
};

/// The event loop: one uv_loop_t driven by one thread. Nothing here is thread-safe except
/// call_soon_threadsafe() and stop(). Destroying the loop closes everything still open on it
/// (connection_lost runs for each open transport) and releases every libuv handle.
class Loop {
public:
    /// A callback run on the loop thread.
    using Callback = std::function<void()>;
    /// Receives what escapes a callback. Runs on the loop thread.
    using ExceptionHandler = std::function<void(const ExceptionContext&)>;

    /// Creates a loop with its own uv_loop_t.
    Loop();
    /// Calls close() if it has not been called.
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    /// Closes everything still open (connection_lost runs for each open transport), drops
    /// pending callbacks, runs until libuv has released every handle, then closes the
    /// uv_loop_t. Throws ferry::Error if the loop is running or libuv reports a handle still
    /// open (a leak). Safe to call twice; nothing may be scheduled afterwards.
    void close();
    /// True once close() has finished.
    bool is_closed() const noexcept;

    /// Runs until stop() is called (asyncio's run_forever).
    void run();
    /// Runs one iteration; blocks for I/O only when `block` is true and nothing is ready.
    void run_once(bool block = true);
    /// Runs the loop until the operation `start` begins has reported, then returns its value
    /// or throws its error (asyncio's run_until_complete). `start` receives the completion
    /// callback to pass on, e.g. `[&](auto done) { create_server(loop, f, "", 80, {}, done); }`.
    /// Throws ferry::Error if stop() is called before the operation completes.
    template <class T>
    T run_until_complete(const std::function<void(std::function<void(Result<T>)>)>& start);
    /// Spawns `task` as a task the loop owns; it starts on the next iteration. The handle
    /// cancels it, tells whether it is done and gives its result. (Defined in task_handle.hpp.)
    template <class T>
    TaskHandle<T> create_task(Task<T> task);
    /// Runs the loop until `task` finishes; returns its value or rethrows its exception.
    /// (Defined in task_handle.hpp.)
    template <class T>
    T run_until_complete(Task<T> task);
    /// Makes run() return after the current iteration. Thread-safe.
    void stop() noexcept;
    /// True while run() or run_once() executes.
    bool is_running() const noexcept;

    /// The loop's monotonic clock in milliseconds, read now (it also refreshes libuv's cached
    /// time, which timers count from).
    std::chrono::milliseconds time() const noexcept;

    /// Runs `callback` on the next iteration, after those already scheduled (FIFO).
    CallbackHandle call_soon(Callback callback);
    /// Runs `callback` once `delay` has passed, counted from this call (never early, even when
    /// the current callback has already run a while; rounded up to milliseconds).
    template <class Rep, class Period>
    CallbackHandle call_later(std::chrono::duration<Rep, Period> delay, Callback callback) {
        return call_later_ms(std::chrono::ceil<std::chrono::milliseconds>(delay),
                             std::move(callback));
    }
    /// Runs `callback` when time() reaches `when` (never before, however long the current
    /// callback has run).
    CallbackHandle call_at(std::chrono::milliseconds when, Callback callback);
    /// Schedules `callback` from any thread; callbacks from one thread run in the order posted.
    void call_soon_threadsafe(Callback callback);

    /// Runs `work` on libuv's thread pool and delivers its result (or exception) to `done`
    /// on the loop thread. `work` must not touch the loop.
    template <class Work, class Value = std::invoke_result_t<Work&>>
    void run_in_executor(
        Work work,
        std::function<void(Result<std::conditional_t<std::is_void_v<Value>, Empty, Value>>)> done);

    /// Calls `handler` on the loop thread whenever signal `signum` arrives; replaces any
    /// previous handler for it. Throws ferry::Error for an invalid signal number.
    void add_signal_handler(int signum, Callback handler);
    /// Removes the handler for `signum`; false if there was none.
    bool remove_signal_handler(int signum);

    /// Replaces the exception handler (null restores the default, which logs).
    void set_exception_handler(ExceptionHandler handler);
    /// Reports `context` to the exception handler; never throws.
    void call_exception_handler(const ExceptionContext& context) noexcept;
    /// The default handler: logs the message and exception at error level.
    static void default_exception_handler(const ExceptionContext& context);

private:
    // The implementer side (transports, protocols, awaitables), reached through
    // detail::LoopAccess in <ferry/detail/loop_access.hpp>.
    friend class detail::LoopAccess;
    friend class CallbackHandle; // a cancelled timer goes back to the loop
    struct Impl;
    uv_loop_s* native() noexcept;
    static Loop& from_native(uv_loop_s* native) noexcept;
    std::span<std::byte> read_buffer() noexcept { return {read_buffer_, read_buffer_size}; }
    void register_resource(detail::LoopResource& resource) noexcept;
    void unregister_resource(detail::LoopResource& resource) noexcept;
    bool is_shutting_down() const noexcept;
    void resume_soon(std::coroutine_handle<> handle, detail::TaskRuntime* task) noexcept;
    std::weak_ptr<void> lifetime_token() const noexcept;
    /// Runs `fn`, reporting what it throws to the exception handler (see detail::invoke_guarded).
    template <class Fn>
    bool invoke_guarded(const char* where, Fn&& fn) noexcept {
        try {
            std::forward<Fn>(fn)();
            return true;
        } catch (...) {
            call_exception_handler({where, std::current_exception()});
            return false;
        }
    }

    CallbackHandle call_later_ms(std::chrono::milliseconds delay, Callback callback);
    CallbackHandle arm_timer(std::chrono::milliseconds delay, bool relative, Callback callback);
    /// Stops a timer that fired or was cancelled and keeps it for the next one (or closes it).
    void retire_timer(detail::TimerEntry& timer) noexcept;
    /// A list of wait_for timeouts that a timeout due at `due` (the loop's milliseconds) can
    /// join in order; null when closing or when TimeoutList::max_lists lists end later.
    detail::TimeoutList* timeout_list(std::uint64_t due);
    unsigned stop_count() const noexcept;
    void close_open_resources() noexcept;
    void start_idle() noexcept;
    void queue_work(std::function<void()> work, std::function<void(bool cancelled)> after);

    std::unique_ptr<Impl> impl_;
    // Every read asks for it: kept here, inline, rather than behind impl_.
    static constexpr std::size_t read_buffer_size = 256 * 1024;
    std::byte* read_buffer_ = nullptr;
};

template <class T>
T Loop::run_until_complete(const std::function<void(std::function<void(Result<T>)>)>& start) {
    // Shared with the callback, which may outlive this call if stop() ends it early.
    auto result = std::make_shared<std::optional<Result<T>>>();
    start([result](Result<T> r) { result->emplace(std::move(r)); });
    const unsigned stops = stop_count();
    while (!result->has_value()) {
        run_once(true);
        if (!result->has_value() && stop_count() != stops) {
            throw Error(make_error_code(errc::cancelled),
                        "run_until_complete: the loop was stopped before the operation completed");
        }
    }
    return std::move(**result).value();
}

template <class Work, class Value>
void Loop::run_in_executor(
    Work work,
    std::function<void(Result<std::conditional_t<std::is_void_v<Value>, Empty, Value>>)> done) {
    using Stored = std::conditional_t<std::is_void_v<Value>, Empty, Value>;
    // The slot is written on a pool thread and read on the loop thread; libuv's work queue
    // orders the two (the after-callback runs only once the work function returned).
    auto slot = std::make_shared<std::exception_ptr>();
    auto value = std::make_shared<std::optional<Stored>>();
    queue_work(
        [work = std::move(work), slot, value]() mutable {
            try {
                if constexpr (std::is_void_v<Value>) {
                    work();
                    value->emplace();
                } else {
                    value->emplace(work());
                }
            } catch (...) {
                *slot = std::current_exception();
            }
        },
        [this, slot, value, done = std::move(done)](bool cancelled) {
            invoke_guarded("exception in run_in_executor callback", [&] {
                if (cancelled) {
                    done(Result<Stored>::failure(make_error_code(errc::cancelled),
                                                 "executor job cancelled"));
                } else if (*slot) {
                    done(Result<Stored>(*slot));
                } else {
                    done(Result<Stored>(std::move(**value)));
                }
            });
        });
}

} // namespace ferry
