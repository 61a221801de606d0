// echo_bench: ferry's echo servers (Protocol API and streams) against raw libuv and Asio, in the
// same run, interleaved round by round. Each server is its own executable in its own process,
// so its CPU time (/proc/<pid>/schedstat) and memory (/proc/<pid>/statm) are its own; the load
// generator is the same raw-libuv client for all. Per round and server: memory at start and
// per idle connection, then ping-pong and bulk echo at several connection counts. Ratios to raw
// libuv are taken within each round; the median over rounds is printed with its range.
// With --tls, the same over TLS 1.3 (AES-128-GCM): ferry, Asio's ssl::stream and Python asyncio
// serve TLS, raw libuv still serves plaintext as the reference, and a second set of ratios is
// taken against Asio.
// With --instructions, ping-pong is measured in user-space instructions (and first-level data
// cache misses, simulated) per round trip instead of CPU time: each server runs under valgrind
// --tool=callgrind, twice per connection count (a short run and one four times as long), and the
// difference of the two totals over the difference of their round trips is the cost of one round
// trip, start-up and connection set-up cancelled. Deterministic, where CPU time on a shared machine
// swings by tens of per cent between rounds; it does not see the kernel's share, which is the same
// system calls for every server. It also counts the distinct lines of code every round trip runs
// (the code a server that slept between round trips fetches again).
#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sched.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "load_generator.hpp"

namespace {

struct ServerKind {
    std::string name;
    std::string program; // beside echo_bench unless it holds a '/'
    std::vector<std::string> arguments;
    bool tls = false; // serves TLS: given CERT KEY as two more arguments, loaded over TLS
};

/// The contenders, and any added with --contender (another build of a server: before/after).
std::vector<ServerKind> servers = {
    {"raw libuv", "echo_server_libuv", {}},
    {"ferry", "echo_server_ferry", {"protocol"}},
    {"ferry streams", "echo_server_ferry", {"streams"}},
    {"asio", "echo_server_asio", {}},
};
/// The contenders with --tls: raw libuv stays plaintext, the reference.
std::vector<ServerKind> tls_servers = {
    {"raw libuv", "echo_server_libuv", {}},
    {"ferry", "echo_server_ferry_tls", {"protocol"}, true},
    {"ferry streams", "echo_server_ferry_tls", {"streams"}, true},
    {"asio", "echo_server_asio", {}, true},
    {"asyncio", "/usr/bin/python3", {ECHO_SERVER_ASYNCIO}, true},
};
constexpr const char* baseline = "raw libuv";

/// The certificate and key every TLS server uses: a fresh P-256 self-signed pair.
struct TlsFiles {
    std::string cert;
    std::string key;
};

/// Makes the pair with the `openssl` command in a temporary directory (removed at exit).
TlsFiles make_tls_files() {
    static std::filesystem::path directory;
    char pattern[] = "/tmp/ferry-echo-bench-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
        throw std::runtime_error("cannot make a temporary directory");
    }
    directory = pattern;
    std::atexit([] { std::filesystem::remove_all(directory); });
    TlsFiles files{(directory / "cert.pem").string(), (directory / "key.pem").string()};
    const std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                                "-nodes -days 1 -subj /CN=localhost -keyout " +
                                files.key + " -out " + files.cert + " 2>/dev/null";
    if (std::system(command.c_str()) != 0) {
        throw std::runtime_error("openssl req failed (is the openssl package installed?)");
    }
    return files;
}

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

/// Resident memory of a process in bytes (/proc/<pid>/statm, second field, in pages).
double rss_bytes(pid_t pid) {
    std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
    std::uint64_t size = 0;
    std::uint64_t resident = 0;
    statm >> size >> resident;
    return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
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

/// 2000 connections need 4000 descriptors between the two processes; servers inherit this.
void raise_descriptor_limit() {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &limit);
}

std::string program_directory() {
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) {
        throw std::runtime_error("cannot read /proc/self/exe");
    }
    std::string exe(path, static_cast<std::size_t>(n));
    return exe.substr(0, exe.rfind('/'));
}

struct Child {
    pid_t pid;
    std::uint16_t port;
};

/// Starts a server on CPU 1 and reads the port it prints; with a `wrapper` (a command and its
/// arguments, found on PATH), the server runs under it (valgrind).
Child spawn(const ServerKind& kind, const TlsFiles& tls,
            const std::vector<std::string>& wrapper = {}) {
    const std::string program = kind.program.find('/') != std::string::npos
                                    ? kind.program
                                    : program_directory() + "/" + kind.program;
    int fds[2];
    if (pipe(fds) != 0) {
        throw std::runtime_error("pipe failed");
    }
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[1]);
        pin_to_cpu(1);
        std::vector<const char*> argv;
        for (const std::string& word : wrapper) {
            argv.push_back(word.c_str());
        }
        argv.push_back(program.c_str());
        for (const std::string& argument : kind.arguments) {
            argv.push_back(argument.c_str());
        }
        if (kind.tls) {
            argv.push_back(tls.cert.c_str());
            argv.push_back(tls.key.c_str());
        }
        argv.push_back(nullptr);
        execvp(argv[0], const_cast<char* const*>(argv.data()));
        _exit(127);
    }
    close(fds[1]);
    char line[16] = {};
    std::size_t got = 0;
    while (got < sizeof line - 1) {
        const ssize_t n = read(fds[0], line + got, sizeof line - 1 - got);
        if (n <= 0 || line[got + static_cast<std::size_t>(n) - 1] == '\n') {
            got += n > 0 ? static_cast<std::size_t>(n) : 0;
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    close(fds[0]);
    const unsigned long port = got > 0 ? std::strtoul(line, nullptr, 10) : 0;
    if (port == 0 || port > 65535) {
        if (!wrapper.empty()) {
            // valgrind's own messages go to /dev/null: say where to look.
            throw std::runtime_error(program + " did not start under " + wrapper[0] +
                                     " (run it so by hand to see why; valgrind 3.19 cannot "
                                     "read clang 14's DWARF 5: build with g++ or -gdwarf-4)");
        }
        throw std::runtime_error(program + " did not start (is it built?)");
    }
    return {pid, static_cast<std::uint16_t>(port)};
}

void stop(const Child& child) {
    kill(child.pid, SIGTERM); // not SIGKILL: valgrind must be able to write its profile
    waitpid(child.pid, nullptr, 0);
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

/// Per server, per measurement ("ping 50", "bulk 10", "rss start"...), one value per round.
using Samples = std::map<std::string, std::map<std::string, std::vector<double>>>;

/// One table: a row per connection count, the baseline's median value, then every other
/// server's ratio to it (taken within each round) as median (min-max).
void print_table(const Samples& samples, const std::string& title, const std::string& key,
                 const std::vector<int>& counts, const char* unit,
                 const std::string& baseline = ::baseline) {
    std::printf("\n%s\n%-6s %12s", title.c_str(), "conns", baseline.c_str());
    for (const ServerKind& kind : servers) {
        if (kind.name != baseline && samples.count(kind.name) != 0) {
            std::printf(" %22s", kind.name.c_str());
        }
    }
    std::printf("\n");
    for (int count : counts) {
        const std::string k = key + " " + std::to_string(count);
        const auto& base = samples.at(baseline).at(k);
        std::printf("%-6d %9.3f %-2s", count, median(base), unit);
        for (const ServerKind& kind : servers) {
            if (kind.name == baseline || samples.count(kind.name) == 0) {
                continue;
            }
            const auto& values = samples.at(kind.name).at(k);
            std::vector<double> ratios;
            for (std::size_t r = 0; r < values.size() && r < base.size(); ++r) {
                ratios.push_back(values[r] / base[r]);
            }
            std::sort(ratios.begin(), ratios.end());
            char cell[64];
            if (ratios.size() == 1) {
                std::snprintf(cell, sizeof cell, "%.3fx", ratios.front()); // a deterministic count
            } else {
                std::snprintf(cell, sizeof cell, "%.3fx (%.2f-%.2f)", median(ratios),
                              ratios.front(), ratios.back());
            }
            std::printf(" %22s", cell);
        }
        std::printf("\n");
    }
}

/// One table of each server's value (a single, deterministic sample) per connection count:
/// for counts near zero, where a ratio says nothing.
void print_values(const Samples& samples, const std::string& title, const std::string& key,
                  const std::vector<int>& counts, int decimals = 2) {
    std::printf("\n%s\n%-6s", title.c_str(), "conns");
    for (const ServerKind& kind : servers) {
        if (samples.count(kind.name) != 0) {
            std::printf(" %14s", kind.name.c_str());
        }
    }
    std::printf("\n");
    for (int count : counts) {
        std::printf("%-6d", count);
        for (const ServerKind& kind : servers) {
            if (samples.count(kind.name) != 0) {
                // A difference of two runs: where nothing misses it can come out a hair below
                // zero, which means zero.
                const double value = samples.at(kind.name).at(key + " " + std::to_string(count))[0];
                std::printf(" %14.*f", decimals, std::max(value, 0.0));
            }
        }
        std::printf("\n");
    }
}

/// What callgrind counts for a process: instructions executed, first-level data cache misses
/// (reads and writes) in its simulation of this machine's caches, and how often each
/// instruction ran (keyed by its object file and address).
struct CallgrindCounts {
    double instructions = 0;
    double data_misses = 0;
    std::map<std::pair<std::string, std::uint64_t>, double> per_instruction;
};

/// What callgrind wrote for a finished process run with --dump-instr=yes --compress-pos=no
/// --compress-strings=no (and --dump-line=no, or the source line follows each address): its totals
/// ("events:" and "totals:"/"summary:" lines) and each instruction's own count (an "0x<address>
/// <Ir> ..." line; the line after "calls=" is the call's inclusive cost, not the instruction's).
CallgrindCounts callgrind_counts(const std::string& path) {
    std::ifstream file(path);
    std::string line;
    std::vector<std::string> events;
    CallgrindCounts counts;
    std::string object;
    bool call_cost_next = false;
    bool totals_seen = false;
    int positions = 1; // columns before the counts: "instr", or "instr line"
    while (std::getline(file, line)) {
        if (line.starts_with("0x")) {
            if (std::exchange(call_cost_next, false)) {
                continue;
            }
            std::istringstream words(line);
            std::string address;
            words >> address;
            for (int i = 1; i < positions; ++i) {
                std::string skipped; // the source line, when positions are "instr line"
                words >> skipped;
            }
            double executed = 0;
            words >> executed;
            counts.per_instruction[{object, std::stoull(address, nullptr, 16)}] += executed;
        } else if (line.starts_with("positions:")) {
            std::istringstream words(line.substr(10));
            positions = 0;
            for (std::string position; words >> position;) {
                ++positions;
            }
        } else if (line.starts_with("ob=")) {
            object = line.substr(3);
        } else if (line.starts_with("calls=")) {
            call_cost_next = true;
        } else if (line.starts_with("events:")) {
            std::istringstream words(line.substr(7));
            for (std::string event; words >> event;) {
                events.push_back(event);
            }
        } else if (line.starts_with("totals:") || line.starts_with("summary:")) {
            std::istringstream words(line.substr(line.find(':') + 1));
            double value = 0;
            counts.instructions = counts.data_misses = 0;
            for (std::size_t i = 0; words >> value && i < events.size(); ++i) {
                if (events[i] == "Ir") {
                    counts.instructions = value;
                } else if (events[i] == "D1mr" || events[i] == "D1mw") {
                    counts.data_misses += value;
                }
            }
            totals_seen = true;
        }
    }
    if (!totals_seen) {
        throw std::runtime_error("no totals in " + path);
    }
    return counts;
}

/// One round trip's cost, from a short and a long run `round_trips` apart.
struct RoundTripCost {
    double instructions = 0;
    double data_misses = 0;
    /// Distinct 64-byte lines of code that run in every round trip: what a round trip brings
    /// back into the instruction cache after the server slept in epoll_wait.
    std::size_t code_lines = 0;
};

/// The cost of one round trip: the long run's counts less the short run's, over the round
/// trips between them.
RoundTripCost round_trip_cost(const CallgrindCounts& short_run, const CallgrindCounts& long_run,
                              double round_trips) {
    RoundTripCost cost{(long_run.instructions - short_run.instructions) / round_trips,
                       (long_run.data_misses - short_run.data_misses) / round_trips, 0};
    std::set<std::pair<std::string, std::uint64_t>> lines;
    for (const auto& [instruction, executed] : long_run.per_instruction) {
        const auto before = short_run.per_instruction.find(instruction);
        const double extra =
            executed - (before == short_run.per_instruction.end() ? 0 : before->second);
        // Once per round trip (a hair less for code that skips a round now and then, such
        // as a loop iteration that found two connections ready).
        if (extra >= 0.9 * round_trips) {
            lines.emplace(instruction.first, instruction.second / 64);
        }
    }
    cost.code_lines = lines.size();
    return cost;
}

/// --instructions: one server's user-space instructions, first-level data cache misses and
/// code lines per ping-pong round trip at `count` connections: two runs under callgrind,
/// `seconds` and 4 x `seconds` long, differenced.
RoundTripCost per_round_trip(const ServerKind& kind, const TlsFiles& tls, int count,
                             std::size_t size, double seconds, const std::string& directory) {
    CallgrindCounts totals[2] = {};
    std::uint64_t round_trips[2] = {};
    for (int run = 0; run < 2; ++run) {
        const std::vector<std::string> valgrind{"valgrind",
                                                "--tool=callgrind",
                                                "--cache-sim=yes",
                                                "--dump-instr=yes",
                                                "--dump-line=no",
                                                "--compress-pos=no",
                                                "--compress-strings=no",
                                                "--log-file=/dev/null",
                                                "--callgrind-out-file=" + directory +
                                                    "/callgrind.%p"};
        Child child = spawn(kind, tls, valgrind);
        try {
            const auto wire = kind.tls ? bench::Wire::tls13_aes128gcm : bench::Wire::plaintext;
            const auto r = bench::run_load(
                child.port, bench::LoadMode::ping_pong, count, size, 0.05,
                seconds * (run == 0 ? 1 : 4), [](bool) {}, wire);
            round_trips[run] = r.all_round_trips;
        } catch (...) {
            stop(child);
            throw;
        }
        stop(child); // callgrind writes its totals as the server exits
        const std::string path = directory + "/callgrind." + std::to_string(child.pid);
        totals[run] = callgrind_counts(path);
        std::filesystem::remove(path);
    }
    if (round_trips[1] <= round_trips[0]) {
        throw std::runtime_error("the long run made no more round trips than the short one");
    }
    return round_trip_cost(totals[0], totals[1],
                           static_cast<double>(round_trips[1] - round_trips[0]));
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Echo benchmark: ferry vs raw libuv vs Asio, same run, each server its own "
                 "process"};
    std::vector<int> ping_counts{1, 50, 500, 2000};
    std::vector<int> bulk_counts{1, 10, 50, 500};
    int idle_count = 1000;
    std::size_t size = 64;
    int rounds = 5;
    double seconds = 1.0;
    double warmup = 0.3;
    std::string phase = "all";
    std::vector<std::string> only;
    std::vector<std::string> contenders;
    bool tls = false;
    bool instructions = false;
    app.add_option("--ping-connections", ping_counts, "connection counts for ping-pong")
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
    app.add_option("--bulk-connections", bulk_counts, "connection counts for bulk echo")
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
    app.add_option("--idle-connections", idle_count, "idle connections for memory per connection")
        ->check(CLI::PositiveNumber);
    app.add_option("--size", size, "ping-pong message size in bytes")->check(CLI::PositiveNumber);
    app.add_option("--rounds", rounds, "interleaved rounds (median reported)")
        ->check(CLI::PositiveNumber);
    app.add_option("--seconds", seconds, "measured seconds per phase");
    app.add_option("--warmup", warmup, "unmeasured seconds before each phase");
    app.add_option("--phase", phase,
                   "ping, bulk, memory or all (one phase alone is for counting instructions "
                   "under valgrind --tool=callgrind)")
        ->check(CLI::IsMember({"ping", "bulk", "memory", "all"}));
    app.add_option("--only", only,
                   "run just these servers, comma-separated (\"raw libuv\", ferry, \"ferry "
                   "streams\", asio, or a contender's name); ratios need raw libuv among them")
        ->delimiter(',');
    app.add_option("--contender", contenders,
                   "another server, NAME=PROGRAM[:ARGUMENT] (e.g. a build of an earlier commit: "
                   "\"streams before=/tmp/old/echo_server_ferry:streams\"); repeatable");
    app.add_flag("--tls", tls,
                 "TLS 1.3 AES-128-GCM echo: ferry, Asio ssl::stream and asyncio over TLS, raw "
                 "libuv plaintext as the reference (fewer connections by default: 1,50,500 "
                 "ping, 1,10,50 bulk, 200 idle)");
    app.add_flag("--instructions", instructions,
                 "ping-pong in user-space instructions and simulated first-level data cache "
                 "misses per round trip, counted by valgrind --tool=callgrind (deterministic; "
                 "two runs per server and count, --seconds and 4x as long, differenced; "
                 "--rounds is ignored)");
    CLI11_PARSE(app, argc, argv);
    TlsFiles tls_files;
    if (tls) {
        servers = tls_servers;
        tls_files = make_tls_files();
        // Every handshake costs the server a signature; 2000 of them per phase would measure
        // handshakes, not echo.
        if (app.count("--ping-connections") == 0) {
            ping_counts = {1, 50, 500};
        }
        if (app.count("--bulk-connections") == 0) {
            bulk_counts = {1, 10, 50};
        }
        if (app.count("--idle-connections") == 0) {
            idle_count = 200;
        }
    }
    for (const std::string& contender : contenders) {
        const auto equals = contender.find('=');
        if (equals == std::string::npos || equals == 0) {
            std::fprintf(stderr, "--contender %s: expected NAME=PROGRAM[:ARGUMENT]\n",
                         contender.c_str());
            return 2;
        }
        const std::string program = contender.substr(equals + 1);
        const auto colon = program.rfind(':');
        std::vector<std::string> arguments;
        if (colon != std::string::npos) {
            arguments.push_back(program.substr(colon + 1));
        }
        servers.push_back({contender.substr(0, equals), program.substr(0, colon), arguments, tls});
    }
    auto runs = [&](const ServerKind& kind) {
        return only.empty() || std::find(only.begin(), only.end(), kind.name) != only.end();
    };

    std::setvbuf(stdout, nullptr, _IONBF, 0); // each phase shows as it ends
    raise_descriptor_limit();
    pin_to_cpu(0);
    if (instructions) {
        if (std::system("valgrind --version > /dev/null 2>&1") != 0) {
            std::fprintf(stderr, "echo_bench: --instructions needs valgrind "
                                 "(apt-get install -y valgrind)\n");
            return 2;
        }
        char pattern[] = "/tmp/ferry-echo-bench-callgrind-XXXXXX";
        if (mkdtemp(pattern) == nullptr) {
            std::fprintf(stderr, "echo_bench: cannot make a temporary directory\n");
            return 1;
        }
        const std::string directory = pattern;
        std::printf("echo benchmark%s: %zu B ping-pong, user-space instructions per round trip "
                    "(callgrind: runs of %.1f s and %.1f s, differenced)\n",
                    tls ? " over TLS 1.3 AES-128-GCM (raw libuv: plaintext)" : "", size, seconds,
                    4 * seconds);
        Samples samples;
        int status = 0;
        for (const ServerKind& kind : servers) {
            if (!runs(kind)) {
                continue;
            }
            std::printf("  %-13s", kind.name.c_str());
            try {
                for (int count : ping_counts) {
                    const RoundTripCost cost =
                        per_round_trip(kind, tls_files, count, size, seconds, directory);
                    samples[kind.name]["instructions " + std::to_string(count)].push_back(
                        cost.instructions);
                    samples[kind.name]["misses " + std::to_string(count)].push_back(
                        cost.data_misses);
                    samples[kind.name]["code lines " + std::to_string(count)].push_back(
                        static_cast<double>(cost.code_lines));
                    std::printf(" | ping %d: %.1f instructions, %.2f D1 misses, %zu code lines",
                                count, cost.instructions, std::max(cost.data_misses, 0.0),
                                cost.code_lines);
                }
                std::printf("\n");
            } catch (const std::exception& e) {
                std::printf("\n");
                std::fprintf(stderr, "echo_bench: %s: %s\n", kind.name.c_str(), e.what());
                status = 1;
                break;
            }
        }
        std::filesystem::remove_all(directory);
        if (status == 0 && samples.count(baseline) != 0) {
            print_table(samples,
                        "ping-pong " + std::to_string(size) +
                            " B: user-space instructions per round trip (lower is better)",
                        "instructions", ping_counts, "");
            // What grows with the connection count: each connection's state is touched once
            // per round trip, and once it no longer fits the first-level cache every line of
            // it is a miss (callgrind's simulation of this machine's D1; lines, not time).
            print_values(samples,
                         "ping-pong: first-level data cache misses per round trip, simulated "
                         "(lower is better)",
                         "misses", ping_counts);
            // At few connections the server sleeps in epoll_wait between round trips, and
            // what ran meanwhile (the client, the kernel) has displaced its code: each line
            // of code a round trip runs is then fetched again.
            print_values(samples,
                         "ping-pong: distinct 64-byte lines of code run in every round trip "
                         "(lower is better)",
                         "code lines", ping_counts, 0);
        }
        return status;
    }
    std::printf("echo benchmark%s: %zu B ping-pong, bulk 64 KiB writes with 256 KiB in flight "
                "per connection, %d idle connections; %d rounds x %.1f s per phase\n",
                tls ? " over TLS 1.3 AES-128-GCM (raw libuv: plaintext)" : "", size, idle_count,
                rounds, seconds);
    Samples samples;
    for (int round = 0; round < rounds; ++round) {
        // Rotate the order each round so no server always runs first.
        for (std::size_t i = 0; i < std::size(servers); ++i) {
            const ServerKind& kind =
                servers[(i + static_cast<std::size_t>(round)) % std::size(servers)];
            if (!runs(kind)) {
                continue;
            }
            auto& mine = samples[kind.name];
            Child child = spawn(kind, tls_files);
            const auto wire = kind.tls ? bench::Wire::tls13_aes128gcm : bench::Wire::plaintext;
            std::printf("  round %d %-13s (pid %d)", round + 1, kind.name.c_str(),
                        static_cast<int>(child.pid));
            try {
                if (phase == "memory" || phase == "all") {
                    // First, on a fresh process: memory freed by the load phases would otherwise
                    // be reused by the idle connections and hide their cost.
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    const double at_start = rss_bytes(child.pid);
                    double with_idle = at_start;
                    bench::hold_idle(
                        child.port, idle_count, [&] { with_idle = rss_bytes(child.pid); }, wire);
                    mine["rss start"].push_back(at_start / 1e6);
                    mine["rss idle"].push_back((with_idle - at_start) / idle_count);
                    std::printf(" start %.2f MB, %+.0f B/idle conn", at_start / 1e6,
                                (with_idle - at_start) / idle_count);
                }
                std::uint64_t cpu_start = 0;
                std::uint64_t cpu_used = 0;
                auto mark = [&](bool start) {
                    if (start) {
                        cpu_start = cpu_ns(child.pid);
                    } else {
                        cpu_used = cpu_ns(child.pid) - cpu_start;
                    }
                };
                if (phase == "ping" || phase == "all") {
                    for (int count : ping_counts) {
                        auto r = bench::run_load(child.port, bench::LoadMode::ping_pong, count,
                                                 size, warmup, seconds, mark, wire);
                        const double us =
                            static_cast<double>(cpu_used) / 1e3 /
                            static_cast<double>(std::max<std::uint64_t>(r.round_trips, 1));
                        mine["ping " + std::to_string(count)].push_back(us);
                        mine["rate " + std::to_string(count)].push_back(
                            static_cast<double>(r.round_trips) / r.seconds);
                        std::printf(" | ping %d: %.3f us/rt, %" PRIu64 " rt", count, us,
                                    r.round_trips);
                    }
                }
                if (phase == "bulk" || phase == "all") {
                    for (int count : bulk_counts) {
                        auto r = bench::run_load(child.port, bench::LoadMode::bulk, count, size,
                                                 warmup, seconds, mark, wire);
                        const double mb = static_cast<double>(r.bytes_echoed) / 1e6 /
                                          (static_cast<double>(cpu_used) / 1e9);
                        mine["bulk " + std::to_string(count)].push_back(mb);
                        std::printf(" | bulk %d: %.0f MB/CPU-s", count, mb);
                    }
                }
            } catch (const std::exception& e) {
                std::printf("\n");
                std::fprintf(stderr, "echo_bench: %s (pid %d): %s\n", kind.name.c_str(),
                             static_cast<int>(child.pid), e.what());
                stop(child);
                return 1;
            }
            std::printf("\n");
            stop(child);
        }
    }

    if (samples.count(baseline) == 0) {
        return 0; // no baseline to compare with
    }
    if (phase == "memory" || phase == "all") {
        std::printf("\nmemory (RSS)      %12s %12s %18s\n", "at start", "per idle conn",
                    "vs raw libuv");
        const double base_start = median(samples[baseline]["rss start"]);
        const double base_idle = median(samples[baseline]["rss idle"]);
        for (const ServerKind& kind : servers) {
            if (samples.count(kind.name) == 0) {
                continue;
            }
            const double start = median(samples[kind.name]["rss start"]);
            const double idle = median(samples[kind.name]["rss idle"]);
            std::printf("%-17s %9.2f MB %10.0f B   %+6.2f MB %+6.0f B\n", kind.name.c_str(), start,
                        idle, start - base_start, idle - base_idle);
        }
    }
    if (phase == "ping" || phase == "all") {
        print_table(samples,
                    "ping-pong " + std::to_string(size) +
                        " B: server CPU per round trip (lower is better)",
                    "ping", ping_counts, "us");
        print_table(samples, "ping-pong: round trips per second (higher is better)", "rate",
                    ping_counts, "");
    }
    if (phase == "bulk" || phase == "all") {
        print_table(samples, "bulk echo: MB per server CPU-second (higher is better)", "bulk",
                    bulk_counts, "");
    }
    if (tls && samples.count("asio") != 0) {
        // The yardstick for TLS: CPU per byte within 1.1x of Asio's ssl::stream.
        if (phase == "ping" || phase == "all") {
            print_table(samples,
                        "TLS ping-pong: server CPU per round trip against Asio ssl::stream "
                        "(lower is better)",
                        "ping", ping_counts, "us", "asio");
        }
        if (phase == "bulk" || phase == "all") {
            print_table(samples,
                        "TLS bulk echo: MB per server CPU-second against Asio ssl::stream "
                        "(higher is better)",
                        "bulk", bulk_counts, "", "asio");
        }
    }
    return 0;
}
