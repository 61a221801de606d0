// com_bench: a serial port pair joined like a null-modem cable (FERRY_TEST_COM_PAIR="A,B":
// COM ports on Windows, tty paths on POSIX), measured two ways in one run: ferry's serial
// transport on its loop, and a plain blocking program (a thread per direction, blocking
// reads and writes, as a synchronous Win32 or termios program does). Prints throughput each
// way, the 1-byte echo round trip, and on Windows the threads with 1, 16 and 64 open ports
// and the CPU 16 idle ports use. tests/bench/com_bench.sh runs the POSIX build and the
// Windows build (under Wine) over the same socat pty pair.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <ferry/ferry.hpp>

#ifdef _WIN32
#include "../support/windows_ports.hpp"
#else
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>
#endif

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ferry::ByteView;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- ferry ---------------------------------------------------------------------------------

/// Counts what arrives; echoes it when asked to.
class Counter final : public ferry::Protocol {
public:
    Counter(std::size_t& received, bool echo) : received_(received), echo_(echo) {}
    void connection_made(ferry::Transport& t) override { transport_ = &t; }
    void data_received(ByteView data) override {
        received_ += data.size();
        if (echo_) {
            transport_->write(data);
        }
    }

private:
    std::size_t& received_;
    bool echo_;
    ferry::Transport* transport_ = nullptr;
};

/// Writes `total` bytes in 64 KiB blocks, holding while paused.
class Writer final : public ferry::Protocol {
public:
    explicit Writer(std::size_t total) : total_(total) {}
    void connection_made(ferry::Transport& t) override {
        transport_ = &t;
        pump();
    }
    void pause_writing() override { paused_ = true; }
    void resume_writing() override {
        paused_ = false;
        pump();
    }
    void data_received(ByteView) override {}

private:
    void pump() {
        const std::string block(64 * 1024, 'w');
        while (!paused_ && sent_ < total_) {
            const std::size_t n = std::min(block.size(), total_ - sent_);
            transport_->write(ByteView(block.data(), n));
            sent_ += n;
        }
    }
    std::size_t total_;
    std::size_t sent_ = 0;
    bool paused_ = false;
    ferry::Transport* transport_ = nullptr;
};

std::shared_ptr<ferry::SerialTransport> open_port(ferry::Loop& loop, const std::string& name,
                                                  ferry::ProtocolFactory factory) {
    ferry::SerialOptions options;
    options.baud_rate = 115200; // a pty ignores it; the pair moves bytes as fast as it can
    auto result = ferry::create_serial_connection(loop, std::move(factory), name, options);
    if (!result.ok()) {
        std::fprintf(stderr, "com_bench: %s\n", result.message().c_str());
        std::exit(1);
    }
    return result.value();
}

void run_until(ferry::Loop& loop, const std::function<bool()>& done, std::chrono::seconds limit) {
    const auto start = Clock::now();
    while (!done() && Clock::now() - start < limit) {
        loop.run_once(true);
    }
}

/// MiB/s from `from` to `to`.
double ferry_throughput(const std::string& from, const std::string& to, std::size_t bytes) {
    ferry::Loop loop;
    std::size_t received = 0;
    auto reader = open_port(loop, to, [&] { return std::make_unique<Counter>(received, false); });
    const auto start = Clock::now();
    auto writer = open_port(loop, from, [&] { return std::make_unique<Writer>(bytes); });
    auto tick = loop.call_later(100ms, [] {}); // run_once wakes at least this often
    run_until(
        loop, [&] { return received >= bytes; }, 120s);
    const double elapsed = seconds_since(start);
    writer->abort();
    reader->abort();
    loop.close();
    return received >= bytes ? static_cast<double>(bytes) / (1 << 20) / elapsed : 0.0;
}

/// Microseconds per 1-byte round trip, `from` sending and `to` echoing.
double ferry_round_trip(const std::string& from, const std::string& to, int count) {
    ferry::Loop loop;
    std::size_t echoed = 0;
    std::size_t back = 0;
    auto echo = open_port(loop, to, [&] { return std::make_unique<Counter>(echoed, true); });
    auto sender = open_port(loop, from, [&] { return std::make_unique<Counter>(back, false); });
    const auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
        sender->write(ByteView("x", 1));
        const std::size_t want = static_cast<std::size_t>(i) + 1;
        run_until(
            loop, [&] { return back >= want; }, 10s);
    }
    const double elapsed = seconds_since(start);
    sender->abort();
    echo->abort();
    loop.close();
    return elapsed * 1e6 / count;
}

// ---- the blocking program --------------------------------------------------------------

#ifdef _WIN32
using Port = HANDLE;

Port open_blocking(const std::string& name) {
    const HANDLE port = ferry::test::open_raw_com(name, ferry::test::RawReads::wait_for_all);
    if (port == INVALID_HANDLE_VALUE) {
        std::fprintf(stderr, "com_bench: cannot open %s (%lu)\n", name.c_str(), GetLastError());
        std::exit(1);
    }
    return port;
}

/// What is waiting, or 1 (blocking for it): pyserial's read(in_waiting or 1).
std::size_t read_some(Port port, char* buffer, std::size_t size) {
    DWORD errors = 0;
    COMSTAT status{};
    ClearCommError(port, &errors, &status);
    const DWORD want = static_cast<DWORD>(std::clamp<std::size_t>(status.cbInQue, 1, size));
    DWORD got = 0;
    return ReadFile(port, buffer, want, &got, nullptr) ? got : 0;
}

void write_all(Port port, const char* data, std::size_t size) {
    DWORD written = 0;
    WriteFile(port, data, static_cast<DWORD>(size), &written, nullptr);
}

void close_port(Port port) {
    CloseHandle(port);
}
#else
using Port = int;

Port open_blocking(const std::string& name) {
    const int fd = ::open(name.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        std::perror(("com_bench: " + name).c_str());
        std::exit(1);
    }
    termios settings{};
    ::tcgetattr(fd, &settings);
    ::cfmakeraw(&settings);
    settings.c_cc[VMIN] = 1; // a read waits for at least one byte
    settings.c_cc[VTIME] = 0;
    ::tcsetattr(fd, TCSANOW, &settings);
    return fd;
}

std::size_t read_some(Port port, char* buffer, std::size_t size) {
    const ssize_t n = ::read(port, buffer, size);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

void write_all(Port port, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(port, data, size);
        if (n <= 0) {
            return;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

void close_port(Port port) {
    ::close(port);
}
#endif

double blocking_throughput(const std::string& from, const std::string& to, std::size_t bytes) {
    const Port reader = open_blocking(to);
    const Port writer = open_blocking(from);
    const auto start = Clock::now();
    std::thread reading([&] {
        std::vector<char> buffer(64 * 1024);
        for (std::size_t got = 0; got < bytes;) {
            const std::size_t n = read_some(reader, buffer.data(), buffer.size());
            if (n == 0) {
                return;
            }
            got += n;
        }
    });
    const std::string block(64 * 1024, 'w');
    for (std::size_t sent = 0; sent < bytes; sent += block.size()) {
        write_all(writer, block.data(), std::min(block.size(), bytes - sent));
    }
    reading.join();
    const double elapsed = seconds_since(start);
    close_port(writer);
    close_port(reader);
    return static_cast<double>(bytes) / (1 << 20) / elapsed;
}

double blocking_round_trip(const std::string& from, const std::string& to, int count) {
    const Port echo = open_blocking(to);
    const Port sender = open_blocking(from);
    std::thread echoing([&] {
        char buffer[256];
        for (int echoed = 0; echoed < count;) {
            const std::size_t n = read_some(echo, buffer, sizeof buffer);
            if (n == 0) {
                return;
            }
            write_all(echo, buffer, n);
            echoed += static_cast<int>(n);
        }
    });
    const auto start = Clock::now();
    char byte = 'x';
    for (int i = 0; i < count; ++i) {
        write_all(sender, &byte, 1);
        read_some(sender, &byte, 1);
    }
    const double elapsed = seconds_since(start);
    echoing.join();
    close_port(sender);
    close_port(echo);
    return elapsed * 1e6 / count;
}

// ---- scale (Windows) -------------------------------------------------------------------

#ifdef _WIN32
double process_cpu_seconds() {
    FILETIME created, exited, kernel, user;
    GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user);
    const auto value = [](const FILETIME& t) {
        return (static_cast<double>(t.dwHighDateTime) * 4294967296.0 + t.dwLowDateTime) * 1e-7;
    };
    return value(kernel) + value(user);
}

/// Threads with 1, 16 and 64 open ports (Wine lets one COM port be opened many times), and
/// the CPU 16 idle ports use over `idle_seconds`.
void scale(const std::string& a, const std::string& b, double idle_seconds) {
    ferry::Loop loop;
    std::size_t ignored = 0;
    std::vector<std::shared_ptr<ferry::SerialTransport>> ports;
    std::printf("threads in the process:");
    for (const std::size_t want : {1, 16, 64}) {
        while (ports.size() < want) {
            ports.push_back(open_port(loop, ports.size() % 2 == 0 ? a : b,
                                      [&] { return std::make_unique<Counter>(ignored, false); }));
        }
        loop.run_once(false);
        std::printf(" %zu ports: %d%s", want, ferry::test::thread_count(), want == 64 ? "\n" : ",");
    }
    ports.resize(16);
    for (std::size_t i = 16; i < 64; ++i) {
        loop.run_once(false);
    }
    const double cpu_before = process_cpu_seconds();
    bool done = false;
    auto stop = loop.call_later(std::chrono::milliseconds(static_cast<int>(idle_seconds * 1000)),
                                [&] { done = true; });
    run_until(
        loop, [&] { return done; }, std::chrono::seconds(600));
    std::printf("16 idle ports for %.1f s: %.1f ms of CPU\n", idle_seconds,
                (process_cpu_seconds() - cpu_before) * 1000.0);
    for (auto& port : ports) {
        port->abort();
    }
    loop.close();
}
#endif

} // namespace

int main(int argc, char** argv) {
    const char* pair = std::getenv("FERRY_TEST_COM_PAIR");
    const std::string both = pair != nullptr ? pair : "";
    const auto comma = both.find(',');
    if (comma == std::string::npos) {
        std::fprintf(stderr, "usage: FERRY_TEST_COM_PAIR=A,B com_bench [MiB] [echoes] "
                             "[idle-seconds] (tests/bench/com_bench.sh sets it up)\n");
        return 2;
    }
    const std::string a = both.substr(0, comma);
    const std::string b = both.substr(comma + 1);
    const std::size_t bytes = (argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 16) << 20;
    const int echoes = argc > 2 ? std::atoi(argv[2]) : 1000;
#ifdef _WIN32
    const char* platform = "windows";
#else
    const char* platform = "posix";
#endif
    std::printf("com_bench (%s build) over %s <-> %s, %zu MiB each way, %d echoes\n", platform,
                a.c_str(), b.c_str(), bytes >> 20, echoes);
    const double ferry_ab = ferry_throughput(a, b, bytes);
    const double plain_ab = blocking_throughput(a, b, bytes);
    const double ferry_ba = ferry_throughput(b, a, bytes);
    const double plain_ba = blocking_throughput(b, a, bytes);
    std::printf("throughput a->b: ferry %.1f MiB/s, blocking %.1f MiB/s, ratio %.2f\n", ferry_ab,
                plain_ab, ferry_ab / plain_ab);
    std::printf("throughput b->a: ferry %.1f MiB/s, blocking %.1f MiB/s, ratio %.2f\n", ferry_ba,
                plain_ba, ferry_ba / plain_ba);
    const double ferry_rtt = ferry_round_trip(a, b, echoes);
    const double plain_rtt = blocking_round_trip(a, b, echoes);
    std::printf("1-byte round trip: ferry %.0f us, blocking %.0f us, ratio %.2f\n", ferry_rtt,
                plain_rtt, ferry_rtt / plain_rtt);
#ifdef _WIN32
    scale(a, b, argc > 3 ? std::atof(argv[3]) : 10.0);
#endif
    return 0;
}
