// serial_link: joins two serial ports, bytes from each written to the other (the two-Arduino
// bridge), with flow control end to end and each port reopened when it comes back.
//
//   serial_link /dev/ttyUSB0 /dev/ttyACM0 --a-baud 115200 --b-baud 9600
//   serial_link demo        two simulated devices on two pty pairs, one unplugged midway
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <CLI/CLI.hpp>

#include <ferry/ferry.hpp>

#include "platform.hpp"
#include "serial_cli.hpp"
#include "serial_link.hpp"
#include "virtual_serial_device.hpp"

namespace {

using namespace std::chrono_literals;
using ferry::Task;

/// What a simulated device received, kept across replugs.
struct DeviceLog {
    std::string received;
};

/// A simulated device: writes `greeting` when plugged in, records what it receives.
class Device final : public ferry::Protocol {
public:
    Device(DeviceLog& log, std::string greeting) : log_(log), greeting_(std::move(greeting)) {}
    void connection_made(ferry::Transport& transport) override {
        if (!greeting_.empty()) {
            transport.write(greeting_);
        }
    }
    void data_received(ferry::ByteView data) override {
        log_.received.append(data.as_string_view());
    }

private:
    DeviceLog& log_;
    std::string greeting_;
};

Task<void> wait_until(std::function<bool()> done, std::chrono::milliseconds timeout, bool& ok) {
    // A demo script checking its own progress; the link itself never polls.
    for (auto waited = 0ms; !done(); waited += 5ms) {
        if (waited >= timeout) {
            ok = false;
            co_return;
        }
        co_await ferry::sleep(5ms);
    }
}

Task<int> demo(ferry::Loop& loop) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("ferry-link-demo-" + std::to_string(sample::process_id()));
    std::filesystem::create_directories(dir);
    DeviceLog log_a;
    DeviceLog log_b;
    sample::VirtualSerialDevice device_a(loop, dir / "ttyUSB0",
                                         [&] { return std::make_unique<Device>(log_a, ""); });
    sample::VirtualSerialDevice device_b(
        loop, dir / "ttyACM0", [&] { return std::make_unique<Device>(log_b, "hello from B\r\n"); });
    sample::LinkEnd a{device_a.port(), {}};
    a.options.baud_rate = 115200;
    sample::LinkEnd b{device_b.port(), {}};
    b.options.baud_rate = 9600; // the link converts rates: each port has its own settings
    sample::SerialLink link(
        loop, a, b, [](const std::string& line) { std::printf("[link] %s\n", line.c_str()); });
    link.start();

    bool ok = true;
    std::string failed;
    co_await wait_until([&] { return link.connected(0) && link.connected(1); }, 5s, ok);
    if (!ok) {
        failed = "opening both ports";
    }
    // 1 MiB of random bytes from device A must reach device B intact.
    std::string payload(1 << 20, '\0');
    std::mt19937_64 random(7);
    for (char& c : payload) {
        c = static_cast<char>(random());
    }
    if (failed.empty()) {
        device_a.device()->write(payload);
        co_await wait_until([&] { return log_b.received.size() >= payload.size(); }, 20s, ok);
        if (!ok || log_b.received.substr(0, payload.size()) != payload) {
            failed = "carrying 1 MiB from A to B";
        }
    }
    if (failed.empty()) {
        co_await wait_until([&] { return log_a.received == "hello from B\r\n"; }, 5s, ok);
        if (!ok) {
            failed = "carrying B's greeting to A";
        }
    }
    // B is unplugged; what A sends meanwhile waits (A is not read) and arrives after replug.
    if (failed.empty()) {
        std::printf("[demo] unplugging B\n");
        device_b.unplug();
        co_await wait_until([&] { return !link.connected(1); }, 5s, ok);
        device_a.device()->write("sent while B was away\r\n");
        co_await ferry::sleep(200ms);
        std::printf("[demo] plugging B back in\n");
        log_b.received.clear();
        device_b.plug_in();
        co_await wait_until(
            [&] { return log_b.received.find("sent while B was away") != std::string::npos; }, 10s,
            ok);
        if (!ok) {
            failed = "delivering what A sent while B was unplugged";
        }
    }
    const std::size_t a_to_b = link.bytes_carried(0);
    const std::size_t b_to_a = link.bytes_carried(1);
    link.stop();
    device_a.unplug();
    device_b.unplug();
    std::filesystem::remove_all(dir);
    if (!failed.empty()) {
        std::printf("demo: FAILED at %s\n", failed.c_str());
        co_return 1;
    }
    std::printf("demo: ok: %zu bytes A->B (1 MiB checked byte for byte), %zu bytes B->A, "
                "nothing lost across B's unplug\n",
                a_to_b, b_to_a);
    co_return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Join two serial ports: what one receives, the other sends"};
    sample::LinkEnd a;
    sample::LinkEnd b;
    a.options.baud_rate = b.options.baud_rate = 115200;
    // Bytes that waited in a port before the link opened it are stale, as in miniterm.
    a.options.discard_input_on_open = b.options.discard_input_on_open = true;
    app.add_option("port-a", a.port, "the first port, e.g. /dev/ttyUSB0");
    app.add_option("port-b", b.port, "the second port, e.g. /dev/ttyACM0");
    sample::add_serial_options(app, a.options, "a-");
    sample::add_serial_options(app, b.options, "b-");
    auto* demo_mode = app.add_subcommand("demo", "two simulated devices on pty pairs");
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    ferry::Loop loop;
    try {
        if (*demo_mode) {
            return loop.run_until_complete(demo(loop));
        }
        if (a.port.empty() || b.port.empty()) {
            std::fprintf(stderr, "serial_link: give two ports, or use demo\n");
            return 2;
        }
        if (sample::same_file(a.port, b.port)) {
            std::fprintf(stderr, "serial_link: %s and %s are the same port\n", a.port.c_str(),
                         b.port.c_str());
            return 2;
        }
        sample::SerialLink link(loop, a, b,
                                [](const std::string& line) { std::printf("%s\n", line.c_str()); });
        int status = 0;
        link.failed = [&](const std::string& reason) {
            std::fprintf(stderr, "serial_link: %s; not retrying: this cannot clear by itself\n",
                         reason.c_str());
            status = 1;
            loop.stop();
        };
        for (const int signum : sample::stop_signals()) {
            loop.add_signal_handler(signum, [&loop] { loop.stop(); });
        }
        link.start();
        loop.run();
        link.stop();
        std::printf("carried %zu bytes a->b, %zu bytes b->a\n", link.bytes_carried(0),
                    link.bytes_carried(1));
        return status;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "serial_link: %s\n", e.what());
        return 1;
    }
}
