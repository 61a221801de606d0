// Event, Semaphore, BoundedSemaphore, Lock and Condition: hand-off on release keeps them FIFO.
#include <ferry/sync.hpp>

namespace ferry {

Semaphore::Semaphore(std::ptrdiff_t value) : value_(value) {
    if (value < 0) {
        throw Error(make_error_code(errc::invalid_argument),
                    "Semaphore: initial value must be >= 0, not " + std::to_string(value));
    }
}

bool Semaphore::try_take() noexcept {
    if (value_ > 0 && waiters_.empty()) {
        --value_;
        return true;
    }
    return false;
}

void Semaphore::release() {
    // The permit goes straight to the first waiter: a task that arrives later cannot take it.
    if (!waiters_.wake_one()) {
        ++value_;
    }
}

void BoundedSemaphore::release() {
    if (value_ >= bound_ && waiters_.empty()) {
        throw Error(make_error_code(errc::invalid_argument),
                    "BoundedSemaphore released too many times (bound " + std::to_string(bound_) +
                        ")");
    }
    Semaphore::release();
}

void Lock::release() {
    if (!locked()) {
        throw Error(make_error_code(errc::invalid_argument), "Lock is not acquired");
    }
    semaphore_.release();
}

namespace {
Task<Lock::Guard> scoped_task(Lock& lock) {
    co_return co_await lock.scoped();
}
} // namespace

Lock::ScopedAwaiter::operator Task<Guard>() && {
    return scoped_task(lock_);
}

bool Condition::WaitAwaiter::await_suspend(std::coroutine_handle<> awaiting) {
    if (!condition_.lock_.locked()) {
        throw Error(make_error_code(errc::invalid_argument),
                    "Condition.wait() needs the lock held");
    }
    if (!park(awaiting)) {
        return false; // a cancel came first: CancelledError, the lock never left
    }
    condition_.lock_.release();
    phase_ = Phase::notify;
    condition_.waiters_.push_back(*this);
    return true;
}

bool Condition::WaitAwaiter::acquire_lock() noexcept {
    phase_ = Phase::lock;
    Semaphore& lock = condition_.lock_.semaphore_;
    if (lock.try_take()) {
        return true;
    }
    lock.waiters_.push_back(*this); // the release that hands it over wakes this wait
    return false;
}

bool Condition::WaitAwaiter::on_cancel() noexcept {
    switch (phase_) {
    case Phase::not_parked:
        return true; // delivered at park: the lock was not released
    case Phase::notify:
        // Re-acquire before returning, even when cancelled: callers rely on holding the lock.
        Waiter::on_cancel(); // off the condition's queue
        cancel_seen_ = true;
        return acquire_lock(); // got it: end now; else the hand-over ends the wait
    case Phase::lock:
        cancel_seen_ = true; // asyncio keeps waiting for the lock through a cancel
        return false;
    }
    return false;
}

void Condition::WaitAwaiter::await_resume() const {
    throw_if_cancelled();
    if (cancel_seen_) {
        throw CancelledError();
    }
}

namespace {
Task<void> condition_wait_task(Condition& condition) {
    co_await condition.wait();
}
} // namespace

Condition::WaitAwaiter::operator Task<void>() && {
    return condition_wait_task(condition_);
}

Task<void> Condition::wait_for(std::function<bool()> predicate) {
    while (!predicate()) {
        co_await wait();
    }
}

void Condition::notify(std::size_t n) {
    if (!lock_.locked()) {
        throw Error(make_error_code(errc::invalid_argument),
                    "Condition.notify() needs the lock held");
    }
    for (std::size_t i = 0; i < n; ++i) {
        auto* waiter = static_cast<WaitAwaiter*>(waiters_.pop_front());
        if (waiter == nullptr) {
            break;
        }
        if (waiter->acquire_lock()) {
            waiter->notify(); // the lock was free after all (never while notify holds it)
        }
    }
}

void Condition::notify_all() {
    if (!lock_.locked()) {
        throw Error(make_error_code(errc::invalid_argument),
                    "Condition.notify_all() needs the lock held");
    }
    notify(static_cast<std::size_t>(-1));
}

} // namespace ferry
