// serial_bench: ferry's serial transport against a raw epoll loop, a raw uv_poll loop and
// Asio's serial_port on the same kind of pseudo-terminal, in the same run, interleaved round
// by round: 64 MiB received, 64 MiB sent, and 1-byte echo round trips. The program under test
// runs in this thread (its CPU time read with CLOCK_THREAD_CPUTIME_ID); the device end (the
// pty master) is one plain blocking thread, the same for all. Then ferry alone holds many idle
// ports open and counts its loop's wake-ups and threads.
#include <pty.h>
#include <sched.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <uv.h>

#include <ferry/detail/loop_access.hpp>
#include <ferry/loop.hpp>
#include <ferry/serial.hpp>

#include "serial_contenders.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Contender {
    const char* name;
    void (*run)(const bench::SerialRun&);
};

const Contender contenders[] = {
    {"raw epoll", bench::serial_raw_epoll},
    {"raw uv_poll", bench::serial_raw_uv_poll},
    {"ferry", bench::serial_ferry},
    {"asio", bench::serial_asio},
};

/// A pty whose slave stays open (raw) for the run: a master whose slave has no opener reads
/// EIO, and the device must not depend on when the program under test opens its end.
struct Pty {
    int master = -1;
    int slave = -1;
    std::string path;
    Pty() {
        char name[128];
        if (::openpty(&master, &slave, name, nullptr, nullptr) != 0) {
            throw std::runtime_error("openpty failed");
        }
        termios raw{};
        ::tcgetattr(slave, &raw);
        ::cfmakeraw(&raw);
        ::tcsetattr(slave, TCSANOW, &raw);
        path = name;
    }
    ~Pty() {
        ::close(master);
        ::close(slave);
    }
    Pty(const Pty&) = delete;
    Pty& operator=(const Pty&) = delete;
};

bool pinning = true;

void pin_to_cpu(int cpu) {
    if (!pinning || std::thread::hardware_concurrency() < 2) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);
}

double thread_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// The device end, in its own thread: writes, reads or answers one byte at a time.
void device(int master, bench::SerialJob job, std::size_t amount) {
    pin_to_cpu(1);
    std::vector<char> buffer(64 * 1024, 'd');
    std::size_t done = 0;
    while (done < amount) {
        ssize_t n = 0;
        switch (job) {
        case bench::SerialJob::receive:
            n = ::write(master, buffer.data(), std::min(buffer.size(), amount - done));
            break;
        case bench::SerialJob::send:
            n = ::read(master, buffer.data(), buffer.size());
            break;
        case bench::SerialJob::echo:
            n = ::write(master, buffer.data(), 1);
            if (n == 1) {
                n = ::read(master, buffer.data(), 1);
            }
            break;
        }
        if (n <= 0) {
            std::fprintf(stderr, "device: %s\n", n == 0 ? "end of file" : std::strerror(errno));
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

/// One measurement: wall seconds until both ends finished, CPU seconds of the program.
struct Measurement {
    double wall = 0;
    double cpu = 0;
};

Measurement measure(const Contender& contender, bench::SerialJob job, std::size_t amount) {
    Pty pty;
    pin_to_cpu(0);
    const auto start = Clock::now();
    const double cpu_start = thread_cpu_seconds();
    std::thread device_thread(device, pty.master, job, amount);
    contender.run({job, pty.path, amount});
    const double cpu = thread_cpu_seconds() - cpu_start;
    device_thread.join();
    return {std::chrono::duration<double>(Clock::now() - start).count(), cpu};
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

struct JobReport {
    const char* title;
    bench::SerialJob job;
    std::size_t amount;
    /// Unit for rates: MB (1e6 bytes) or round trips.
    double units;
    const char* rate_name;
    const char* cost_name;
    double cost_scale; // CPU seconds per unit -> the printed cost unit
};

/// Counts the loop's iterations: a prepare handle runs once per iteration, unreferenced so
/// it never keeps the loop alive by itself.
struct IterationCounter {
    uv_prepare_t handle{};
    std::uint64_t count = 0;
    explicit IterationCounter(uv_loop_t* loop) {
        uv_prepare_init(loop, &handle);
        handle.data = this;
        uv_prepare_start(&handle,
                         [](uv_prepare_t* h) { ++static_cast<IterationCounter*>(h->data)->count; });
        uv_unref(reinterpret_cast<uv_handle_t*>(&handle));
    }
    void close() { uv_close(reinterpret_cast<uv_handle_t*>(&handle), nullptr); }
};

int count_threads() {
    int n = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/task")) {
        ++n;
    }
    return n;
}

double process_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

/// ferry with `ports` open ports and nothing happening: wake-ups, CPU and threads.
void idle(int ports, double seconds) {
    std::vector<std::unique_ptr<Pty>> ptys;
    ferry::Loop loop;
    std::vector<std::shared_ptr<ferry::SerialTransport>> open;
    for (int i = 0; i < ports; ++i) {
        ptys.push_back(std::make_unique<Pty>());
        open.push_back(
            ferry::create_serial_connection(
                loop, [] { return std::make_unique<ferry::Protocol>(); }, ptys.back()->path, {})
                .value());
    }
    loop.run_once(false); // settle: anything pending from opening runs now, not in the window
    IterationCounter counter(ferry::detail::LoopAccess::native(loop));
    const double cpu_start = process_cpu_seconds();
    const auto start = Clock::now();
    loop.call_later(std::chrono::milliseconds(static_cast<long>(seconds * 1000)),
                    [&loop] { loop.stop(); });
    loop.run();
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    const double cpu = process_cpu_seconds() - cpu_start;
    // Iteration 1 waits in epoll; the timer that ends the window starts iteration 2, which
    // does not wait (stop() was called). Anything beyond those two is a wake-up.
    const std::uint64_t wakeups = counter.count > 2 ? counter.count - 2 : 0;
    const int threads = count_threads();
    std::printf("\nidle: %d open serial ports, %.1f s: %llu loop iterations = %llu wake-ups "
                "besides the timer that ends the window; %.3f ms CPU; %d thread%s\n",
                ports, wall, static_cast<unsigned long long>(counter.count),
                static_cast<unsigned long long>(wakeups), cpu * 1000, threads,
                threads == 1 ? "" : "s");
    counter.close();
    for (auto& port : open) {
        port->close();
    }
    loop.close();
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"ferry's serial transport beside raw epoll, raw uv_poll and Asio on ptys"};
    int rounds = 15;
    double mib = 64;
    std::size_t echoes = 20000;
    int idle_ports = 64;
    double idle_seconds = 10;
    app.add_option("--rounds", rounds, "interleaved rounds (medians reported)")
        ->capture_default_str();
    app.add_option("--mib", mib, "MiB per throughput run")->capture_default_str();
    app.add_option("--echoes", echoes, "1-byte round trips per echo run")->capture_default_str();
    app.add_option("--idle-ports", idle_ports, "ports held open in the idle check")
        ->capture_default_str();
    app.add_option("--idle-seconds", idle_seconds, "length of the idle check")
        ->capture_default_str();
    std::string only;
    app.add_option("--only", only, "run just this contender and the raw epoll baseline");
    std::string only_job;
    app.add_option("--job", only_job, "run just this job: receive, send or echo");
    bool no_pin = false;
    app.add_flag("--no-pin", no_pin, "let the scheduler place the program and the device");
    CLI11_PARSE(app, argc, argv);
    pinning = !no_pin;

    const std::size_t bytes = static_cast<std::size_t>(mib * 1024 * 1024);
    const JobReport jobs[] = {
        {"receive", bench::SerialJob::receive, bytes, bytes / 1e6, "MB/s", "CPU ms/MB", 1e3},
        {"send", bench::SerialJob::send, bytes, bytes / 1e6, "MB/s", "CPU ms/MB", 1e3},
        {"echo", bench::SerialJob::echo, echoes, static_cast<double>(echoes), "rt/s", "CPU us/rt",
         1e6},
    };
    std::printf("serial_bench: %d rounds; %.0f MiB per throughput run, %zu 1-byte echoes per "
                "echo run; pty, 115200 8N1 (a pty ignores the rate)\n",
                rounds, mib, echoes);
    for (const JobReport& job : jobs) {
        if (!only_job.empty() && only_job != job.title) {
            continue;
        }
        // [contender] -> per-round rate and cost
        std::map<std::string, std::vector<double>> rate, cost;
        for (int round = 0; round < rounds; ++round) {
            // Rotate the order each round so no contender always runs first (warm caches).
            for (std::size_t k = 0; k < std::size(contenders); ++k) {
                const Contender& c = contenders[(k + round) % std::size(contenders)];
                if (!only.empty() && only != c.name && std::string(c.name) != "raw epoll") {
                    continue;
                }
                const Measurement m = measure(c, job.job, job.amount);
                rate[c.name].push_back(job.units / m.wall);
                cost[c.name].push_back(m.cpu / job.units * job.cost_scale);
            }
        }
        std::printf("\n%-8s %-12s %12s %12s | ratio to raw epoll, median (min-max): %s, %s\n",
                    job.title, "", job.rate_name, job.cost_name, job.rate_name, job.cost_name);
        for (const Contender& c : contenders) {
            if (rate[c.name].empty()) {
                continue;
            }
            std::vector<double> rate_ratio, cost_ratio;
            for (int round = 0; round < rounds; ++round) {
                rate_ratio.push_back(rate[c.name][round] / rate["raw epoll"][round]);
                cost_ratio.push_back(cost[c.name][round] / cost["raw epoll"][round]);
            }
            const auto [rmin, rmax] = std::minmax_element(rate_ratio.begin(), rate_ratio.end());
            const auto [cmin, cmax] = std::minmax_element(cost_ratio.begin(), cost_ratio.end());
            std::printf("%-8s %-12s %12.1f %12.3f | %.3fx (%.3f-%.3f)   %.3fx (%.3f-%.3f)\n", "",
                        c.name, median(rate[c.name]), median(cost[c.name]), median(rate_ratio),
                        *rmin, *rmax, median(cost_ratio), *cmin, *cmax);
        }
    }
    if (idle_ports > 0 && idle_seconds > 0) {
        idle(idle_ports, idle_seconds);
    }
    return 0;
}
