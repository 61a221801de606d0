// The demo: an instrument on a pty (it answers "v" with its version and sends a temperature
// reading every 50 ms), a Monitor on the port's stable link, and a script that types, unplugs
// the instrument, plugs it back in and switches to hex, checking the screen at each step.
#include "demo.hpp"

#include <cstdio>
#include <filesystem>
#include <string>

#include <ferry/ferry.hpp>

#include "monitor.hpp"
#include "platform.hpp"
#include "virtual_serial_device.hpp"

namespace sample {
namespace {

using namespace std::chrono_literals;
using ferry::Task;

/// The simulated instrument: a reading every 50 ms, its version when sent "v\r".
class Instrument final : public ferry::Protocol {
public:
    explicit Instrument(ferry::Loop& loop) : loop_(loop) {}
    ~Instrument() override { timer_.cancel(); }

    void connection_made(ferry::Transport& transport) override {
        transport_ = &transport;
        tick();
    }
    void data_received(ferry::ByteView data) override {
        for (char c : data.as_string_view()) {
            if (c != '\r' && c != '\n') {
                command_ += c;
                continue;
            }
            if (command_ == "v") {
                transport_->write("ferry-demo-instrument 1.0\r\n");
            } else if (!command_.empty()) {
                transport_->write("? unknown command: " + command_ + "\r\n");
            }
            command_.clear();
        }
    }
    void connection_lost(std::error_code) override { timer_.cancel(); }

private:
    void tick() {
        char line[32];
        std::snprintf(line, sizeof line, "temp=%.2f\r\n", 21.0 + 0.01 * (count_++ % 100));
        transport_->write(line);
        timer_ = loop_.call_later(50ms, [this] { tick(); });
    }

    ferry::Loop& loop_;
    ferry::Transport* transport_ = nullptr;
    ferry::CallbackHandle timer_;
    std::string command_;
    int count_ = 0;
};

/// Waits until `done()` holds (re-checked whenever the monitor reports a change) or `timeout`.
Task<bool> until(ferry::Loop& loop, ferry::Event& changed, std::function<bool()> done,
                 std::chrono::milliseconds timeout) {
    const auto deadline = loop.time() + timeout;
    while (!done()) {
        const auto left = deadline - loop.time();
        if (left <= 0ms) {
            co_return false;
        }
        changed.clear();
        bool timed_out = false;
        try {
            auto waiting = ferry::wait_for(changed.wait(), left);
            co_await std::move(waiting);
        } catch (const ferry::TimeoutError&) {
            timed_out = true;
        }
        if (timed_out) {
            co_return done();
        }
    }
    co_return true;
}

Task<int> script(ferry::Loop& loop) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() /
        ("ferry-monitor-demo-" + std::to_string(sample::process_id()));
    std::filesystem::create_directories(dir);
    VirtualSerialDevice instrument(loop, dir / "ttyUSB0",
                                   [&loop] { return std::make_unique<Instrument>(loop); });

    std::string screen;
    std::string status;
    MonitorOptions options;
    options.port = instrument.port();
    options.serial.baud_rate = 115200;
    Monitor monitor(
        loop, options,
        [&screen](std::string_view bytes) {
            screen.append(bytes);
            std::fwrite(bytes.data(), 1, bytes.size(), stdout);
        },
        [&status](const std::string& line) {
            status += line + "\n";
            std::printf("%s\n", line.c_str());
        });
    ferry::Event changed;
    monitor.on_change = [&changed] { changed.set(); };
    monitor.start();

    std::string failed;
    const auto count = [](const std::string& text, const std::string& what) {
        std::size_t n = 0;
        for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
            ++n;
        }
        return n;
    };
    // Each step: a name for the verdict, then what must become true.
    if (!co_await until(
            loop, changed, [&] { return monitor.connected(); }, 5s)) {
        failed = "opening the port";
    }
    if (failed.empty()) {
        monitor.keys("v\r"); // typed: the instrument answers with its version
        if (!co_await until(
                loop, changed,
                [&] { return screen.find("ferry-demo-instrument 1.0") != std::string::npos; },
                5s)) {
            failed = "the version reply";
        }
    }
    if (failed.empty() && !co_await until(
                              loop, changed, [&] { return count(screen, "temp=") >= 3; }, 5s)) {
        failed = "three readings";
    }
    if (failed.empty()) {
        std::printf("\n[demo] unplugging the instrument\n");
        instrument.unplug();
        if (!co_await until(
                loop, changed, [&] { return status.find("device removed") != std::string::npos; },
                5s)) {
            failed = "noticing the unplug";
        }
    }
    if (failed.empty()) {
        co_await ferry::sleep(300ms);
        std::printf("[demo] plugging it back in\n");
        instrument.plug_in();
        if (!co_await until(
                loop, changed, [&] { return monitor.connections() == 2; }, 5s)) {
            failed = "reconnecting";
        }
    }
    const std::size_t before_hex = screen.size();
    if (failed.empty()) {
        monitor.keys("\x14h"); // Ctrl-T h: hex display ("temp" is 74 65 6d 70)
        if (!co_await until(
                loop, changed,
                [&] { return screen.find("74 65 6d 70", before_hex) != std::string::npos; }, 5s)) {
            failed = "the hex display";
        }
    }
    const bool quit_asked = !monitor.keys("\x1d"); // Ctrl-]
    if (failed.empty() && !quit_asked) {
        failed = "quitting with Ctrl-]";
    }
    monitor.stop();
    instrument.unplug();
    std::filesystem::remove_all(dir);
    std::printf("\n");
    if (!failed.empty()) {
        std::printf("demo: FAILED at %s\n", failed.c_str());
        co_return 1;
    }
    std::printf("demo: ok: version reply, %zu readings, unplugged and reconnected (%d opens), "
                "hex display\n",
                count(screen, "temp="), monitor.connections());
    co_return 0;
}

} // namespace

int run_monitor_demo() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    ferry::Loop loop;
    return loop.run_until_complete(script(loop));
}

} // namespace sample
