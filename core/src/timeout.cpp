// wait_for's timeouts: lists in the order they fall due, under one libuv timer each.
#include "timeout_list.hpp"

#include <algorithm>

namespace ferry::detail {

bool Timeout::start(Loop& loop, std::chrono::milliseconds duration, Expired expired,
                    void* context) {
    stop();
    // As call_later: the cached time may be stale by however long this iteration has run, and
    // `duration` counts from anywhere inside the current millisecond, hence one more.
    uv_loop_t* uv = LoopAccess::native(loop);
    uv_update_time(uv);
    const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0));
    const std::uint64_t due = uv_now(uv) + ms + (ms > 0 ? 1 : 0);
    TimeoutList* list = LoopAccess::timeout_list(loop, due);
    if (list == nullptr) {
        return false;
    }
    expired_ = expired;
    context_ = context;
    list->add(*this, due);
    return true;
}

void Timeout::unlink() noexcept {
    list_->remove(*this);
}

TimeoutList::TimeoutList(Loop& loop) : loop_(loop) {
    uv_timer_init(LoopAccess::native(loop), &timer_);
    timer_.data = this;
    LoopAccess::register_resource(loop, *this);
}

void TimeoutList::add(Timeout& timeout, std::uint64_t due) noexcept {
    timeout.due_ = due;
    last_due_ = due;
    timeout.list_ = this;
    timeout.prev_ = tail_;
    timeout.next_ = nullptr;
    (tail_ != nullptr ? tail_->next_ : head_) = &timeout;
    tail_ = &timeout;
    if (!armed_ || due < armed_due_) {
        arm(due); // otherwise armed for an earlier one (later only when the list was empty)
    }
}

void TimeoutList::remove(Timeout& timeout) noexcept {
    (timeout.prev_ != nullptr ? timeout.prev_->next_ : head_) = timeout.next_;
    (timeout.next_ != nullptr ? timeout.next_->prev_ : tail_) = timeout.prev_;
    timeout.list_ = nullptr;
    timeout.prev_ = timeout.next_ = nullptr;
}

void TimeoutList::arm(std::uint64_t due) noexcept {
    const std::uint64_t now = uv_now(timer_.loop);
    uv_timer_start(&timer_, on_timer, due > now ? due - now : 0, 0);
    armed_ = true;
    armed_due_ = due;
}

void TimeoutList::on_timer(uv_timer_t* timer) {
    auto* self = static_cast<TimeoutList*>(timer->data);
    self->armed_ = false;
    const std::uint64_t now = uv_now(timer->loop);
    while (self->head_ != nullptr && self->head_->due_ <= now) {
        Timeout& expired = *self->head_;
        self->remove(expired);
        expired.expired_(expired.context_);
    }
    if (self->head_ != nullptr && !self->armed_) {
        self->arm(self->head_->due_);
    }
}

void TimeoutList::close() noexcept {
    for (Timeout* timeout = head_; timeout != nullptr;) {
        Timeout* next = timeout->next_;
        timeout->list_ = nullptr;
        timeout->prev_ = timeout->next_ = nullptr;
        timeout = next;
    }
    head_ = tail_ = nullptr;
    auto* handle = reinterpret_cast<uv_handle_t*>(&timer_);
    if (!uv_is_closing(handle)) {
        uv_close(handle, [](uv_handle_t* closed) {
            auto* self = static_cast<TimeoutList*>(closed->data);
            LoopAccess::unregister_resource(self->loop_, *self);
            delete self;
        });
    }
}

} // namespace ferry::detail
