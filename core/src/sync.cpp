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

Task<void> Condition::wait() {
    if (!lock_.locked()) {
        throw Error(make_error_code(errc::invalid_argument),
                    "Condition.wait() needs the lock held");
    }
    lock_.release();
    std::exception_ptr cancelled;
    try {
        co_await detail::QueueWait(waiters_);
    } catch (const CancelledError&) {
        cancelled = std::current_exception();
    }
    // Re-acquire before returning, even when cancelled: callers rely on holding the lock.
    for (;;) {
        try {
            co_await lock_.acquire();
            break;
        } catch (const CancelledError&) {
            cancelled = std::current_exception();
        }
    }
    if (cancelled) {
        std::rethrow_exception(cancelled);
    }
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
    for (std::size_t i = 0; i < n && waiters_.wake_one(); ++i) {
    }
}

void Condition::notify_all() {
    if (!lock_.locked()) {
        throw Error(make_error_code(errc::invalid_argument),
                    "Condition.notify_all() needs the lock held");
    }
    waiters_.wake_all();
}

} // namespace ferry
