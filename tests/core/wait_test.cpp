// wait_for, gather, wait and TaskGroup: results, first-failure propagation, timeouts that
// cancel the inner operation, and cancellation flowing to children.
#include <thread>

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
