// Task<T> and TaskHandle<T>: laziness, results and exceptions, symmetric transfer, spawning,
// cancellation at every await point, done callbacks, unretrieved exceptions, loop shutdown.
#include <ferry/sleep.hpp>
#include <ferry/task.hpp>
#include <ferry/task_handle.hpp>
#include <ferry/wait.hpp>

#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;

class TaskTest : public LoopTest {};

Task<int> answer() {
    co_return 42;
}

Task<int> add_one(Task<int> inner) {
    co_return co_await inner + 1;
}

Task<void> fail_with(std::string message) {
    throw std::runtime_error(message);
    co_return;
}

TEST_F(TaskTest, TasksAreLazyAndYieldTheirValue) {
    bool started = false;
    // The closure must outlive the coroutine (its captures live in the closure, not the frame).
    auto body = [&]() -> Task<int> {
        started = true;
        co_return 1;
    };
    auto lazy = body();
    EXPECT_FALSE(started);
    EXPECT_EQ(loop.run_until_complete(std::move(lazy)), 1);
    EXPECT_TRUE(started);
    EXPECT_EQ(loop.run_until_complete(add_one(answer())), 43);
}

TEST_F(TaskTest, ExceptionsPropagateToTheAwaiter) {
    auto outer = []() -> Task<std::string> {
        try {
            co_await fail_with("inner failure");
        } catch (const std::runtime_error& e) {
            co_return std::string("caught: ") + e.what();
        }
        co_return "not reached";
    };
    EXPECT_EQ(loop.run_until_complete(outer()), "caught: inner failure");
    EXPECT_THROW(loop.run_until_complete(fail_with("uncaught")), std::runtime_error);
}

Task<int> immediate(int i) {
    co_return i;
}

TEST_F(TaskTest, AMillionSynchronousAwaitsDoNotGrowTheStack) {
    auto chain = []() -> Task<long> {
        long sum = 0;
        for (int i = 0; i < 1'000'000; ++i) {
            sum += co_await immediate(1);
        }
        co_return sum;
    };
    EXPECT_EQ(loop.run_until_complete(chain()), 1'000'000);
}

TEST_F(TaskTest, SpawnedTasksStartOnTheNextIterationAndRunConcurrently) {
    std::vector<std::string> order;
    auto worker = [&](std::string name, int steps) -> Task<int> {
        for (int i = 0; i < steps; ++i) {
            order.push_back(name + std::to_string(i));
            co_await sleep(0ms);
        }
        co_return steps;
    };
    auto a = loop.create_task(worker("a", 3));
    auto b = loop.create_task(worker("b", 2));
    EXPECT_TRUE(order.empty()); // not started yet
    auto both = [&]() -> Task<int> { co_return co_await a + co_await b; };
    EXPECT_EQ(loop.run_until_complete(both()), 5);
    EXPECT_EQ(order, (std::vector<std::string>{"a0", "b0", "a1", "b1", "a2"}));
    EXPECT_TRUE(a.done());
    EXPECT_EQ(a.result(), 3);
}

TEST_F(TaskTest, SleepWaitsAtLeastItsDelay) {
    auto timed = [&]() -> Task<std::chrono::milliseconds> {
        const auto start = loop.time();
        co_await sleep(25ms);
        co_return loop.time() - start;
    };
    EXPECT_GE(loop.run_until_complete(timed()).count(), 25);
}

TEST_F(TaskTest, CancelWhileSleepingThrowsCancelledErrorAtThatAwait) {
    bool cleaned_up = false;
    auto sleeper = [&]() -> Task<void> {
        try {
            co_await sleep(1h);
        } catch (const CancelledError&) {
            cleaned_up = true;
            throw;
        }
    };
    auto task = loop.create_task(sleeper());
    loop.call_later(5ms, [&] { EXPECT_TRUE(task.cancel()); });
    EXPECT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_TRUE(task.cancelled());
    EXPECT_TRUE(cleaned_up);
    EXPECT_THROW(task.result(), CancelledError);
    EXPECT_FALSE(task.cancel()); // already done
}

TEST_F(TaskTest, CancelBeforeTheTaskStartsHitsItsFirstAwait) {
    bool reached_await = false;
    auto body = [&]() -> Task<void> {
        reached_await = true;
        co_await sleep(0ms);
        ADD_FAILURE() << "ran past a cancelled await";
    };
    auto task = loop.create_task(body());
    task.cancel();
    EXPECT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_TRUE(reached_await);
    EXPECT_TRUE(task.cancelled());
}

TEST_F(TaskTest, CancelWhileYieldingThrowsAtThatYieldOnceAndTheTaskGoesOn) {
    // sleep(0) yields without parking the task; a cancel that arrives while it waits for its
    // turn is thrown at that await (asyncio: a task cancelled in `await asyncio.sleep(0)`),
    // once, and a caught cancellation leaves the next awaits alone.
    int yields = 0;
    int cancelled_at = -1;
    auto yielder = [&]() -> Task<int> {
        for (int i = 0; i < 5; ++i) {
            try {
                co_await sleep(0ms);
                ++yields;
            } catch (const CancelledError&) {
                cancelled_at = i;
            }
        }
        co_return yields;
    };
    auto task = loop.create_task(yielder());
    loop.run_once(false); // starts the task: it yields once and waits for its turn
    EXPECT_TRUE(task.cancel());
    EXPECT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_EQ(cancelled_at, 0);
    EXPECT_EQ(task.result(), 4);
}

TEST_F(TaskTest, ACaughtCancellationIsDeliveredOnceAndTheTaskGoesOn) {
    auto stubborn = [&]() -> Task<int> {
        try {
            co_await sleep(1h);
        } catch (const CancelledError&) {
        }
        co_await sleep(1ms); // a second await is not cancelled again
        co_return 7;
    };
    auto task = loop.create_task(stubborn());
    loop.call_later(2ms, [&] { task.cancel(); });
    EXPECT_TRUE(test::run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_FALSE(task.cancelled());
    EXPECT_EQ(task.result(), 7);
}

TEST_F(TaskTest, CancellingAnAwaiterCancelsTheAwaitedTaskButShieldDoesNot) {
    auto inner = loop.create_task([]() -> Task<int> {
        co_await sleep(1h);
        co_return 1;
    }());
    auto outer =
        loop.create_task([](TaskHandle<int> t) -> Task<int> { co_return co_await t; }(inner));
    loop.call_later(2ms, [&] { outer.cancel(); });
    EXPECT_TRUE(test::run_until(
        loop, [&] { return outer.done(); }, 5s));
    EXPECT_TRUE(outer.cancelled());
    EXPECT_TRUE(inner.cancelled());

    auto protected_inner = loop.create_task([]() -> Task<int> {
        co_await sleep(20ms);
        co_return 2;
    }());
    auto shielded = loop.create_task(
        [](TaskHandle<int> t) -> Task<int> { co_return co_await shield(t); }(protected_inner));
    loop.call_later(2ms, [&] { shielded.cancel(); });
    EXPECT_TRUE(test::run_until(
        loop, [&] { return protected_inner.done(); }, 5s));
    EXPECT_TRUE(shielded.cancelled());
    EXPECT_FALSE(protected_inner.cancelled());
    EXPECT_EQ(protected_inner.result(), 2);
}

TEST_F(TaskTest, ResultBeforeDoneIsAClearError) {
    auto task = loop.create_task([]() -> Task<int> {
        co_await sleep(1ms);
        co_return 3;
    }());
    EXPECT_THROW(task.result(), Error);
    EXPECT_EQ(
        loop.run_until_complete([](TaskHandle<int> t) -> Task<int> { co_return co_await t; }(task)),
        3);
}

TEST_F(TaskTest, DoneCallbacksRunOnTheLoopAfterCompletion) {
    std::vector<int> calls;
    auto task = loop.create_task(answer());
    task.add_done_callback([&] { calls.push_back(1); });
    EXPECT_TRUE(test::run_until(
        loop, [&] { return !calls.empty(); }, 5s));
    task.add_done_callback([&] { calls.push_back(2); }); // already done: next iteration
    EXPECT_EQ(calls.size(), 1u);
    EXPECT_TRUE(test::run_until(
        loop, [&] { return calls.size() == 2; }, 5s));
}

TEST_F(TaskTest, AnExceptionNobodyRetrievedIsReported) {
    std::vector<std::string> reports;
    loop.set_exception_handler([&](const ExceptionContext& c) {
        reports.push_back(c.message + ": " + detail::message_of(c.exception));
    });
    {
        auto task = loop.create_task(fail_with("lost?"));
        EXPECT_TRUE(test::run_until(
            loop, [&] { return task.done(); }, 5s));
    } // last handle dropped without looking at the exception
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0], "task exception was never retrieved: lost?");

    auto looked_at = loop.create_task(fail_with("seen"));
    EXPECT_TRUE(test::run_until(
        loop, [&] { return looked_at.done(); }, 5s));
    EXPECT_TRUE(looked_at.exception());
    looked_at = {};
    EXPECT_EQ(reports.size(), 1u);
}

/// A bare coroutine type that is not a ferry task: it runs eagerly and records its exception.
struct Bare {
    struct promise_type {
        Bare get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        void unhandled_exception() noexcept { last_error = std::current_exception(); }
    };
    static inline std::exception_ptr last_error;
};

Bare sleep_outside_a_task() {
    co_await sleep(1ms);
}

Task<void> sleep_briefly() {
    co_await sleep(1ms);
}

Bare timed_wait_outside_a_task() {
    Event never;
    co_await wait_for(never.wait(), 1s);
}

Bare timed_task_outside_a_task() {
    co_await wait_for(sleep_briefly(), 1s);
}

TEST_F(TaskTest, AwaitingALibraryAwaitableOutsideATaskIsAClearError) {
    Bare::last_error = nullptr;
    sleep_outside_a_task(); // not spawned: there is no task to park in
    ASSERT_TRUE(Bare::last_error);
    EXPECT_NE(detail::message_of(Bare::last_error).find("outside a ferry task"), std::string::npos);
    EXPECT_THROW(get_running_loop(), Error);
    // Under wait_for too, on an awaiter or a Task: the same error, no timer, no hang.
    for (auto* attempt : {&timed_wait_outside_a_task, &timed_task_outside_a_task}) {
        Bare::last_error = nullptr;
        attempt();
        ASSERT_TRUE(Bare::last_error);
        EXPECT_NE(detail::message_of(Bare::last_error).find("outside a ferry task"),
                  std::string::npos);
    }
}

TEST(TaskLifetimeTest, PendingTasksAreDestroyedWhenTheLoopCloses) {
    auto resource = std::make_shared<int>(0);
    bool destroyed_frame = false;
    {
        Loop loop;
        struct Guard {
            bool& flag;
            ~Guard() { flag = true; }
        };
        auto task = loop.create_task([](std::shared_ptr<int> held, bool& flag) -> Task<void> {
            Guard guard{flag};
            (void)held; // kept alive by the frame
            co_await sleep(1h);
        }(resource, destroyed_frame));
        loop.run_once(false); // start it
        EXPECT_EQ(resource.use_count(), 2);
        loop.close();
        EXPECT_TRUE(task.done());
        EXPECT_TRUE(task.cancelled());
    }
    EXPECT_TRUE(destroyed_frame);
    EXPECT_EQ(resource.use_count(), 1); // the frame, and what it held, were freed
}

TEST(TaskLifetimeTest, TenThousandConcurrentTasks) {
    Loop loop;
    int finished = 0;
    std::vector<TaskHandle<void>> tasks;
    for (int i = 0; i < 10'000; ++i) {
        tasks.push_back(loop.create_task([](int& done, int i) -> Task<void> {
            co_await sleep(std::chrono::milliseconds(i % 7));
            co_await sleep(0ms);
            ++done;
        }(finished, i)));
    }
    EXPECT_TRUE(test::run_until(
        loop, [&] { return finished == 10'000; }, 30s));
    loop.close();
}

} // namespace
} // namespace ferry
