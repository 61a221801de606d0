#pragma once
/// asyncio's synchronisation primitives for tasks on one loop: Event, Lock, Semaphore,
/// BoundedSemaphore, Condition. Every wait is cancellable and waiters are served FIFO:
/// a released Lock or Semaphore is handed to the first waiter, never grabbed by a newcomer.
/// Loop thread only; not for synchronising threads.

#include <cstddef>
#include <functional>

#include <ferry/detail/task_runtime.hpp>
#include <ferry/task.hpp>

namespace ferry {

/// A flag tasks can wait for (asyncio.Event).
class Event {
public:
    /// True once set() was called (until clear()).
    bool is_set() const noexcept { return set_; }
    /// Sets the flag and wakes every waiter.
    void set() noexcept {
        set_ = true;
        waiters_.wake_all();
    }
    /// Clears the flag; later waits block again.
    void clear() noexcept { set_ = false; }

    /// The awaiter wait() returns: ready at once when the flag is set.
    struct WaitAwaiter : detail::QueueWait {
        explicit WaitAwaiter(Event& event) noexcept : QueueWait(event.waiters_), event_(event) {}
        bool await_ready() const noexcept { return event_.set_; }

    private:
        Event& event_;
    };
    /// Waits until the flag is set (returns at once if it is).
    WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }

private:
    bool set_ = false;
    detail::WaitQueue waiters_;
};

/// A counter of permits (asyncio.Semaphore): acquire takes one, waiting while none is free.
class Semaphore {
public:
    /// A semaphore with `value` permits. Throws ferry::Error for a negative value.
    explicit Semaphore(std::ptrdiff_t value = 1);
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;
    virtual ~Semaphore() = default;

    /// True when acquire() would wait.
    bool locked() const noexcept { return value_ == 0 || !waiters_.empty(); }
    /// Free permits.
    std::ptrdiff_t value() const noexcept { return value_; }
    /// Returns a permit: handed to the first waiter if there is one.
    virtual void release();

    /// The awaiter acquire() returns: takes a free permit at once, else queues.
    struct AcquireAwaiter : detail::QueueWait {
        explicit AcquireAwaiter(Semaphore& semaphore) noexcept
            : QueueWait(semaphore.waiters_), semaphore_(semaphore) {}
        bool await_ready() noexcept { return semaphore_.try_take(); }

    private:
        Semaphore& semaphore_;
    };
    /// Takes a permit, waiting (FIFO) while none is free.
    AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }

protected:
    friend class Condition; // a notified wait queues for the lock itself
    /// Takes a permit at once if one is free and nobody is queued before us.
    bool try_take() noexcept;
    std::ptrdiff_t value_;
    detail::WaitQueue waiters_;
};

/// A Semaphore that refuses to be released above its initial value (asyncio.BoundedSemaphore).
class BoundedSemaphore : public Semaphore {
public:
    /// A semaphore with `value` permits, never more.
    explicit BoundedSemaphore(std::ptrdiff_t value = 1) : Semaphore(value), bound_(value) {}
    /// Throws ferry::Error when every permit is already free.
    void release() override;

private:
    std::ptrdiff_t bound_;
};

class Condition;

/// A mutual-exclusion lock for tasks (asyncio.Lock). Not reentrant.
class Lock {
public:
    /// True while held.
    bool locked() const noexcept { return semaphore_.value() == 0; }
    /// Takes the lock, waiting (FIFO) while another task holds it.
    Semaphore::AcquireAwaiter acquire() noexcept { return semaphore_.acquire(); }
    /// Releases the lock (to the first waiter, if any). Throws ferry::Error if not held.
    void release();

    /// Releases a held lock when destroyed.
    class Guard {
    public:
        explicit Guard(Lock& lock) noexcept : lock_(&lock) {}
        Guard(Guard&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)) {}
        Guard& operator=(Guard&&) = delete;
        ~Guard() {
            if (lock_ != nullptr) {
                lock_->release();
            }
        }

    private:
        Lock* lock_;
    };
    /// The awaiter scoped() returns: acquire()'s, yielding a Guard. No coroutine frame.
    struct ScopedAwaiter : Semaphore::AcquireAwaiter {
        explicit ScopedAwaiter(Lock& lock) noexcept
            : AcquireAwaiter(lock.semaphore_), lock_(lock) {}
        /// The guard of the lock now held; CancelledError if cancelled while waiting.
        Guard await_resume() {
            AcquireAwaiter::await_resume();
            return Guard(lock_);
        }
        /// The same wait as a Task (for create_task, or awaiting it later).
        operator Task<Guard>() &&;

    private:
        Lock& lock_;
    };
    /// Takes the lock and returns a guard that releases it: `auto held = co_await lock.scoped();`
    ScopedAwaiter scoped() noexcept { return ScopedAwaiter(*this); }

private:
    friend class Condition; // a notified wait queues for the lock itself
    Semaphore semaphore_{1};
};

/// A condition variable for tasks (asyncio.Condition), tied to a Lock.
class Condition {
public:
    /// A condition using `lock` (which must outlive it).
    explicit Condition(Lock& lock) noexcept : lock_(lock) {}

    /// The lock this condition uses.
    Lock& lock() noexcept { return lock_; }

    /// The awaiter wait() returns. It moves from the condition's queue to the lock's when
    /// notified or cancelled, so it resumes holding the lock without a coroutine frame.
    class WaitAwaiter : public detail::Waiter {
    public:
        /// A wait on `condition`.
        explicit WaitAwaiter(Condition& condition) noexcept : condition_(condition) {}
        /// Moving is for an awaiter not yet awaited.
        WaitAwaiter(WaitAwaiter&& other) noexcept
            : Waiter(std::move(other)), condition_(other.condition_) {}
        bool await_ready() const noexcept { return false; }
        /// Releases the lock and waits in the condition's queue. Throws ferry::Error if the
        /// lock is not held.
        bool await_suspend(std::coroutine_handle<> awaiting);
        /// Returns holding the lock; CancelledError (still holding it) if cancelled.
        void await_resume() const;
        /// The same wait as a Task (for create_task, or awaiting it later).
        operator Task<void>() &&;

    private:
        friend class Condition;
        enum class Phase { not_parked, notify, lock };
        bool on_cancel() noexcept override;
        /// Off the condition's queue: takes the lock (and wakes) or queues for it. True when
        /// it took the lock.
        bool acquire_lock() noexcept;

        Condition& condition_;
        Phase phase_ = Phase::not_parked;
        bool cancel_seen_ = false; // cancelled after releasing the lock: thrown once it is back
    };
    /// With the lock held: releases it, waits for notify, and re-acquires it before returning
    /// (also when cancelled, as asyncio does). Throws ferry::Error if the lock is not held.
    WaitAwaiter wait() noexcept { return WaitAwaiter(*this); }
    /// Waits until `predicate()` is true, re-checking after each notify. Lock held throughout.
    Task<void> wait_for(std::function<bool()> predicate);
    /// Wakes up to `n` waiters. Requires the lock to be held.
    void notify(std::size_t n = 1);
    /// Wakes every waiter. Requires the lock to be held.
    void notify_all();

private:
    Lock& lock_;
    detail::WaitQueue waiters_;
};

} // namespace ferry
