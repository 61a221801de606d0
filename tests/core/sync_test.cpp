// Event, Lock, Semaphore, BoundedSemaphore, Condition, Queue and Future: semantics, FIFO
// fairness, and cancellation while waiting in each (nothing held or lost afterwards).
#include <atomic>
#include <thread>

#include <ferry/future.hpp>
#include <ferry/queue.hpp>
#include <ferry/sleep.hpp>
#include <ferry/sync.hpp>
#include <ferry/task.hpp>
#include <ferry/task_handle.hpp>
#include <ferry/wait.hpp>

#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;
using test::run_until;

class SyncTest : public LoopTest {
protected:
    /// Runs the loop until `tasks` are all done.
    template <class... T>
    void settle(const TaskHandle<T>&... tasks) {
        ASSERT_TRUE(run_until(
            loop, [&] { return (tasks.done() && ...); }, 10s));
    }
};

Task<void> wait_event(Event& event, std::vector<int>& order, int id) {
    co_await event.wait();
    order.push_back(id);
}

TEST_F(SyncTest, EventWakesEveryWaiterInOrder) {
    Event event;
    std::vector<int> order;
    auto a = loop.create_task(wait_event(event, order, 1));
    auto b = loop.create_task(wait_event(event, order, 2));
    loop.run_once(false);
    EXPECT_TRUE(order.empty());
    event.set();
    settle(a, b);
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
    auto c = loop.create_task(wait_event(event, order, 3)); // already set: no wait
    settle(c);
    EXPECT_EQ(order.back(), 3);
}

TEST_F(SyncTest, CancelledEventWaitLeavesTheEventUsable) {
    Event event;
    std::vector<int> order;
    auto cancelled = loop.create_task(wait_event(event, order, 1));
    auto other = loop.create_task(wait_event(event, order, 2));
    loop.run_once(false);
    cancelled.cancel();
    settle(cancelled);
    EXPECT_TRUE(cancelled.cancelled());
    event.set();
    settle(other);
    EXPECT_EQ(order, (std::vector<int>{2}));
}

Task<void> critical(Lock& lock, std::vector<std::string>& log, std::string name) {
    auto held = co_await lock.scoped();
    log.push_back(name + "+");
    co_await sleep(1ms);
    log.push_back(name + "-");
}

TEST_F(SyncTest, LockIsExclusiveAndFifo) {
    Lock lock;
    std::vector<std::string> log;
    auto a = loop.create_task(critical(lock, log, "a"));
    auto b = loop.create_task(critical(lock, log, "b"));
    auto c = loop.create_task(critical(lock, log, "c"));
    settle(a, b, c);
    EXPECT_EQ(log, (std::vector<std::string>{"a+", "a-", "b+", "b-", "c+", "c-"}));
    EXPECT_FALSE(lock.locked());
    EXPECT_THROW(lock.release(), Error);
}

// lock.scoped() is an awaiter (no frame): it converts to a Task to spawn, and wait_for times it
// out while another task holds the lock, leaving the queue as it was.
TEST_F(SyncTest, ScopedLockConvertsToATaskAndTimesOut) {
    Lock lock;
    auto body = [](Lock& l) -> Task<std::string> {
        std::string outcome;
        {
            auto held = co_await l.scoped();
            Task<Lock::Guard> later = l.scoped();
            TaskHandle<Lock::Guard> queued = get_running_loop().create_task(std::move(later));
            try {
                auto second = co_await wait_for(l.scoped(), 2ms);
                outcome = "acquired twice";
            } catch (const TimeoutError&) {
                outcome = "timed out";
            }
            co_await sleep(1ms);
            outcome += queued.done() ? ", spawned one done early" : ", spawned one waits";
        } // released: handed to the spawned task, whose guard nobody keeps
        co_await sleep(1ms);
        outcome += l.locked() ? ", still locked" : ", free";
        co_return outcome;
    };
    EXPECT_EQ(loop.run_until_complete(body(lock)), "timed out, spawned one waits, free");
}

TEST_F(SyncTest, CancellingAQueuedLockWaiterPassesTheLockOn) {
    Lock lock;
    std::vector<std::string> log;
    auto a = loop.create_task(critical(lock, log, "a"));
    auto b = loop.create_task(critical(lock, log, "b"));
    auto c = loop.create_task(critical(lock, log, "c"));
    loop.run_once(false); // a holds, b and c wait
    b.cancel();
    settle(a, b, c);
    EXPECT_TRUE(b.cancelled());
    EXPECT_EQ(log, (std::vector<std::string>{"a+", "a-", "c+", "c-"}));
    EXPECT_FALSE(lock.locked());
}

TEST_F(SyncTest, ALockHandedOverJustBeforeCancelIsStillReleased) {
    Lock lock;
    std::vector<std::string> log;
    auto holder = [&]() -> Task<void> {
        co_await lock.acquire();
        co_await sleep(1ms);
        lock.release(); // hands the lock to `waiter`, which is then cancelled before running
        log.push_back("released");
    };
    auto waiter_body = [&]() -> Task<void> {
        auto held = co_await lock.scoped(); // returns normally: the lock was handed over
        log.push_back("got lock");
        co_await sleep(1h); // the pending cancel lands here; the guard releases the lock
    };
    auto h = loop.create_task(holder());
    auto w = loop.create_task(waiter_body());
    h.add_done_callback([&] { w.cancel(); });
    settle(h, w);
    EXPECT_TRUE(w.cancelled());
    EXPECT_EQ(log, (std::vector<std::string>{"released", "got lock"}));
    EXPECT_FALSE(lock.locked());
}

TEST_F(SyncTest, SemaphoreBoundsConcurrency) {
    Semaphore semaphore(2);
    int inside = 0;
    int peak = 0;
    auto worker = [&]() -> Task<void> {
        co_await semaphore.acquire();
        peak = std::max(peak, ++inside);
        co_await sleep(2ms);
        --inside;
        semaphore.release();
    };
    std::vector<TaskHandle<void>> tasks;
    for (int i = 0; i < 6; ++i) {
        tasks.push_back(loop.create_task(worker()));
    }
    ASSERT_TRUE(run_until(loop, [&] {
        return std::all_of(tasks.begin(), tasks.end(), [](auto& t) { return t.done(); });
    }));
    EXPECT_EQ(peak, 2);
    EXPECT_EQ(semaphore.value(), 2);
    EXPECT_THROW(Semaphore(-1), Error);
    BoundedSemaphore bounded(1);
    EXPECT_THROW(bounded.release(), Error);
}

TEST_F(SyncTest, ConditionNotifiesWaitersAndReacquiresTheLock) {
    Lock lock;
    Condition condition(lock);
    std::vector<int> items;
    std::vector<int> consumed;
    auto consumer = [&]() -> Task<void> {
        co_await lock.acquire();
        co_await condition.wait_for([&] { return !items.empty(); });
        EXPECT_TRUE(lock.locked());
        consumed.push_back(items.back());
        items.pop_back();
        lock.release();
    };
    auto producer = [&]() -> Task<void> {
        co_await sleep(1ms);
        co_await lock.acquire();
        items.push_back(5);
        condition.notify();
        lock.release();
    };
    auto c = loop.create_task(consumer());
    auto p = loop.create_task(producer());
    settle(c, p);
    EXPECT_EQ(consumed, (std::vector<int>{5}));
    EXPECT_THROW(condition.notify(), Error); // lock not held
}

TEST_F(SyncTest, CancelledConditionWaitStillReacquiresTheLock) {
    Lock lock;
    Condition condition(lock);
    bool held_when_cancelled = false;
    auto waiter = [&]() -> Task<void> {
        co_await lock.acquire();
        try {
            co_await condition.wait();
        } catch (const CancelledError&) {
            held_when_cancelled = lock.locked();
            lock.release();
            throw;
        }
    };
    auto w = loop.create_task(waiter());
    loop.call_later(2ms, [&] { w.cancel(); });
    settle(w);
    EXPECT_TRUE(w.cancelled());
    EXPECT_TRUE(held_when_cancelled);
    auto unheld = [&]() -> Task<void> { co_await condition.wait(); };
    EXPECT_THROW(loop.run_until_complete(unheld()), Error);
}

// Condition::wait is an awaiter (no frame): under wait_for it times out holding the lock again,
// also when another task holds the lock at that moment (it waits for it, FIFO); it converts to a
// Task; notify_all wakes every waiter, each in turn holding the lock.
TEST_F(SyncTest, ConditionWaitTimesOutHoldingTheLockAndConvertsToATask) {
    Lock lock;
    Condition condition(lock);
    std::vector<std::string> log;
    auto timed = [&]() -> Task<void> {
        auto held = co_await lock.scoped();
        try {
            co_await wait_for(condition.wait(), 3ms);
            log.push_back("notified");
        } catch (const TimeoutError&) {
            log.push_back(lock.locked() ? "timed out holding the lock" : "timed out unlocked");
        }
    };
    auto holder = [&]() -> Task<void> {
        co_await sleep(1ms);
        auto held = co_await lock.scoped(); // taken while the timed wait waits
        co_await sleep(10ms);               // past its timeout: it waits for the lock
        log.push_back("holder releases");
    };
    auto t = loop.create_task(timed());
    auto h = loop.create_task(holder());
    settle(t, h);
    EXPECT_EQ(log, (std::vector<std::string>{"holder releases", "timed out holding the lock"}));
    EXPECT_FALSE(lock.locked());

    int inside = 0;
    auto waiter = [&]() -> Task<void> {
        co_await lock.acquire();
        Task<void> stored = condition.wait();
        co_await std::move(stored);
        EXPECT_TRUE(lock.locked());
        ++inside;
        lock.release();
    };
    auto notifier = [&]() -> Task<void> {
        co_await sleep(1ms);
        auto held = co_await lock.scoped();
        condition.notify_all();
    };
    auto a = loop.create_task(waiter());
    auto b = loop.create_task(waiter());
    auto n = loop.create_task(notifier());
    settle(a, b, n);
    EXPECT_EQ(inside, 2);
    EXPECT_FALSE(lock.locked());
}

TEST_F(SyncTest, BoundedQueueIsFifoAndPutWaitsWhenFull) {
    Queue<int> queue(2);
    std::vector<int> got;
    auto producer = [&]() -> Task<void> {
        for (int i = 0; i < 5; ++i) {
            co_await queue.put(i);
            EXPECT_LE(queue.size(), 2u);
        }
    };
    auto consumer = [&]() -> Task<void> {
        for (int i = 0; i < 5; ++i) {
            co_await sleep(1ms);
            got.push_back(co_await queue.get());
            queue.task_done();
        }
    };
    auto joiner = [&]() -> Task<void> {
        co_await sleep(2ms);
        co_await queue.join();
    };
    auto p = loop.create_task(producer());
    auto c = loop.create_task(consumer());
    auto j = loop.create_task(joiner());
    settle(p, c, j);
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_THROW(queue.task_done(), Error);
    EXPECT_THROW(queue.get_nowait(), QueueEmpty);
    queue.put_nowait(1);
    queue.put_nowait(2);
    EXPECT_TRUE(queue.full());
    EXPECT_THROW(queue.put_nowait(3), QueueFull);
}

TEST_F(SyncTest, CancelledQueueWaitsLoseNothing) {
    Queue<std::string> queue(1);
    auto getter = [&]() -> Task<std::string> { co_return co_await queue.get(); };
    auto first = loop.create_task(getter());
    auto second = loop.create_task(getter());
    loop.run_once(false);
    first.cancel(); // cancelled while waiting: must not swallow the next item
    settle(first);
    queue.put_nowait("only item");
    settle(second);
    EXPECT_EQ(second.result(), "only item");

    queue.put_nowait("fills the queue");
    auto putter = [&]() -> Task<void> { co_await queue.put("never added"); };
    auto p = loop.create_task(putter());
    loop.run_once(false);
    p.cancel();
    settle(p);
    EXPECT_TRUE(p.cancelled());
    EXPECT_EQ(queue.get_nowait(), "fills the queue");
    EXPECT_TRUE(queue.empty());
}

TEST_F(SyncTest, FuturesTurnCallbacksIntoAwaitables) {
    Future<int> future(loop);
    auto waiter = [](Future<int> f) -> Task<int> { co_return co_await f + 1; };
    auto a = loop.create_task(waiter(future));
    auto b = loop.create_task(waiter(future));
    loop.call_later(1ms, [future]() mutable { future.set_result(41); });
    settle(a, b);
    EXPECT_EQ(a.result(), 42);
    EXPECT_EQ(b.result(), 42);
    EXPECT_THROW(future.set_result(1), Error);

    Future<void> failing(loop);
    failing.set_exception(std::make_exception_ptr(std::runtime_error("device said no")));
    auto f = [](Future<void> x) -> Task<void> { co_await x; };
    EXPECT_THROW(loop.run_until_complete(f(failing)), std::runtime_error);
}

TEST_F(SyncTest, CancellingAFutureAwaiterCancelsTheFuture) {
    Future<int> future(loop);
    auto waiter = [](Future<int> f) -> Task<int> { co_return co_await f; };
    auto w = loop.create_task(waiter(future));
    loop.call_later(1ms, [&] { w.cancel(); });
    settle(w);
    EXPECT_TRUE(w.cancelled());
    EXPECT_TRUE(future.cancelled());
    EXPECT_FALSE(future.cancel());
}

TEST_F(SyncTest, FutureWrapsACallbackApi) {
    auto server = test::start_server(loop, [] { return std::make_unique<Protocol>(); });
    auto connect = [](Loop& l, std::uint16_t port) -> Task<std::shared_ptr<Transport>> {
        Future<std::shared_ptr<Transport>> connected(l);
        create_connection(
            l, [] { return std::make_unique<Protocol>(); }, "127.0.0.1", port, {},
            [connected](Result<std::shared_ptr<Transport>> r) mutable { connected.set(r); });
        co_return co_await connected;
    };
    auto transport = loop.run_until_complete(connect(loop, server->port()));
    EXPECT_TRUE(transport->peername());
    transport->close();
    server->close();
}

} // namespace
} // namespace ferry

namespace ferry {
namespace {

class CancelAtEveryAwaitTest : public test::LoopTest {
protected:
    /// Spawns `body`, lets it park, cancels it, and expects it to end cancelled.
    void expect_cancellable(Task<void> body) {
        auto task = loop.create_task(std::move(body));
        loop.run_once(false);
        loop.run_once(false);
        ASSERT_FALSE(task.done()) << "the await did not park";
        task.cancel();
        ASSERT_TRUE(test::run_until(
            loop, [&] { return task.done(); }, std::chrono::seconds(5)));
        EXPECT_TRUE(task.cancelled());
    }
};

TEST_F(CancelAtEveryAwaitTest, SemaphoreAcquireKeepsItsPermitCount) {
    Semaphore semaphore(0);
    expect_cancellable([](Semaphore& s) -> Task<void> { co_await s.acquire(); }(semaphore));
    semaphore.release();
    EXPECT_EQ(semaphore.value(), 1); // the cancelled waiter took nothing
}

TEST_F(CancelAtEveryAwaitTest, QueueJoin) {
    Queue<int> queue;
    queue.put_nowait(1);
    expect_cancellable([](Queue<int>& q) -> Task<void> { co_await q.join(); }(queue));
    EXPECT_EQ(queue.size(), 1u);
}

TEST_F(CancelAtEveryAwaitTest, RunInExecutorStopsWaitingAndDropsTheResult) {
    // Shared: the job may still be polling it after this test body has returned.
    auto release = std::make_shared<std::atomic<bool>>(false);
    expect_cancellable([](Loop& l, std::shared_ptr<std::atomic<bool>> r) -> Task<void> {
        auto job = [r] {
            while (!*r) {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
        };
        co_await run_in_executor(l, job);
    }(loop, release));
    *release = true; // the job finishes later; its result goes nowhere
}

TEST_F(CancelAtEveryAwaitTest, ConditionWaitFor) {
    Lock lock;
    Condition condition(lock);
    expect_cancellable([](Lock& l, Condition& c) -> Task<void> {
        auto held = co_await l.scoped();
        co_await c.wait_for([] { return false; });
    }(lock, condition));
    EXPECT_FALSE(lock.locked()); // re-acquired on cancel, then released by the guard
}

} // namespace
} // namespace ferry
