// switch_bench: coroutine switches per second — 10 tasks taking turns, each yielding back to
// the loop once per turn (asyncio's `await asyncio.sleep(0)`), ferry against Asio's C++20
// coroutines (`co_await asio::post(executor, use_awaitable)`) and against Asio's plain posted
// callbacks (a handler that posts itself again), in the same run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio.hpp>

#include <ferry/ferry.hpp>

namespace {

using Clock = std::chrono::steady_clock;

/// ferry: `tasks` tasks yield with sleep(0) until `seconds` have passed.
double ferry_switches_per_second(int tasks, double seconds) {
    ferry::Loop loop;
    bool stop = false;
    std::uint64_t switches = 0;
    auto worker = [](bool& stop_flag, std::uint64_t& count) -> ferry::Task<void> {
        while (!stop_flag) {
            co_await ferry::sleep(std::chrono::milliseconds(0));
            ++count;
        }
    };
    // Run as a program would (run_until_complete, libuv's own loop), not iteration by
    // iteration from outside, as Asio's contender runs io_context::run().
    auto all = [](std::vector<ferry::TaskHandle<void>> workers) -> ferry::Task<void> {
        for (auto& worker : workers) {
            co_await worker;
        }
    };
    std::vector<ferry::TaskHandle<void>> handles;
    for (int i = 0; i < tasks; ++i) {
        handles.push_back(loop.create_task(worker(stop, switches)));
    }
    const auto start = Clock::now();
    loop.call_later(std::chrono::duration<double>(seconds), [&] { stop = true; });
    loop.run_until_complete(all(std::move(handles)));
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    loop.close();
    return static_cast<double>(switches) / elapsed;
}

/// Runs `context` until its work is done, setting `stop` after `seconds`; returns the seconds
/// it ran.
double run_for(asio::io_context& context, double seconds, bool& stop) {
    asio::steady_timer timer(context, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::duration<double>(seconds)));
    timer.async_wait([&](std::error_code) { stop = true; });
    const auto start = Clock::now();
    context.run();
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Asio: `tasks` awaitable coroutines yield with post(use_awaitable) until `seconds` passed.
double asio_switches_per_second(int tasks, double seconds) {
    asio::io_context context(1);
    bool stop = false;
    std::uint64_t switches = 0;
    auto worker = [&]() -> asio::awaitable<void> {
        auto executor = co_await asio::this_coro::executor;
        while (!stop) {
            co_await asio::post(executor, asio::use_awaitable);
            ++switches;
        }
    };
    for (int i = 0; i < tasks; ++i) {
        asio::co_spawn(context, worker(), asio::detached);
    }
    const double elapsed = run_for(context, seconds, stop); // before switches is read
    return static_cast<double>(switches) / elapsed;
}

/// Asio without coroutines: `tasks` handlers each post themselves again until `seconds` passed
/// (the cheapest way to take turns on an io_context: no frame, no awaitable machinery).
double asio_posts_per_second(int tasks, double seconds) {
    asio::io_context context(1);
    bool stop = false;
    std::uint64_t switches = 0;
    struct Turn {
        asio::io_context* context;
        bool* stop;
        std::uint64_t* count;
        void operator()() const {
            if (!*stop) {
                ++*count;
                asio::post(*context, *this);
            }
        }
    };
    for (int i = 0; i < tasks; ++i) {
        asio::post(context, Turn{&context, &stop, &switches});
    }
    const double elapsed = run_for(context, seconds, stop); // before switches is read
    return static_cast<double>(switches) / elapsed;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Coroutine switch benchmark: ferry vs Asio C++20 coroutines, same run"};
    int tasks = 10;
    double seconds = 2.0;
    int rounds = 5;
    app.add_option("--tasks", tasks, "tasks taking turns")->check(CLI::PositiveNumber);
    app.add_option("--seconds", seconds, "seconds per measurement");
    app.add_option("--rounds", rounds, "interleaved rounds (median reported)")
        ->check(CLI::PositiveNumber);
    std::string only;
    app.add_option("--only", only, "run just this contender (for a profiler)")
        ->check(CLI::IsMember({"ferry", "asio", "posts"}));
    CLI11_PARSE(app, argc, argv);
    if (!only.empty()) {
        const double rate = only == "ferry"  ? ferry_switches_per_second(tasks, seconds)
                            : only == "asio" ? asio_switches_per_second(tasks, seconds)
                                             : asio_posts_per_second(tasks, seconds);
        std::printf("%s %.2fM switches/s\n", only.c_str(), rate / 1e6);
        return 0;
    }

    std::vector<double> ferry_rates;
    std::vector<double> asio_rates;
    std::vector<double> post_rates;
    std::vector<double> ratios;
    std::vector<double> post_ratios;
    for (int round = 0; round < rounds; ++round) {
        // Rotated, so that no contender always runs first.
        double f = 0;
        double a = 0;
        double p = 0;
        for (int i = 0; i < 3; ++i) {
            switch ((i + round) % 3) {
            case 0:
                f = ferry_switches_per_second(tasks, seconds);
                break;
            case 1:
                a = asio_switches_per_second(tasks, seconds);
                break;
            default:
                p = asio_posts_per_second(tasks, seconds);
                break;
            }
        }
        ferry_rates.push_back(f);
        asio_rates.push_back(a);
        post_rates.push_back(p);
        ratios.push_back(f / a);
        post_ratios.push_back(f / p);
        std::printf("  round %d: ferry %.2fM switches/s, asio coroutines %.2fM, asio posted "
                    "callbacks %.2fM\n",
                    round + 1, f / 1e6, a / 1e6, p / 1e6);
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::sort(ratios.begin(), ratios.end());
    std::sort(post_ratios.begin(), post_ratios.end());
    std::printf("switch benchmark: %d tasks, %d rounds x %.1f s\n", tasks, rounds, seconds);
    std::printf("ferry %.2fM switches/s, asio coroutines %.2fM, asio posted callbacks %.2fM\n",
                median(ferry_rates) / 1e6, median(asio_rates) / 1e6, median(post_rates) / 1e6);
    std::printf("ferry/asio median %.2fx (%.2f-%.2f); ferry/asio posted callbacks median %.2fx "
                "(%.2f-%.2f)\n",
                median(ratios), ratios.front(), ratios.back(), median(post_ratios),
                post_ratios.front(), post_ratios.back());
    return 0;
}
