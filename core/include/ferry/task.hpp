#pragma once
/// Task<T>: ferry's coroutine type. (Spawned tasks, TaskHandle and create_task are in
/// <ferry/task_handle.hpp>.)

#include <coroutine>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <ferry/detail/block_pool.hpp>
#include <ferry/error.hpp>

namespace ferry {

template <class T = void>
class Task;

namespace detail {

/// What every Task promise has: the coroutine to resume when it ends, and its exception.
///
/// Why not plain symmetric transfer: GCC 12 turns it into a tail call only at -O2, so in debug
/// builds a loop of a million synchronously completing awaits would overflow the stack. So
/// the awaiter runs the task inline and, if the task ends before that call returns, the
/// awaiter simply continues (await_suspend returns false): constant stack at any -O level.
/// A task that ends later (after suspending) transfers to its awaiter as usual.
struct TaskPromiseBase {
    std::coroutine_handle<> continuation = std::noop_coroutine();
    std::exception_ptr error;
    bool running_inline = false;  // inside the awaiter's await_suspend
    bool finished_inline = false; // ended before that call returned

    /// Frames come from the thread's frame pool (a Task is allocated per await of most
    /// library calls).
    static void* operator new(std::size_t size) { return allocate_block(size); }
    /// Gives the frame back to the pool.
    static void operator delete(void* memory, std::size_t size) noexcept {
        free_block(memory, size);
    }

    /// Lazy: nothing runs until the task is awaited or spawned.
    std::suspend_always initial_suspend() noexcept { return {}; }

    /// Ends by returning to an awaiter still in await_suspend, or transferring to it.
    struct FinalAwaiter {
        bool await_ready() noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> done) noexcept {
            TaskPromiseBase& promise = done.promise();
            if (promise.running_inline) {
                promise.finished_inline = true;
                return std::noop_coroutine();
            }
            return promise.continuation;
        }
        void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { error = std::current_exception(); }
};

/// The promise of Task<T>: holds the value until the awaiter takes it.
template <class T>
struct TaskPromise : TaskPromiseBase {
    std::optional<T> value;
    Task<T> get_return_object() noexcept;
    template <class U>
    void return_value(U&& result) {
        value.emplace(std::forward<U>(result));
    }
    T take() {
        if (error) {
            std::rethrow_exception(error);
        }
        return std::move(*value);
    }
};

/// The promise of Task<void>.
template <>
struct TaskPromise<void> : TaskPromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() const {
        if (error) {
            std::rethrow_exception(error);
        }
    }
};

} // namespace detail

/// A lazily started coroutine producing a T (or an exception). Move-only. Awaiting it runs it;
/// long chains of synchronously completing awaits do not grow the stack (at any -O level). Take
/// parameters by value: a reference parameter dangles at the first suspension.
template <class T>
class [[nodiscard]] Task {
public:
    /// The coroutine promise type.
    using promise_type = detail::TaskPromise<T>;

    /// An empty task (awaiting it throws).
    Task() noexcept = default;
    /// Takes over the coroutine.
    Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    /// Takes over the coroutine, destroying the one held.
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, {});
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    /// Destroys the coroutine frame (a task never awaited never runs).
    ~Task() { reset(); }

    /// True when this holds a coroutine.
    explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

    /// Awaiting runs the task to completion and yields its value or rethrows its exception.
    auto operator co_await() noexcept {
        struct Awaiter {
            std::coroutine_handle<promise_type> task;
            bool await_ready() const noexcept { return !task; }
            bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
                promise_type& promise = task.promise();
                promise.continuation = awaiting;
                promise.running_inline = true;
                task.resume();
                promise.running_inline = false;
                return !promise.finished_inline; // finished already: continue without suspending
            }
            T await_resume() {
                if (!task) {
                    throw Error(make_error_code(errc::invalid_argument),
                                "awaited an empty ferry::Task");
                }
                return task.promise().take();
            }
        };
        return Awaiter{handle_};
    }

private:
    friend struct detail::TaskPromise<T>;
    explicit Task(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
    void reset() noexcept {
        if (handle_) {
            handle_.destroy();
            handle_ = {};
        }
    }
    std::coroutine_handle<promise_type> handle_;
};

namespace detail {

template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}

inline Task<void> TaskPromise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

} // namespace detail
} // namespace ferry
