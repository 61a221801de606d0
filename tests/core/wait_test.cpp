// wait_for, gather, wait and TaskGroup: results, first-failure propagation, timeouts that
// cancel the inner operation, and cancellation flowing to children.
#include <algorithm>
#include <thread>

#include <ferry/queue.hpp>
#include <ferry/sleep.hpp>
#include <ferry/wait.hpp>

#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;

class WaitTest : public LoopTest {};

// sleep and wait_for after a step that blocked the loop still wait their whole duration.
TEST_F(WaitTest, SleepAndWaitForAfterABlockingStepNeverEndEarly) {
    auto body = []() -> Task<std::pair<double, double>> {
        using Clock = std::chrono::steady_clock;
        std::this_thread::sleep_for(150ms);
        auto start = Clock::now();
        co_await sleep(200ms);
        const double slept =
            std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        std::this_thread::sleep_for(150ms);
        start = Clock::now();
        Event never;
        try {
            co_await wait_for(never.wait(), 200ms);
        } catch (const TimeoutError&) {
        }
        const double waited =
            std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        co_return std::pair{slept, waited};
    };
    const auto [slept, waited] = loop.run_until_complete(body());
    EXPECT_GE(slept, 200.0);
    EXPECT_GE(waited, 200.0);
}

Task<int> value_after(int value, std::chrono::milliseconds delay) {
    co_await sleep(delay);
    co_return value;
}

Task<int> fail_after(std::chrono::milliseconds delay) {
    co_await sleep(delay);
    throw std::runtime_error("sensor offline");
}

/// Sleeps for an hour, recording whether it was cancelled.
Task<void> sleep_long(std::shared_ptr<bool> cancelled) {
    try {
        co_await sleep(1h);
    } catch (const CancelledError&) {
        *cancelled = true;
        throw;
    }
}

TEST_F(WaitTest, WaitForReturnsTheValueInTime) {
    auto body = []() -> Task<int> { co_return co_await wait_for(value_after(5, 1ms), 1s); };
    EXPECT_EQ(loop.run_until_complete(body()), 5);
}

TEST_F(WaitTest, WaitForTimesOutAndCancelsTheInnerOperation) {
    auto cancelled = std::make_shared<bool>(false);
    auto body = [](std::shared_ptr<bool> flag) -> Task<void> {
        co_await wait_for(sleep_long(flag), 10ms);
    };
    const auto start = loop.time();
    try {
        loop.run_until_complete(body(cancelled));
        ADD_FAILURE() << "no timeout";
    } catch (const TimeoutError& e) {
        EXPECT_EQ(e.code(), std::errc::timed_out);
        EXPECT_NE(std::string(e.what()).find("timed out after 10 ms"), std::string::npos);
    }
    EXPECT_TRUE(*cancelled); // the inner operation was cancelled before TimeoutError
    EXPECT_GE((loop.time() - start).count(), 10);
}

TEST_F(WaitTest, WaitForWorksOnAnyAwaitable) {
    Event never;
    auto body = [&]() -> Task<void> { co_await wait_for(never.wait(), 5ms); };
    EXPECT_THROW(loop.run_until_complete(body()), TimeoutError);
}

// A sleep is one of the library's awaiters too: timed without a task, it ends at the timeout
// (its own timer cancelled), finishes in time when shorter, and a yield (sleep(0)) passes.
TEST_F(WaitTest, WaitForOnASleep) {
    auto body = []() -> Task<std::string> {
        std::string outcome;
        try {
            co_await wait_for(sleep(1h), 5ms);
        } catch (const TimeoutError& e) {
            outcome = e.what();
        }
        co_await wait_for(sleep(1ms), 1s);
        co_await wait_for(sleep(0ms), 1s);
        Task<void> as_task = wait_for(sleep(1ms), 1s);
        co_await std::move(as_task);
        co_return outcome + ", then in time";
    };
    EXPECT_EQ(loop.run_until_complete(body()), "wait_for: timed out after 5 ms, then in time");
}

// wait_for on one of the library's awaiters runs no task: the timer ends that one wait and
// nothing after it. A wait that finishes in time keeps its result and leaves no timer behind;
// cancelling the task is a CancelledError, not a TimeoutError.
TEST_F(WaitTest, WaitForOnALibraryAwaiterEndsThatWaitOnly) {
    auto body = []() -> Task<std::string> {
        Event soon;
        get_running_loop().call_later(2ms, [&soon] { soon.set(); });
        co_await wait_for(soon.wait(), 30ms); // in time
        co_await sleep(60ms);                 // past the first timeout: not ended by it
        Queue<int> queue;
        std::string outcome = "in time";
        try {
            co_await wait_for(queue.get(), 5ms);
        } catch (const TimeoutError& e) {
            outcome += std::string(", ") + e.what();
        }
        queue.put_nowait(7);
        outcome += ", then " + std::to_string(co_await wait_for(queue.get(), 1s));
        co_return outcome;
    };
    EXPECT_EQ(loop.run_until_complete(body()), "in time, wait_for: timed out after 5 ms, then 7");

    auto parked = []() -> Task<void> {
        Event never;
        co_await wait_for(never.wait(), 1h);
    };
    auto task = loop.create_task(parked());
    loop.call_later(2ms, [&] { task.cancel(); });
    ASSERT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_TRUE(task.cancelled());
}

/// Waits for `never` under wait_for(`timeout`) and returns how long it took, in ms.
Task<double> time_out_after(std::shared_ptr<Event> never, std::chrono::milliseconds timeout) {
    const auto start = std::chrono::steady_clock::now();
    try {
        co_await wait_for(never->wait(), timeout);
        ADD_FAILURE() << "no timeout";
    } catch (const TimeoutError&) {
    }
    co_return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

// Timeouts of one duration share a list under one timer; they end in order, none early, also
// when the oldest ones stop before their time. More durations than the loop keeps lists for
// still time out (on a timer each).
TEST_F(WaitTest, ManyTimeoutsOfOneOrManyDurationsEndOnTimeAndNeverEarly) {
    auto never = std::make_shared<Event>();
    auto answered = std::make_shared<Event>();
    std::vector<TaskHandle<double>> same;
    std::vector<TaskHandle<void>> stopped_early;
    for (int i = 0; i < 3; ++i) {
        stopped_early.push_back(loop.create_task([](std::shared_ptr<Event> event) -> Task<void> {
            co_await wait_for(event->wait(), 20ms);
        }(answered)));
    }
    for (int i = 0; i < 20; ++i) {
        same.push_back(loop.create_task(time_out_after(never, 20ms)));
        loop.run_once(false);
    }
    loop.call_later(2ms, [answered] { answered->set(); }); // the oldest three stop early
    std::vector<TaskHandle<double>> varied;
    std::vector<int> durations;
    for (int i = 0; i < 24; ++i) {
        durations.push_back(10 + i);
        varied.push_back(
            loop.create_task(time_out_after(never, std::chrono::milliseconds(10 + i))));
    }
    ASSERT_TRUE(test::run_until(
        loop,
        [&] {
            return std::all_of(same.begin(), same.end(), [](auto& t) { return t.done(); }) &&
                   std::all_of(varied.begin(), varied.end(), [](auto& t) { return t.done(); });
        },
        10s));
    for (auto& task : stopped_early) {
        EXPECT_TRUE(task.done());
        EXPECT_NO_THROW(task.result());
    }
    for (auto& task : same) {
        EXPECT_GE(task.result(), 20.0);
    }
    for (std::size_t i = 0; i < varied.size(); ++i) {
        EXPECT_GE(varied[i].result(), durations[i]) << "duration " << durations[i];
    }
}

// A timeout joins a list whose last timeout falls due no later than it. Timeouts started in
// the reverse order of their due times need a list each: past the loop's lists they get a timer
// of their own, and none ends early. A list emptied while armed for an hour and then reused by
// a timeout due sooner is armed again for it (the wait ends in milliseconds, not in an hour).
TEST_F(WaitTest, TimeoutsStartedInReverseDueOrderAndReusedListsEndOnTime) {
    auto never = std::make_shared<Event>();
    std::vector<TaskHandle<double>> reversed;
    std::vector<int> durations;
    for (int i = 0; i < 24; ++i) {
        durations.push_back(60 - 2 * i); // each due before every one started earlier
        reversed.push_back(
            loop.create_task(time_out_after(never, std::chrono::milliseconds(durations.back()))));
        loop.run_once(false);
    }
    ASSERT_TRUE(test::run_until(
        loop,
        [&] {
            return std::all_of(reversed.begin(), reversed.end(), [](auto& t) { return t.done(); });
        },
        10s));
    for (std::size_t i = 0; i < reversed.size(); ++i) {
        EXPECT_GE(reversed[i].result(), durations[i]) << "duration " << durations[i];
    }

    auto answered = std::make_shared<Event>();
    auto long_wait = loop.create_task([](std::shared_ptr<Event> event) -> Task<void> {
        co_await wait_for(event->wait(), 1h);
    }(answered));
    loop.run_once(false);
    answered->set(); // its list empties, its timer stays armed for the hour
    ASSERT_TRUE(test::run_until(
        loop, [&] { return long_wait.done(); }, 5s));
    auto short_wait = loop.create_task(time_out_after(never, 5ms));
    ASSERT_TRUE(test::run_until(
        loop, [&] { return short_wait.done(); }, 5s));
    EXPECT_GE(short_wait.result(), 5.0);
}

// What a library awaiter's wait_for returns converts to a Task, to spawn or keep.
TEST_F(WaitTest, WaitForOnALibraryAwaiterConvertsToATask) {
    auto body = []() -> Task<int> {
        Queue<int> queue;
        Task<int> stored = wait_for(queue.get(), 1s);
        TaskHandle<int> spawned = get_running_loop().create_task(std::move(stored));
        queue.put_nowait(41);
        co_return co_await spawned + 1;
    };
    EXPECT_EQ(loop.run_until_complete(body()), 42);
}

TEST_F(WaitTest, CancellingWaitForCancelsTheInnerTask) {
    auto cancelled = std::make_shared<bool>(false);
    auto body = [](std::shared_ptr<bool> flag) -> Task<void> {
        co_await wait_for(sleep_long(flag), 1h);
    };
    auto task = loop.create_task(body(cancelled));
    loop.call_later(2ms, [&] { task.cancel(); });
    ASSERT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_TRUE(task.cancelled()); // CancelledError, not TimeoutError
    EXPECT_TRUE(*cancelled);
}

/// Counts `*woken` each time `event` is set (it clears it), until cancelled.
Task<void> count_wakeups(std::shared_ptr<Event> event, std::shared_ptr<int> woken,
                         std::shared_ptr<bool> cancelled) {
    try {
        for (;;) {
            co_await event->wait();
            event->clear();
            ++*woken;
        }
    } catch (const CancelledError&) {
        *cancelled = true;
        throw;
    }
}

// wait_for on a Task runs it in the awaiting task, as `co_await task` would: it starts only when
// awaited, and the timeout ends whatever it waits in then, also after it woke and parked again,
// and also when it only yields (the timer fires while it is about to resume).
TEST_F(WaitTest, WaitForOnATaskRunsItInTheAwaitingTaskAndEndsItsLaterWaits) {
    auto started = std::make_shared<bool>(false);
    auto lazy = [](std::shared_ptr<bool> flag) -> Task<int> {
        *flag = true;
        co_return 3;
    };
    auto body = [&]() -> Task<int> {
        auto waiting = wait_for(lazy(started), 1s);
        co_await sleep(1ms);
        EXPECT_FALSE(*started); // nothing spawned: not started before it is awaited
        co_return co_await std::move(waiting);
    };
    EXPECT_EQ(loop.run_until_complete(body()), 3);

    auto event = std::make_shared<Event>();
    auto woken = std::make_shared<int>(0);
    auto cancelled = std::make_shared<bool>(false);
    auto ticker = loop.call_later(2ms, [event] { event->set(); }); // one wake-up before the end
    auto repeated = [](std::shared_ptr<Event> e, std::shared_ptr<int> w,
                       std::shared_ptr<bool> c) -> Task<void> {
        co_await wait_for(count_wakeups(e, w, c), 30ms);
    };
    const auto start = loop.time();
    EXPECT_THROW(loop.run_until_complete(repeated(event, woken, cancelled)), TimeoutError);
    EXPECT_GE((loop.time() - start).count(), 30);
    EXPECT_EQ(*woken, 1);
    EXPECT_TRUE(*cancelled);

    auto yields = std::make_shared<int>(0);
    auto spinning = [](std::shared_ptr<int> count) -> Task<void> {
        auto spin = [](std::shared_ptr<int> n) -> Task<void> {
            for (;;) {
                co_await sleep(0ms);
                ++*n;
            }
        };
        co_await wait_for(spin(count), 5ms);
    };
    EXPECT_THROW(loop.run_until_complete(spinning(yields)), TimeoutError);
    EXPECT_GT(*yields, 0);
}

// Around a Task: a task that catches the timeout's CancelledError and returns a value returns
// it; a cancel of the awaiting task that comes with the timeout wins (CancelledError, delivered
// once); timeouts nest, the shorter one ending the wait; after a timeout nothing is left to end
// a later wait.
TEST_F(WaitTest, WaitForOnATaskKeepsAsyncioSemantics) {
    auto stubborn = []() -> Task<int> {
        Event never;
        try {
            co_await never.wait();
        } catch (const CancelledError&) {
            co_return 7; // swallowed: the task returns a value after all
        }
        co_return 0;
    };
    auto kept = [&]() -> Task<int> { co_return co_await wait_for(stubborn(), 2ms); };
    EXPECT_EQ(loop.run_until_complete(kept()), 7);

    auto self = std::make_shared<TaskHandle<std::string>>();
    auto cancels_itself = [](std::shared_ptr<TaskHandle<std::string>> me) -> Task<void> {
        Event never;
        try {
            co_await never.wait();
        } catch (const CancelledError&) {
            me->cancel(); // the task is cancelled as its timeout ends this wait
            throw;
        }
    };
    auto outer = [](std::shared_ptr<TaskHandle<std::string>> me, auto inner) -> Task<std::string> {
        std::string outcome;
        try {
            co_await wait_for(inner(me), 2ms);
        } catch (const TimeoutError&) {
            outcome = "timeout";
        } catch (const CancelledError&) {
            outcome = "cancelled";
        }
        co_await sleep(1ms); // the cancel was delivered once, above
        co_return outcome + ", then slept";
    };
    *self = loop.create_task(outer(self, cancels_itself));
    ASSERT_TRUE(test::run_until(
        loop, [&] { return self->done(); }, 5s));
    EXPECT_EQ(self->result(), "cancelled, then slept");

    auto nested = []() -> Task<std::string> {
        std::string outcome;
        auto inner = [](std::chrono::milliseconds limit) -> Task<void> {
            Event never;
            co_await wait_for(never.wait(), limit);
        };
        try {
            co_await wait_for(inner(1h), 3ms); // the outer one ends it
        } catch (const TimeoutError& e) {
            outcome += e.what();
        }
        try {
            co_await wait_for(inner(3ms), 1h); // the inner one ends it
        } catch (const TimeoutError& e) {
            outcome += std::string(", ") + e.what();
        }
        co_await sleep(10ms); // neither timer is left to end this
        co_return outcome;
    };
    EXPECT_EQ(loop.run_until_complete(nested()),
              "wait_for: timed out after 3 ms, wait_for: timed out after 3 ms");
}

// wait_for on a spawned task: in time it yields the value (also when stored and awaited after
// the handle it was given is gone); on timeout the task is cancelled and waited for.
TEST_F(WaitTest, WaitForOnASpawnedTaskCancelsItOnTimeout) {
    auto cancelled = std::make_shared<bool>(false);
    auto body = [](std::shared_ptr<bool> flag) -> Task<std::string> {
        Loop& loop = get_running_loop();
        auto stored = wait_for(loop.create_task(value_after(4, 1ms)), 1s);
        std::string outcome = std::to_string(co_await std::move(stored));
        TaskHandle<void> sleeper = loop.create_task(sleep_long(flag));
        try {
            co_await wait_for(sleeper, 3ms);
        } catch (const TimeoutError& e) {
            outcome += std::string(", ") + e.what();
        }
        outcome += sleeper.cancelled() ? ", cancelled" : ", still running";
        co_return outcome;
    };
    EXPECT_EQ(loop.run_until_complete(body(cancelled)),
              "4, wait_for: timed out after 3 ms, cancelled");
    EXPECT_TRUE(*cancelled);
}

// wait_for on a Future times out and cancels the Future (asyncio), without a task.
TEST_F(WaitTest, WaitForOnAFutureCancelsIt) {
    auto body = []() -> Task<bool> {
        Future<int> answer(get_running_loop());
        try {
            co_await wait_for(answer, 2ms);
        } catch (const TimeoutError&) {
        }
        co_return answer.cancelled();
    };
    EXPECT_TRUE(loop.run_until_complete(body()));
}

TEST_F(WaitTest, GatherYieldsResultsInOrder) {
    auto body = []() -> Task<std::tuple<int, int, Empty>> {
        co_return co_await gather(value_after(1, 5ms), value_after(2, 1ms),
                                  []() -> Task<void> { co_return; }());
    };
    auto [a, b, c] = loop.run_until_complete(body());
    (void)c;
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 2);

    auto many = []() -> Task<std::vector<int>> {
        std::vector<Task<int>> tasks;
        for (int i = 0; i < 10; ++i) {
            tasks.push_back(value_after(i, std::chrono::milliseconds(10 - i)));
        }
        co_return co_await gather(std::move(tasks));
    };
    EXPECT_EQ(loop.run_until_complete(many()), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    auto none = []() -> Task<std::vector<int>> {
        co_return co_await gather(std::vector<Task<int>>{});
    };
    EXPECT_TRUE(loop.run_until_complete(none()).empty());
}

TEST_F(WaitTest, GatherPropagatesTheFirstExceptionAndCancelsTheRest) {
    auto cancelled = std::make_shared<bool>(false);
    auto body = [](std::shared_ptr<bool> flag) -> Task<void> {
        co_await gather(fail_after(2ms), sleep_long(flag));
    };
    const auto start = loop.time();
    EXPECT_THROW(loop.run_until_complete(body(cancelled)), std::runtime_error);
    EXPECT_LT((loop.time() - start).count(), 1000); // did not wait for the hour-long sleep
    ASSERT_TRUE(test::run_until(
        loop, [&] { return *cancelled; }, 5s));
}

TEST_F(WaitTest, CancellingGatherCancelsItsChildren) {
    auto first = std::make_shared<bool>(false);
    auto second = std::make_shared<bool>(false);
    auto body = [](std::shared_ptr<bool> a, std::shared_ptr<bool> b) -> Task<void> {
        co_await gather(sleep_long(a), sleep_long(b));
    };
    auto task = loop.create_task(body(first, second));
    loop.call_later(2ms, [&] { task.cancel(); });
    ASSERT_TRUE(test::run_until(
        loop, [&] { return task.done() && *first && *second; }, 5s));
    EXPECT_TRUE(task.cancelled());
}

TEST_F(WaitTest, WaitSplitsDoneAndPending) {
    auto body = [](Loop& l) -> Task<std::pair<std::size_t, std::size_t>> {
        std::vector<TaskHandle<int>> tasks{l.create_task(value_after(1, 1ms)),
                                           l.create_task(value_after(2, 1h))};
        auto first = co_await wait(tasks, ReturnWhen::first_completed);
        EXPECT_EQ(first.done.front().result(), 1);
        first.pending.front().cancel();
        auto all = co_await wait(tasks);
        co_return std::make_pair(all.done.size(), all.pending.size());
    };
    auto [done, pending] = loop.run_until_complete(body(loop));
    EXPECT_EQ(done, 2u);
    EXPECT_EQ(pending, 0u);

    auto on_failure = [](Loop& l) -> Task<std::size_t> {
        std::vector<TaskHandle<int>> tasks{l.create_task(fail_after(1ms)),
                                           l.create_task(value_after(2, 50ms))};
        auto result = co_await wait(tasks, ReturnWhen::first_exception);
        const std::size_t pending = result.pending.size();
        co_await wait(tasks);
        co_return pending;
    };
    EXPECT_EQ(loop.run_until_complete(on_failure(loop)), 1u);
}

TEST_F(WaitTest, TaskGroupWaitsForAllChildren) {
    auto body = [](Loop& l) -> Task<int> {
        TaskGroup group(l);
        auto a = group.create_task(value_after(1, 2ms));
        auto b = group.create_task(value_after(2, 1ms));
        co_await group.wait();
        co_return a.result() + b.result();
    };
    EXPECT_EQ(loop.run_until_complete(body(loop)), 3);
}

TEST_F(WaitTest, TaskGroupCancelsSiblingsWhenOneFails) {
    auto cancelled = std::make_shared<bool>(false);
    auto body = [](Loop& l, std::shared_ptr<bool> flag) -> Task<void> {
        TaskGroup group(l);
        group.create_task(fail_after(1ms));
        group.create_task(sleep_long(flag));
        co_await group.wait();
    };
    EXPECT_THROW(loop.run_until_complete(body(loop, cancelled)), std::runtime_error);
    EXPECT_TRUE(*cancelled); // the group waited for the cancelled sibling to finish
}

TEST_F(WaitTest, CancellingTheGroupOwnerCancelsAndAwaitsChildren) {
    auto cancelled = std::make_shared<bool>(false);
    auto body = [](Loop& l, std::shared_ptr<bool> flag) -> Task<void> {
        TaskGroup group(l);
        group.create_task(sleep_long(flag));
        co_await group.wait();
    };
    auto task = loop.create_task(body(loop, cancelled));
    loop.call_later(2ms, [&] { task.cancel(); });
    ASSERT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_TRUE(task.cancelled());
    EXPECT_TRUE(*cancelled);
}

} // namespace
} // namespace ferry
