// framed_device: a device on a serial line speaking COBS + CRC-16 frames (get version, read
// sensor, set output), and a host that queries it with ferry's RequestClient — timeouts,
// retries, pipelined requests matched by id, late answers dropped.
//
//   framed_device demo                        both ends on a pty; the device is slow or silent
//                                             now and then, to show timeouts and retries
//   framed_device device                      the simulated device on a pty; prints its path
//   framed_device host /dev/ttyUSB0 [--baud]  query a real device speaking this protocol
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include <ferry/ferry.hpp>

#include "device_protocol.hpp"
#include "platform.hpp"
#include "serial_cli.hpp"
#include "virtual_serial_device.hpp"

namespace {

using namespace std::chrono_literals;
using ferry::Bytes;
using ferry::ByteView;
using ferry::Task;
using sample::Command;
using sample::Status;

/// How the simulated device misbehaves, to show the host coping.
struct Quirks {
    /// Ignore every request whose sequence number (1, 2, ...) is a multiple of this (0: never).
    int silent_every = 0;
    /// Answer every request whose sequence number is a multiple of this after `slow_delay`.
    int slow_every = 0;
    std::chrono::milliseconds slow_delay{0};
};

/// The simulated device: answers requests, with the quirks asked for.
class SimulatedDevice final : public ferry::FramedProtocol<sample::DeviceCodec> {
public:
    SimulatedDevice(ferry::Loop& loop, Quirks quirks)
        : FramedProtocol(sample::device_codec()), loop_(loop), quirks_(quirks) {}
    ~SimulatedDevice() override {
        for (auto& timer : timers_) {
            timer.cancel();
        }
    }

    void frame_received(ByteView request) override {
        ++seen_;
        if (request.size() < 2) {
            return; // no id to answer with
        }
        Bytes answer = respond(request);
        if (quirks_.silent_every > 0 && seen_ % quirks_.silent_every == 0) {
            return;
        }
        if (quirks_.slow_every > 0 && seen_ % quirks_.slow_every == 0) {
            timers_.push_back(loop_.call_later(quirks_.slow_delay, [this, answer] {
                if (transport() != nullptr) {
                    send_frame(answer);
                }
            }));
            return;
        }
        send_frame(answer);
    }

private:
    Bytes respond(ByteView request) {
        const auto id = request[0];
        const auto command = static_cast<Command>(request[1]);
        Bytes answer{id, std::byte{static_cast<std::uint8_t>(Status::ok)}};
        switch (command) {
        case Command::get_version:
            ferry::append(answer, ByteView("framed-device 1.0"));
            break;
        case Command::read_sensor: {
            if (request.size() < 3) {
                answer[1] = std::byte{static_cast<std::uint8_t>(Status::bad_argument)};
                break;
            }
            const int channel = static_cast<int>(request[2]);
            const auto hundredths = static_cast<std::int16_t>(2150 + 25 * channel + (seen_ % 7));
            answer.push_back(static_cast<std::byte>(static_cast<std::uint16_t>(hundredths) >> 8));
            answer.push_back(static_cast<std::byte>(hundredths & 0xFF));
            break;
        }
        case Command::set_output:
            if (request.size() < 4) {
                answer[1] = std::byte{static_cast<std::uint8_t>(Status::bad_argument)};
            }
            break;
        default:
            answer[1] = std::byte{static_cast<std::uint8_t>(Status::unknown_command)};
        }
        return answer;
    }

    ferry::Loop& loop_;
    Quirks quirks_;
    int seen_ = 0;
    std::vector<ferry::CallbackHandle> timers_;
};

using Host = ferry::RequestClient<sample::DeviceCodec>;

/// The host side: requests numbered by id, answers matched by it.
class DeviceClient {
public:
    explicit DeviceClient(Host& host) : host_(host) {}

    /// Sends one command and checks the answer's status; returns the answer's data.
    Task<Bytes> call(Command command, Bytes arguments) {
        Bytes request{std::byte{next_id_++}, std::byte{static_cast<std::uint8_t>(command)}};
        ferry::append(request, arguments);
        Bytes answer = co_await host_.request(std::move(request));
        if (answer.size() < 2 || answer[1] != std::byte{0}) {
            throw ferry::Error(
                ferry::make_error_code(ferry::errc::bad_frame),
                "the device refused the command (status " +
                    std::to_string(answer.size() < 2 ? -1 : static_cast<int>(answer[1])) + ")");
        }
        co_return Bytes(answer.begin() + 2, answer.end());
    }

    Task<std::string> version() {
        Bytes none;
        Bytes data = co_await call(Command::get_version, std::move(none));
        co_return ByteView(data).to_string();
    }
    Task<double> read_sensor(int channel) {
        // Arguments named, not temporaries in the co_await operand (GCC 12; see docs/design.md).
        Bytes arguments{std::byte(channel)};
        Bytes data = co_await call(Command::read_sensor, std::move(arguments));
        if (data.size() != 2) {
            throw ferry::Error(ferry::make_error_code(ferry::errc::bad_frame),
                               "bad sensor reading");
        }
        const auto raw = static_cast<std::int16_t>(static_cast<std::uint16_t>(data[0]) << 8 |
                                                   static_cast<std::uint16_t>(data[1]));
        co_return raw / 100.0;
    }
    Task<void> set_output(int channel, bool on) {
        Bytes arguments{std::byte(channel), std::byte(on ? 1 : 0)};
        co_await call(Command::set_output, std::move(arguments));
    }

private:
    Host& host_;
    std::uint8_t next_id_ = 1;
};

ferry::RequestOptions host_options(std::chrono::milliseconds timeout, unsigned retries) {
    ferry::RequestOptions options;
    options.timeout = timeout;
    options.retries = retries;
    options.max_outstanding = 4;
    options.matches = [](ByteView request, ByteView response) {
        return !response.empty() && response[0] == request[0];
    };
    options.unsolicited = [](ByteView frame) {
        std::printf("[host] unsolicited frame of %zu bytes\n", frame.size());
    };
    return options;
}

/// One session against a device at `path`: version, sensors (pipelined), an output.
Task<int> query(ferry::Loop& loop, std::string path, ferry::SerialOptions serial,
                std::chrono::milliseconds timeout, unsigned retries, bool demo) {
    auto port = ferry::create_serial_connection(
                    loop,
                    [&] {
                        return std::make_unique<Host>(sample::device_codec(),
                                                      host_options(timeout, retries));
                    },
                    path, serial)
                    .value();
    Host& host = port->protocol_as<Host>();
    DeviceClient device(host);
    int failures = 0;
    std::string failure;
    try {
        std::printf("[host] version: %s\n", (co_await device.version()).c_str());
        for (int round = 1; round <= 3; ++round) {
            // Four channels at once: pipelined, matched by id whatever order they come back in.
            auto [a, b, c, d] =
                co_await ferry::gather(device.read_sensor(0), device.read_sensor(1),
                                       device.read_sensor(2), device.read_sensor(3));
            std::printf("[host] round %d: %.2f %.2f %.2f %.2f degC\n", round, a, b, c, d);
        }
        co_await device.set_output(1, true);
        std::printf("[host] output 1 on\n");
    } catch (const ferry::TimeoutError& e) {
        failure = std::string("timed out: ") + e.what();
    } catch (const ferry::Error& e) {
        failure = e.what();
    }
    if (!failure.empty()) {
        ++failures;
        std::printf("[host] %s\n", failure.c_str());
    }
    std::printf("[host] %llu timeouts, %llu retries, %llu late answers dropped\n",
                static_cast<unsigned long long>(host.timeouts()),
                static_cast<unsigned long long>(host.retries_sent()),
                static_cast<unsigned long long>(host.late_responses()));
    const bool showed_recovery = host.retries_sent() > 0 && host.late_responses() > 0;
    port->close();
    co_await ferry::sleep(10ms);
    if (demo) {
        if (failures == 0 && showed_recovery) {
            std::printf("demo: ok: every request answered, %llu retries after timeouts, %llu late "
                        "answers dropped\n",
                        static_cast<unsigned long long>(host.retries_sent()),
                        static_cast<unsigned long long>(host.late_responses()));
            co_return 0;
        }
        std::printf("demo: FAILED (%s)\n",
                    failures ? "a request failed" : "no retry or late answer seen");
        co_return 1;
    }
    co_return failures == 0 ? 0 : 1;
}

Task<int> demo(ferry::Loop& loop) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("ferry-framed-demo-" + std::to_string(sample::process_id()));
    std::filesystem::create_directories(dir);
    // Silent to every 5th request (the host retries it), slow on every 7th (the answer comes
    // after the host gave up on that attempt: it is dropped as late, the retry is answered).
    Quirks quirks{5, 7, 150ms};
    sample::VirtualSerialDevice device(loop, dir / "ttyUSB0", [&loop, quirks] {
        return std::make_unique<SimulatedDevice>(loop, quirks);
    });
    ferry::SerialOptions serial;
    serial.baud_rate = 115200;
    const int status = co_await query(loop, device.port(), serial, 100ms, 3, true);
    device.unplug();
    std::filesystem::remove_all(dir);
    co_return status;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"A COBS + CRC-16 framed device, and a host querying it with retries"};
    app.require_subcommand(1);
    auto* demo_mode =
        app.add_subcommand("demo", "device and host on a pty, with a slow and silent device");
    auto* device_mode = app.add_subcommand("device", "run the simulated device on a pty");
    int silent_every = 0;
    int slow_every = 0;
    device_mode->add_option("--silent-every", silent_every, "ignore every Nth request");
    device_mode->add_option("--slow-every", slow_every, "answer every Nth request 150 ms late");
    auto* host_mode = app.add_subcommand("host", "query a device on a serial port");
    std::string port;
    ferry::SerialOptions serial;
    serial.baud_rate = 115200;
    int timeout_ms = 200;
    unsigned retries = 2;
    host_mode->add_option("port", port, "the serial port")->required();
    sample::add_serial_options(*host_mode, serial);
    host_mode->add_option("--timeout", timeout_ms, "ms to wait for each answer")
        ->capture_default_str();
    host_mode->add_option("--retries", retries, "attempts after a timeout")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    ferry::Loop loop;
    try {
        if (*demo_mode) {
            return loop.run_until_complete(demo(loop));
        }
        if (*host_mode) {
            return loop.run_until_complete(
                query(loop, port, serial, std::chrono::milliseconds(timeout_ms), retries, false));
        }
        // device: until interrupted.
        const auto link = std::filesystem::temp_directory_path() /
                          ("ferry-framed-device-" + std::to_string(sample::process_id()));
        Quirks quirks{silent_every, slow_every, 150ms};
        sample::VirtualSerialDevice device(loop, link, [&loop, quirks] {
            return std::make_unique<SimulatedDevice>(loop, quirks);
        });
        std::printf("device on %s (Ctrl-C stops it); try: framed_device host %s\n",
                    device.port().c_str(), device.port().c_str());
        for (const int signum : sample::stop_signals()) {
            loop.add_signal_handler(signum, [&loop] { loop.stop(); });
        }
        loop.run();
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "framed_device: %s\n", e.what());
        return 1;
    }
}
