// echo_bench: ferry's Protocol echo server against a raw libuv and an Asio echo server, in the
// same run, interleaved round by round. Each server runs in its own child process so its CPU
// time can be read exactly (/proc/<pid>/schedstat, nanoseconds on CPU); the load generator is
// the same raw-libuv client for all three. Prints medians and ratios to raw libuv.
#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "echo_servers.hpp"
#include "load_generator.hpp"

namespace {

struct ServerKind {
    const char* name;
    void (*run)(int port_fd);
};

const ServerKind servers[] = {
    {"raw libuv", bench::run_libuv_server},
    {"ferry", bench::run_ferry_server},
    {"ferry streams", bench::run_ferry_streams_server},
    {"asio", bench::run_asio_server},
};

/// CPU time a process has spent, in nanoseconds: the first field of /proc/<pid>/schedstat,
/// or, on kernels without it, utime + stime from /proc/<pid>/stat (clock-tick resolution).
std::uint64_t cpu_ns(pid_t pid) {
    std::ifstream schedstat("/proc/" + std::to_string(pid) + "/schedstat");
    std::uint64_t ns = 0;
    if (schedstat >> ns) {
        return ns;
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string field;
    std::uint64_t ticks = 0;
    for (int i = 1; i <= 15 && stat >> field; ++i) {
        if (i == 14 || i == 15) { // utime, stime (the comm field has no spaces for our servers)
            ticks += std::stoull(field);
        }
    }
    return ticks * 1'000'000'000ull / static_cast<std::uint64_t>(sysconf(_SC_CLK_TCK));
}

/// Pins the calling process to one CPU, so the server and the load generator do not take
/// turns on the same core (which made the per-round numbers swing by 25%).
void pin_to_cpu(int cpu) {
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

struct Child {
    pid_t pid;
    std::uint16_t port;
};

Child spawn(const ServerKind& kind) {
    int fds[2];
    if (pipe(fds) != 0) {
        throw std::runtime_error("pipe failed");
    }
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        pin_to_cpu(1);
        kind.run(fds[1]);
    }
    close(fds[1]);
    std::uint16_t port = 0;
    if (read(fds[0], &port, sizeof port) != sizeof port) {
        throw std::runtime_error(std::string(kind.name) + " server did not start");
    }
    close(fds[0]);
    return {pid, port};
}

void stop(const Child& child) {
    kill(child.pid, SIGTERM); // not SIGKILL: valgrind must be able to write its profile
    waitpid(child.pid, nullptr, 0);
}

struct Sample {
    double round_trips_per_s = 0;
    double cpu_us_per_round_trip = 0;
    double stream_mb_per_cpu_s = 0;
};

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Echo benchmark: ferry vs raw libuv vs Asio, same run"};
    int connections = 50;
    std::size_t size = 64;
    int rounds = 9;
    double seconds = 1.5;
    double warmup = 0.5;
    app.add_option("--connections", connections, "concurrent connections")
        ->check(CLI::PositiveNumber);
    app.add_option("--size", size, "ping-pong message size in bytes")->check(CLI::PositiveNumber);
    app.add_option("--rounds", rounds, "interleaved rounds (median reported)")
        ->check(CLI::PositiveNumber);
    app.add_option("--seconds", seconds, "measured seconds per phase");
    app.add_option("--warmup", warmup, "unmeasured seconds before each phase");
    std::string phase = "both";
    app.add_option("--phase", phase,
                   "ping, stream or both (one phase alone is for counting instructions under "
                   "valgrind --tool=callgrind)")
        ->check(CLI::IsMember({"ping", "stream", "both"}));
    std::string only;
    app.add_option("--only", only, "run just this server (\"raw libuv\", ferry, asio)");
    CLI11_PARSE(app, argc, argv);

    std::printf("echo benchmark: %d connections, %zu B ping-pong, stream window 256 KiB, "
                "%d rounds x %.1f s per phase, medians\n",
                connections, size, rounds, seconds);
    pin_to_cpu(0);
    std::map<std::string, std::vector<Sample>> samples;
    for (int round = 0; round < rounds; ++round) {
        // Rotate the order each round so no server always runs first.
        for (std::size_t i = 0; i < std::size(servers); ++i) {
            const ServerKind& kind = servers[(i + round) % std::size(servers)];
            if (!only.empty() && only != kind.name) {
                continue;
            }
            Child child = spawn(kind);
            Sample sample;
            std::uint64_t cpu_start = 0;
            std::uint64_t cpu_used = 0;
            auto mark = [&](bool start) {
                if (start) {
                    cpu_start = cpu_ns(child.pid);
                } else {
                    cpu_used = cpu_ns(child.pid) - cpu_start;
                }
            };
            if (phase != "stream") {
                auto ping = bench::run_load(child.port, bench::LoadMode::ping_pong, connections,
                                            size, warmup, seconds, mark);
                sample.round_trips_per_s = static_cast<double>(ping.round_trips) / ping.seconds;
                sample.cpu_us_per_round_trip =
                    static_cast<double>(cpu_used) / 1e3 / static_cast<double>(ping.round_trips);
                std::printf("  %s: %" PRIu64 " round trips (server pid %d)\n", kind.name,
                            ping.round_trips, static_cast<int>(child.pid));
            }
            if (phase != "ping") {
                auto stream = bench::run_load(child.port, bench::LoadMode::stream, connections,
                                              size, warmup, seconds, mark);
                sample.stream_mb_per_cpu_s = static_cast<double>(stream.bytes_echoed) / 1e6 /
                                             (static_cast<double>(cpu_used) / 1e9);
                std::printf("  %s: %" PRIu64 " bytes echoed (server pid %d)\n", kind.name,
                            stream.bytes_echoed, static_cast<int>(child.pid));
            }
            stop(child);
            samples[kind.name].push_back(sample);
            std::printf("  round %d %-9s %10.0f rt/s %7.3f us/rt %8.1f MB/CPU-s\n", round + 1,
                        kind.name, sample.round_trips_per_s, sample.cpu_us_per_round_trip,
                        sample.stream_mb_per_cpu_s);
        }
    }

    if (!only.empty()) {
        return 0; // no baseline to compare with
    }
    // Ratios are taken within each round (the servers of one round ran seconds apart, so slow
    // phases of this shared VM affect them alike), then the median over rounds is reported
    // with the range, so the reader sees how much the machine wandered.
    auto per_round = [&](const std::string& name, double Sample::*field, bool ratio) {
        std::vector<double> values;
        for (std::size_t r = 0; r < samples[name].size(); ++r) {
            const double value = samples[name][r].*field;
            values.push_back(ratio ? value / (samples["raw libuv"][r].*field) : value);
        }
        std::sort(values.begin(), values.end());
        return values;
    };
    std::printf("\n%-14s %14s %14s %16s | %-36s\n", "server", "round trips/s", "server us/rt",
                "stream MB/CPU-s", "ratio to raw libuv: median (min-max)");
    for (const ServerKind& kind : servers) {
        auto rate = per_round(kind.name, &Sample::round_trips_per_s, false);
        auto cpu = per_round(kind.name, &Sample::cpu_us_per_round_trip, false);
        auto stream = per_round(kind.name, &Sample::stream_mb_per_cpu_s, false);
        std::printf("%-14s %14.0f %14.3f %16.1f |\n", kind.name, median(rate), median(cpu),
                    median(stream));
    }
    for (const char* name : {"ferry", "ferry streams", "asio"}) {
        auto rate = per_round(name, &Sample::round_trips_per_s, true);
        auto cpu = per_round(name, &Sample::cpu_us_per_round_trip, true);
        auto stream = per_round(name, &Sample::stream_mb_per_cpu_s, true);
        std::printf("%-14s rt/s %.3fx (%.3f-%.3f)   CPU/rt %.3fx (%.3f-%.3f)   "
                    "stream eff %.3fx (%.3f-%.3f)\n",
                    name, median(rate), rate.front(), rate.back(), median(cpu), cpu.front(),
                    cpu.back(), median(stream), stream.front(), stream.back());
    }
    return 0;
}
