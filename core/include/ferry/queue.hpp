#pragma once
/// Queue<T>: asyncio.Queue for tasks on one loop — bounded, FIFO for items and for waiters,
/// with join() / task_done().

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include <ferry/detail/task_runtime.hpp>
#include <ferry/error.hpp>

namespace ferry {

/// put_nowait on a full queue.
class QueueFull : public Error {
public:
    QueueFull() : Error(make_error_code(errc::limit_overrun), "queue is full") {}
};

/// get_nowait on an empty queue.
class QueueEmpty : public Error {
public:
    QueueEmpty() : Error(make_error_code(errc::invalid_argument), "queue is empty") {}
};

/// A FIFO queue between tasks. `maxsize` 0 means unbounded. An item put while a getter waits
/// goes straight to the first getter, and a slot freed while a putter waits goes to the first
/// putter, so waiters are served strictly in order and a cancelled wait loses no item.
/// Loop thread only.
template <class T>
class Queue {
public:
    /// A queue holding at most `maxsize` items (0: unbounded).
    explicit Queue(std::size_t maxsize = 0) noexcept : maxsize_(maxsize) {}
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    /// Items held.
    std::size_t size() const noexcept { return items_.size(); }
    /// The bound given at construction (0: none).
    std::size_t maxsize() const noexcept { return maxsize_; }
    /// True when no item is held.
    bool empty() const noexcept { return items_.empty(); }
    /// True when put() would wait.
    bool full() const noexcept { return maxsize_ != 0 && items_.size() >= maxsize_; }

    /// Adds an item without waiting; throws QueueFull when full.
    void put_nowait(T item) {
        if (!try_put(item)) {
            throw QueueFull();
        }
    }
    /// Removes the oldest item without waiting; throws QueueEmpty when empty.
    T get_nowait() {
        std::optional<T> item = try_get();
        if (!item) {
            throw QueueEmpty();
        }
        return std::move(*item);
    }

    /// The awaiter put() returns.
    struct PutAwaiter : detail::Waiter {
        PutAwaiter(Queue& queue, T item) : queue_(queue), item_(std::move(item)) {}
        bool await_ready() { return queue_.try_put(item_); }
        bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
            if (!park(awaiting)) {
                return false;
            }
            queue_.putters_.push_back(*this);
            return true;
        }
        void await_resume() const { throw_if_cancelled(); }

    private:
        friend class Queue;
        Queue& queue_;
        T item_;
    };
    /// Adds an item, waiting while the queue is full.
    PutAwaiter put(T item) { return PutAwaiter(*this, std::move(item)); }

    /// The awaiter get() returns.
    struct GetAwaiter : detail::Waiter {
        explicit GetAwaiter(Queue& queue) noexcept : queue_(queue) {}
        bool await_ready() {
            slot_ = queue_.try_get();
            return slot_.has_value();
        }
        bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
            if (!park(awaiting)) {
                return false;
            }
            queue_.getters_.push_back(*this);
            return true;
        }
        T await_resume() {
            throw_if_cancelled();
            return std::move(*slot_);
        }

    private:
        friend class Queue;
        Queue& queue_;
        std::optional<T> slot_;
    };
    /// Removes the oldest item, waiting while the queue is empty.
    GetAwaiter get() noexcept { return GetAwaiter(*this); }

    /// Marks one item taken by get() as processed. Throws ferry::Error if called more times
    /// than items were put.
    void task_done() {
        if (unfinished_ == 0) {
            throw Error(make_error_code(errc::invalid_argument),
                        "task_done() called more times than items were put");
        }
        if (--unfinished_ == 0) {
            joiners_.wake_all();
        }
    }

    /// The awaiter join() returns: ready at once when nothing is unfinished.
    struct JoinAwaiter : detail::QueueWait {
        explicit JoinAwaiter(Queue& queue) noexcept : QueueWait(queue.joiners_), queue_(queue) {}
        bool await_ready() const noexcept { return queue_.unfinished_ == 0; }

    private:
        Queue& queue_;
    };
    /// Waits until every item put has been marked task_done().
    JoinAwaiter join() noexcept { return JoinAwaiter(*this); }

private:
    // Puts `item` (moving from it) if there is room or a waiting getter; false otherwise.
    bool try_put(T& item) {
        if (auto* getter = static_cast<GetAwaiter*>(getters_.pop_front())) {
            getter->slot_.emplace(std::move(item));
            getter->notify();
        } else if (full() || !putters_.empty()) {
            return false; // queued putters go first
        } else {
            items_.push_back(std::move(item));
        }
        ++unfinished_;
        return true;
    }
    // Takes the oldest item, refilling from the first waiting putter.
    std::optional<T> try_get() {
        if (items_.empty()) {
            return std::nullopt; // putters only wait on a full queue, so none waits now
        }
        std::optional<T> item(std::move(items_.front()));
        items_.pop_front();
        if (auto* putter = static_cast<PutAwaiter*>(putters_.pop_front())) {
            items_.push_back(std::move(putter->item_));
            ++unfinished_;
            putter->notify();
        }
        return item;
    }

    std::size_t maxsize_;
    std::deque<T> items_;
    std::size_t unfinished_ = 0;
    detail::WaitQueue getters_;
    detail::WaitQueue putters_;
    detail::WaitQueue joiners_;
};

} // namespace ferry
