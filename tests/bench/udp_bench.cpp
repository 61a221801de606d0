// UDP echo and child-process benchmarks (a program, not a test): ferry beside raw libuv and
// Python asyncio in the same run.
//   udp_bench [--rounds R] [--seconds S] [--sockets K] [--spawns N]
// UDP echo: each server runs as its own process (this program with `server ferry|libuv`, or
// /usr/bin/python3 with asyncio), K client sockets on 127.0.0.1 each keep one 64-byte
// datagram in flight for S seconds; reported is the server's CPU time (/proc/PID/stat) per
// round trip, and its ratio to raw libuv's in the same round (median and range over rounds).
// Spawn + reap: N children of /bin/true started at once and reaped, by ferry's
// subprocess_exec and by raw uv_spawn, alternating, in this process: CPU per child.
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <uv.h>

#include <ferry/ferry.hpp>

namespace {

using Clock = std::chrono::steady_clock;

// ---- the servers --------------------------------------------------------------------------

/// Raw libuv: the reference every ratio is taken against.
int serve_libuv() {
    uv_loop_t* loop = uv_default_loop();
    static uv_udp_t udp;
    uv_udp_init(loop, &udp);
    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", 0, &address);
    uv_udp_bind(&udp, reinterpret_cast<const sockaddr*>(&address), 0);
    sockaddr_storage bound{};
    int length = sizeof bound;
    uv_udp_getsockname(&udp, reinterpret_cast<sockaddr*>(&bound), &length);
    std::printf("%d\n", ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port));
    std::fflush(stdout);
    static char buffer[65536];
    uv_udp_recv_start(
        &udp,
        [](uv_handle_t*, std::size_t, uv_buf_t* buf) { *buf = uv_buf_init(buffer, sizeof buffer); },
        [](uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned) {
            if (nread >= 0 && from != nullptr) {
                const uv_buf_t reply = uv_buf_init(buf->base, static_cast<unsigned>(nread));
                uv_udp_try_send(handle, &reply, 1, from);
            }
        });
    return uv_run(loop, UV_RUN_DEFAULT);
}

/// ferry's DatagramProtocol echo.
class Echo final : public ferry::DatagramProtocol {
public:
    void connection_made(ferry::DatagramTransport& transport) override { transport_ = &transport; }
    void datagram_received(ferry::ByteView data, const ferry::SocketAddress& from) override {
        transport_->sendto(data, from);
    }

private:
    ferry::DatagramTransport* transport_ = nullptr;
};

int serve_ferry() {
    ferry::Loop loop;
    ferry::DatagramOptions options;
    options.local_host = "127.0.0.1";
    auto server = loop.run_until_complete(ferry::create_datagram_endpoint(
        loop, [] { return std::make_unique<Echo>(); }, options));
    std::printf("%d\n", server->sockname()->port());
    std::fflush(stdout);
    loop.run();
    return 0;
}

const char* asyncio_server =
    "import asyncio\n"
    "class Echo(asyncio.DatagramProtocol):\n"
    "    def connection_made(self, t): self.t = t\n"
    "    def datagram_received(self, data, addr): self.t.sendto(data, addr)\n"
    "async def main():\n"
    "    t, _ = await asyncio.get_running_loop().create_datagram_endpoint(\n"
    "        Echo, local_addr=('127.0.0.1', 0))\n"
    "    print(t.get_extra_info('sockname')[1], flush=True)\n"
    "    await asyncio.Event().wait()\n"
    "asyncio.run(main())\n";

// ---- the driver ---------------------------------------------------------------------------

/// A server process, the port it printed, and the read end of its stdout (kept open until
/// the server stops: a server whose later writes found it closed would die of EPIPE).
struct Server {
    pid_t pid = -1;
    int port = 0;
    int out = -1;
};

void stop_server(const Server& server) {
    ::kill(server.pid, SIGKILL);
    ::waitpid(server.pid, nullptr, 0);
    ::close(server.out);
}

Server start_server(const std::vector<std::string>& argv) {
    int out[2];
    if (::pipe(out) != 0) {
        throw std::runtime_error("pipe failed");
    }
    Server server;
    server.pid = ::fork();
    if (server.pid == 0) {
        ::dup2(out[1], 1);
        ::close(out[0]);
        ::close(out[1]);
        std::vector<char*> args;
        for (const auto& arg : argv) {
            args.push_back(const_cast<char*>(arg.c_str()));
        }
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(out[1]);
    server.out = out[0];
    std::string line;
    char c = 0;
    while (line.size() < 16 && ::read(server.out, &c, 1) == 1 && c != '\n') {
        line += c; // up to the end of the line: print() may write the number and "\n" apart
    }
    server.port = std::atoi(line.c_str());
    if (server.port == 0) {
        stop_server(server);
        throw std::runtime_error("server " + argv[0] + " did not start");
    }
    return server;
}

/// utime + stime of `pid`, in seconds.
double cpu_seconds(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) {
            utime = std::stoul(field);
        } else if (i == 15) {
            stime = std::stoul(field);
        }
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

/// What one load run measured.
struct Load {
    double cpu_per_trip = 0; // server CPU seconds per round trip
    double trips_per_second = 0;
};

/// Runs `sockets` ping-pong clients against 127.0.0.1:port for `seconds`.
Load ping_pong(const Server& server, int sockets, double seconds) {
    const int epoll = ::epoll_create1(0);
    std::vector<int> fds;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(static_cast<std::uint16_t>(server.port));
    char payload[64];
    std::memset(payload, 'p', sizeof payload);
    for (int i = 0; i < sockets; ++i) {
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = fd;
        ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
        fds.push_back(fd);
    }
    const auto send_all = [&] {
        for (int fd : fds) {
            (void)::send(fd, payload, sizeof payload, 0);
        }
    };
    send_all(); // warm-up burst, not counted
    const auto warm_end = Clock::now() + std::chrono::milliseconds(200);
    std::vector<epoll_event> events(static_cast<std::size_t>(sockets));
    char buffer[2048];
    const auto pump = [&](Clock::time_point end, long& trips) {
        while (Clock::now() < end) {
            const int n = ::epoll_wait(epoll, events.data(), sockets, 100);
            for (int i = 0; i < n; ++i) {
                while (::recv(events[i].data.fd, buffer, sizeof buffer, 0) > 0) {
                    ++trips;
                    (void)::send(events[i].data.fd, payload, sizeof payload, 0);
                }
            }
            if (n == 0) {
                send_all(); // a datagram was lost: start again
            }
        }
    };
    long trips = 0;
    pump(warm_end, trips);
    trips = 0;
    const double cpu_before = cpu_seconds(server.pid);
    pump(Clock::now() +
             std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)),
         trips);
    const double cpu = cpu_seconds(server.pid) - cpu_before;
    for (int fd : fds) {
        ::close(fd);
    }
    ::close(epoll);
    if (trips == 0) {
        throw std::runtime_error("no round trip came back from the server on port " +
                                 std::to_string(server.port));
    }
    return {cpu / static_cast<double>(trips), static_cast<double>(trips) / seconds};
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0 : values[values.size() / 2];
}

std::string ratios(const std::vector<double>& values) {
    char text[96];
    std::snprintf(text, sizeof text, "%.2f (%.2f-%.2f)", median(values),
                  *std::min_element(values.begin(), values.end()),
                  *std::max_element(values.begin(), values.end()));
    return text;
}

// ---- spawn + reap -------------------------------------------------------------------------

double process_cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/// What one spawn round measured, per child.
struct Spawned {
    double cpu = 0;        // this process's CPU seconds per child
    double per_second = 0; // children started and reaped per wall-clock second
};

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Spawns `count` /bin/true at once with raw uv_spawn and reaps them.
Spawned spawn_libuv(int count) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    std::vector<uv_process_t> children(static_cast<std::size_t>(count));
    char program[] = "/bin/true";
    char* args[] = {program, nullptr};
    uv_process_options_t options{};
    options.file = program;
    options.args = args;
    options.exit_cb = [](uv_process_t* child, int64_t, int) {
        uv_close(reinterpret_cast<uv_handle_t*>(child), nullptr);
    };
    const double before = process_cpu_seconds();
    const auto start = Clock::now();
    for (auto& child : children) {
        if (uv_spawn(&loop, &child, &options) != 0) {
            throw std::runtime_error("uv_spawn failed");
        }
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    const double wall = seconds_since(start);
    const double cpu = process_cpu_seconds() - before;
    uv_loop_close(&loop);
    return {cpu / count, count / wall};
}

/// The same with ferry's subprocess_exec (stdio not piped, as the raw one).
Spawned spawn_ferry(int count) {
    ferry::Loop loop;
    int exited = 0;
    ferry::SubprocessOptions options;
    options.in = options.out = options.err = ferry::Stdio::inherit;
    struct Counting final : ferry::SubprocessProtocol {
        explicit Counting(int& n) : exited(n) {}
        void connection_lost(std::error_code) override { ++exited; }
        int& exited;
    };
    std::vector<std::shared_ptr<ferry::SubprocessTransport>> children;
    const double before = process_cpu_seconds();
    const auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
        auto started = ferry::subprocess_exec(
            loop, [&] { return std::make_unique<Counting>(exited); }, {"/bin/true"}, options);
        children.push_back(started.value());
    }
    while (exited < count) {
        loop.run_once(true);
    }
    const double wall = seconds_since(start);
    const double cpu = process_cpu_seconds() - before;
    children.clear();
    loop.close();
    return {cpu / count, count / wall};
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "server") {
        return std::string(argv[2]) == "ferry" ? serve_ferry() : serve_libuv();
    }
    CLI::App app{"UDP echo and spawn benchmarks: ferry beside raw libuv and Python asyncio"};
    int rounds = 5;
    double seconds = 2;
    int sockets = 16;
    int spawns = 200;
    app.add_option("--rounds", rounds, "rounds (ratios are per round)");
    app.add_option("--seconds", seconds, "load per server per round");
    app.add_option("--sockets", sockets, "client sockets, one datagram in flight each");
    app.add_option("--spawns", spawns, "children per spawn round");
    CLI11_PARSE(app, argc, argv);
    try {
        const std::string self = argv[0][0] == '/' ? argv[0] : std::string("/proc/self/exe");
        char resolved[4096] = {};
        const ssize_t n = ::readlink("/proc/self/exe", resolved, sizeof resolved - 1);
        const std::string exe = n > 0 ? std::string(resolved, static_cast<std::size_t>(n)) : self;

        // Per server: CPU per round trip (us) and round trips per second, per round.
        const char* names[3] = {"raw libuv", "ferry", "asyncio"};
        std::vector<double> cpu_us[3], rate[3], ratio[3];
        for (int round = 0; round < rounds; ++round) {
            const std::vector<std::string> commands[3] = {
                {exe, "server", "libuv"},
                {exe, "server", "ferry"},
                {"/usr/bin/python3", "-c", asyncio_server}};
            Load load[3];
            for (int i = 0; i < 3; ++i) {
                const Server server = start_server(commands[i]);
                load[i] = ping_pong(server, sockets, seconds);
                stop_server(server);
            }
            for (int i = 0; i < 3; ++i) {
                cpu_us[i].push_back(load[i].cpu_per_trip * 1e6);
                rate[i].push_back(load[i].trips_per_second);
                ratio[i].push_back(load[i].cpu_per_trip / load[0].cpu_per_trip);
            }
        }
        std::printf(
            "UDP echo, 64 B, %d sockets with one datagram in flight each, %d rounds of %.1f s "
            "(median; range of the per-round ratio)\n",
            sockets, rounds, seconds);
        for (int i = 0; i < 3; ++i) {
            std::printf("  %-10s %8.0f round trips/s   server CPU %6.2f us per round trip",
                        names[i], median(rate[i]), median(cpu_us[i]));
            if (i > 0) {
                std::printf("   %s x raw libuv", ratios(ratio[i]).c_str());
            }
            std::printf("\n");
        }

        std::vector<double> spawn_ratio, spawn_cpu[2], spawn_rate[2];
        for (int round = 0; round < rounds; ++round) {
            // Who goes first alternates: a round's second run finds the kernel warmer.
            Spawned raw, ours;
            if (round % 2 == 0) {
                raw = spawn_libuv(spawns);
                ours = spawn_ferry(spawns);
            } else {
                ours = spawn_ferry(spawns);
                raw = spawn_libuv(spawns);
            }
            spawn_cpu[0].push_back(raw.cpu * 1e6);
            spawn_cpu[1].push_back(ours.cpu * 1e6);
            spawn_rate[0].push_back(raw.per_second);
            spawn_rate[1].push_back(ours.per_second);
            spawn_ratio.push_back(ours.cpu / raw.cpu);
        }
        std::printf("spawn + reap, %d children of /bin/true at once, %d rounds\n", spawns, rounds);
        std::printf("  raw uv_spawn      %6.0f children/s   CPU %7.1f us per child\n",
                    median(spawn_rate[0]), median(spawn_cpu[0]));
        std::printf("  ferry subprocess  %6.0f children/s   CPU %7.1f us per child   %s x raw\n",
                    median(spawn_rate[1]), median(spawn_cpu[1]), ratios(spawn_ratio).c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "udp_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
