// The task runtime: the current task, parking and waking, and cancellation.
#include <ferry/detail/loop_access.hpp>
#include <ferry/detail/task_runtime.hpp>
#include <ferry/task_handle.hpp>

namespace ferry::detail {

bool TaskRuntime::cancel() noexcept {
    if (done_) {
        return false;
    }
    ++cancel_count_;
    Suspension* parked = waiting_in_;
    if (parked == nullptr || parked->woken_) {
        // Running, not started, or about to resume: the next await throws.
        pending_ |= pending_cancel;
        return true;
    }
    if (parked->on_cancel()) {
        parked->cancelled_ = true;
        parked->wake();
    }
    return true;
}

void TaskRuntime::end_wait(const void* region) noexcept {
    if (done_) {
        return;
    }
    Suspension* parked = waiting_in_;
    if (parked == nullptr || parked->woken_) {
        // About to resume (perhaps only to park again inside the region) or yielding: the next
        // wait ends. The first region to ask keeps the request; a region inside it that asks
        // too ends with it anyway.
        if (end_requested_by_ == nullptr) {
            end_requested_by_ = region;
            pending_ |= pending_end;
        }
        return;
    }
    if (parked->on_cancel()) {
        parked->cancelled_ = true;
        parked->wake();
    }
    // Otherwise the wait ends by itself soon (an awaited task is cancelling).
}

bool Suspension::deliver_pending_cancel() noexcept {
    // A cancel that came before this await is delivered here, once (as asyncio does), through
    // the same hook as a cancel while parked: a Future gets cancelled, an awaited task gets
    // cancelled and waited for. So is a timeout's request to end the next wait.
    task_->take_pending_end();
    if (on_cancel()) {
        cancelled_ = true;
        return true;
    }
    return false;
}

void Suspension::wake() noexcept {
    if (woken_) {
        return;
    }
    woken_ = true;
    if (task_->waiting_in_ == this) {
        task_->waiting_in_ = nullptr;
    }
    detail::LoopAccess::resume_soon(*loop_, handle_, task_);
}

void Suspension::throw_cancelled_or_misused() const {
    if (park_attempted_ && task_ == nullptr) {
        throw Error(make_error_code(errc::invalid_argument),
                    "a ferry awaitable was awaited outside a ferry task (use create_task or "
                    "run_until_complete)");
    }
    if (yielded_ && (task_->pending_ & TaskRuntime::pending_cancel) != 0) {
        task_->pending_ &= ~TaskRuntime::pending_cancel; // delivered here, once
    }
    throw CancelledError();
}

Loop& Suspension::loop() const noexcept {
    return *loop_;
}

Loop& running_loop() {
    TaskRuntime* task = TaskRuntime::current();
    if (task == nullptr) {
        throw Error(make_error_code(errc::invalid_argument), "no ferry task is running");
    }
    return task->loop();
}

} // namespace ferry::detail

namespace ferry::detail {

bool Waiter::on_cancel() noexcept {
    if (queue_ != nullptr) {
        leave_queue();
    }
    return true;
}

void Waiter::leave_queue() noexcept {
    queue_->remove(*this);
}

WaitQueue::~WaitQueue() {
    // Waiters still queued belong to frames that outlive this queue: detach them so their
    // destructors do not touch freed memory.
    for (Waiter* w = head_; w != nullptr;) {
        Waiter* next = w->next_;
        w->queue_ = nullptr;
        w->prev_ = w->next_ = nullptr;
        w = next;
    }
}

void WaitQueue::wake_all() noexcept {
    while (wake_one()) {
    }
}

} // namespace ferry::detail
