// switch_bench: coroutine switches per second — 10 tasks taking turns, each yielding back to
// the loop once per turn (asyncio's `await asyncio.sleep(0)`), ferry against Asio's C++20
// coroutines (`co_await asio::post(executor, use_awaitable)`) in the same run.
#include <algorithm>
#include <chrono>
#include <cstdio>
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
    std::vector<ferry::TaskHandle<void>> handles;
    for (int i = 0; i < tasks; ++i) {
        handles.push_back(loop.create_task(worker(stop, switches)));
    }
    const auto start = Clock::now();
    loop.call_later(std::chrono::duration<double>(seconds), [&] { stop = true; });
    while (!std::all_of(handles.begin(), handles.end(), [](auto& h) { return h.done(); })) {
        loop.run_once(true);
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    loop.close();
    return static_cast<double>(switches) / elapsed;
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
    asio::steady_timer timer(context, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::duration<double>(seconds)));
    timer.async_wait([&](std::error_code) { stop = true; });
    const auto start = Clock::now();
    context.run();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
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
    CLI11_PARSE(app, argc, argv);

    std::vector<double> ferry_rates;
    std::vector<double> asio_rates;
    std::vector<double> ratios;
    for (int round = 0; round < rounds; ++round) {
        const double f = ferry_switches_per_second(tasks, seconds);
        const double a = asio_switches_per_second(tasks, seconds);
        ferry_rates.push_back(f);
        asio_rates.push_back(a);
        ratios.push_back(f / a);
        std::printf("  round %d: ferry %.2fM switches/s, asio %.2fM switches/s, ratio %.2fx\n",
                    round + 1, f / 1e6, a / 1e6, f / a);
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::sort(ratios.begin(), ratios.end());
    std::printf("switch benchmark: %d tasks, %d rounds x %.1f s\n", tasks, rounds, seconds);
    std::printf("ferry %.2fM switches/s, asio %.2fM switches/s, ferry/asio median %.2fx "
                "(%.2f-%.2f)\n",
                median(ferry_rates) / 1e6, median(asio_rates) / 1e6, median(ratios), ratios.front(),
                ratios.back());
    return 0;
}
