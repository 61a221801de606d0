#pragma once
/// The runtime under coroutines: which task is running, what it waits in, and cancellation.
/// Library awaitables build on Suspension; users normally never see these types.

#include <coroutine>
#include <cstdint>

#include <ferry/detail/loop_access.hpp>
#include <ferry/loop.hpp>

namespace ferry::detail {

class Suspension;

/// One spawned task as the loop sees it: resumed through resume(), which makes it the
/// current task so that the awaitables it reaches can register with it. Loop thread only.
class TaskRuntime : public LoopResource {
public:
    explicit TaskRuntime(Loop& loop) : loop_(&loop) {}

    /// The loop the task runs on.
    Loop& loop() const noexcept { return *loop_; }
    /// The task being resumed on this thread right now, or null outside any task.
    static TaskRuntime* current() noexcept { return current_; }
    /// Resumes `handle` (a coroutine of this task) with this task as current.
    void resume(std::coroutine_handle<> handle) noexcept {
        TaskRuntime* previous = current_;
        current_ = this;
        handle.resume();
        current_ = previous;
    }
    /// Asks the task to stop: the awaitable it waits in (or the next one it reaches) throws
    /// CancelledError. False when the task has already finished.
    bool cancel() noexcept;
    /// True once the task has finished (value, exception or cancelled).
    bool done() const noexcept { return done_; }
    /// A timeout around some awaits (wait_for): ends the wait the task is parked in now as a
    /// cancel would (its await throws CancelledError), without cancelling the task. When the
    /// task is not parked (it is about to resume, or yields), the next wait it parks in ends
    /// instead, unless `region` calls end_region() first.
    void end_wait(const void* region) noexcept;
    /// `region` (what called end_wait) is over: a request to end the next wait that it made and
    /// that no wait has taken is dropped.
    void end_region(const void* region) noexcept {
        if (end_requested_by_ == region) {
            end_requested_by_ = nullptr;
            pending_ &= ~pending_end;
        }
    }
    /// How many times the task has been cancelled: a timeout compares it before and after to
    /// tell its own CancelledError from the task's (asyncio's `cancelling()`).
    unsigned cancel_count() const noexcept { return cancel_count_; }
    /// The task's cancel is being thrown already (as a timeout's CancelledError): it must not
    /// be thrown again at the next await.
    void forget_pending_cancel() noexcept { pending_ &= ~pending_cancel; }

protected:
    ~TaskRuntime() = default;
    bool done_ = false;

private:
    friend class Suspension;
    /// Takes what ends the next wait: the task's cancel first, else a timeout's request.
    void take_pending_end() noexcept {
        if ((pending_ & pending_cancel) != 0) {
            pending_ &= ~pending_cancel;
        } else {
            end_requested_by_ = nullptr;
            pending_ &= ~pending_end;
        }
    }
    // Inline, as the rest of a coroutine switch (docs/benchmarks.md, coroutine switches).
    static inline thread_local TaskRuntime* current_ = nullptr;
    Loop* loop_;
    Suspension* waiting_in_ = nullptr;
    // What ends the next wait: a cancel, a timeout's request (from end_requested_by_), or both.
    // One byte, so that parking tests one thing.
    static constexpr std::uint8_t pending_cancel = 1;
    static constexpr std::uint8_t pending_end = 2;
    std::uint8_t pending_ = 0;
    unsigned cancel_count_ = 0;
    const void* end_requested_by_ = nullptr;
};

/// Base of every library awaitable that parks a task and can be cancelled while parked.
/// Lives inside the awaiting coroutine's frame, between await_suspend and await_resume.
class Suspension {
public:
    Suspension(const Suspension&) = delete;
    Suspension& operator=(const Suspension&) = delete;

protected:
    Suspension() = default;
    /// Awaiters may be moved (returned, wrapped) only before they are awaited; the new one
    /// starts unparked.
    Suspension(Suspension&&) noexcept {}
    ~Suspension() {
        if (task_ != nullptr && task_->waiting_in_ == this) {
            task_->waiting_in_ = nullptr;
        }
    }

    /// Parks `handle` in the current task. A cancel already pending is delivered now through
    /// on_cancel(); when that returns true, park returns false (do not suspend) and
    /// await_resume throws CancelledError.
    bool park(std::coroutine_handle<> handle) noexcept {
        park_attempted_ = true;
        task_ = TaskRuntime::current();
        if (task_ == nullptr) {
            return false; // throw_if_cancelled reports the misuse
        }
        loop_ = task_->loop_;
        if (task_->pending_ != 0 && deliver_pending_cancel()) [[unlikely]] {
            return false;
        }
        handle_ = handle;
        task_->waiting_in_ = this;
        return true;
    }
    /// Yields: schedules `handle` to resume on the next loop iteration, without parking it
    /// (nothing wakes it earlier, so no cancellation hook is needed). A cancel that arrives
    /// meanwhile is thrown by throw_if_cancelled, at this await, as asyncio does for a task
    /// cancelled in `await asyncio.sleep(0)`. False (do not suspend) outside a task or with a
    /// cancel pending. The cheapest switch there is (docs/benchmarks.md).
    bool yield(std::coroutine_handle<> handle) noexcept {
        park_attempted_ = true;
        task_ = TaskRuntime::current();
        if (task_ == nullptr) {
            return false; // throw_if_cancelled reports the misuse
        }
        loop_ = task_->loop_;
        if (task_->pending_ != 0) {
            task_->take_pending_end();
            cancelled_ = true;
            return false;
        }
        yielded_ = true;
        woken_ = true;
        LoopAccess::resume_soon(*loop_, handle, task_);
        return true;
    }
    /// Schedules the parked coroutine to resume on the next loop iteration.
    void wake() noexcept;
    /// Resumes the parked coroutine now when no task is running (an I/O callback), else as
    /// wake(). For handing freshly received data to its reader while it is hot in cache.
    void wake_now() noexcept {
        if (woken_ || TaskRuntime::current_ != nullptr) {
            wake(); // inside a task: never resume another one re-entrantly
            return;
        }
        woken_ = true;
        if (task_->waiting_in_ == this) {
            task_->waiting_in_ = nullptr;
        }
        task_->resume(handle_);
    }
    /// In await_resume: throws CancelledError if the wait was cancelled.
    void throw_if_cancelled() const {
        if (cancelled_ || (park_attempted_ && task_ == nullptr) ||
            (yielded_ && (task_->pending_ & TaskRuntime::pending_cancel) != 0)) {
            throw_cancelled_or_misused();
        }
    }
    /// True when the wait ended by cancellation.
    bool was_cancelled() const noexcept { return cancelled_; }
    /// The loop of the parked task (valid once parked).
    Loop& loop() const noexcept;

    /// The task was cancelled while parked here. Stop waiting (leave wait lists, cancel
    /// timers) and return true to be woken at once with CancelledError; return false when
    /// the wait will end by itself soon (e.g. it waits for a task that is now cancelling).
    virtual bool on_cancel() noexcept = 0;

private:
    friend class TaskRuntime;
    [[noreturn]] void throw_cancelled_or_misused() const;
    /// park()'s rare path: a cancel came before this await. True when the wait ends now.
    bool deliver_pending_cancel() noexcept;
    std::coroutine_handle<> handle_;
    TaskRuntime* task_ = nullptr;
    Loop* loop_ = nullptr;
    bool cancelled_ = false;
    bool woken_ = false;
    bool park_attempted_ = false;
    bool yielded_ = false;
};

class WaitQueue;

/// A Suspension that waits in a WaitQueue (FIFO); cancelling it leaves the queue.
class Waiter : public Suspension {
public:
    /// Wakes the parked coroutine (after it was taken off its queue).
    void notify() noexcept { wake(); }
    /// Resumes the parked coroutine at once when called outside any task (see wake_now).
    void notify_now() noexcept { wake_now(); }

protected:
    Waiter() = default;
    /// Moving is for not-yet-awaited awaiters only: the new one is in no queue.
    Waiter(Waiter&& other) noexcept : Suspension(std::move(other)) {}
    ~Waiter();
    bool on_cancel() noexcept override;

private:
    friend class WaitQueue;
    /// Takes this waiter off the queue it is in.
    void leave_queue() noexcept;
    Waiter* prev_ = nullptr;
    Waiter* next_ = nullptr;
    WaitQueue* queue_ = nullptr;
};

/// An intrusive FIFO of parked waiters: what every primitive (Event, Lock, Queue, task
/// completion...) waits in. No allocation per wait.
class WaitQueue {
public:
    WaitQueue() = default;
    WaitQueue(const WaitQueue&) = delete;
    WaitQueue& operator=(const WaitQueue&) = delete;
    ~WaitQueue();

    // Inline, with Waiter's destructor and Suspension's park and wake_now: a read that waits
    // for data goes through all of them (docs/benchmarks.md, streams echo).
    /// Appends a waiter.
    void push_back(Waiter& waiter) noexcept {
        waiter.queue_ = this;
        waiter.prev_ = tail_;
        waiter.next_ = nullptr;
        (tail_ != nullptr ? tail_->next_ : head_) = &waiter;
        tail_ = &waiter;
    }
    /// Removes a waiter (no-op if it is not queued here).
    void remove(Waiter& waiter) noexcept {
        if (waiter.queue_ != this) {
            return;
        }
        (waiter.prev_ != nullptr ? waiter.prev_->next_ : head_) = waiter.next_;
        (waiter.next_ != nullptr ? waiter.next_->prev_ : tail_) = waiter.prev_;
        waiter.queue_ = nullptr;
        waiter.prev_ = waiter.next_ = nullptr;
    }
    /// Takes the first waiter off the queue, or null.
    Waiter* pop_front() noexcept {
        Waiter* first = head_;
        if (first != nullptr) {
            remove(*first);
        }
        return first;
    }
    /// Wakes the first waiter; false if there was none.
    bool wake_one() noexcept {
        Waiter* first = pop_front();
        if (first == nullptr) {
            return false;
        }
        first->notify();
        return true;
    }
    /// Wakes the first waiter, resuming it before returning when no task is running.
    bool wake_one_now() noexcept {
        Waiter* first = pop_front();
        if (first == nullptr) {
            return false;
        }
        first->notify_now();
        return true;
    }
    /// Wakes every waiter, in order.
    void wake_all() noexcept;
    /// True when nobody waits.
    bool empty() const noexcept { return head_ == nullptr; }

private:
    Waiter* head_ = nullptr;
    Waiter* tail_ = nullptr;
};

inline Waiter::~Waiter() {
    // Still queued only when the awaiting coroutine is destroyed while it waits: out of line,
    // so that every await's inlined destructor stays a test (fewer lines of code per await).
    if (queue_ != nullptr) [[unlikely]] {
        leave_queue();
    }
}

/// Parks the current task in `queue` until something wakes it (or it is cancelled).
class QueueWait : public Waiter {
public:
    /// A wait in `queue`, which must outlive it.
    explicit QueueWait(WaitQueue& queue) noexcept : queue_(queue) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
        if (!park(awaiting)) {
            return false;
        }
        queue_.push_back(*this);
        return true;
    }
    void await_resume() const { throw_if_cancelled(); }

private:
    WaitQueue& queue_;
};

/// The running loop of the current task; throws ferry::Error outside any task.
Loop& running_loop();

} // namespace ferry::detail
