// The task runtime: the current task, parking and waking, and cancellation.
#include <ferry/detail/loop_access.hpp>
#include <ferry/detail/task_runtime.hpp>
#include <ferry/task_handle.hpp>

namespace ferry::detail {

bool TaskRuntime::cancel() noexcept {
    if (done_) {
        return false;
    }
    Suspension* parked = waiting_in_;
    if (parked == nullptr || parked->woken_) {
        // Running, not started, or about to resume: the next await throws.
        cancel_requested_ = true;
        return true;
    }
    if (parked->on_cancel()) {
        parked->cancelled_ = true;
        parked->wake();
    }
    return true;
}

bool TaskRuntime::end_wait() noexcept {
    Suspension* parked = waiting_in_;
    if (done_ || parked == nullptr || parked->woken_ || !parked->on_cancel()) {
        return false;
    }
    parked->cancelled_ = true;
    parked->wake();
    return true;
}

bool Suspension::deliver_pending_cancel() noexcept {
    // A cancel that came before this await is delivered here, once (as asyncio does), through
    // the same hook as a cancel while parked: a Future gets cancelled, an awaited task gets
    // cancelled and waited for.
    task_->cancel_requested_ = false;
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
    if (yielded_ && task_->cancel_requested_) {
        task_->cancel_requested_ = false; // delivered here, once
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
        queue_->remove(*this);
    }
    return true;
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
