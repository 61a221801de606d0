// The data-collection pattern ferry exists for: N producers read lines from their sources
// (instruments on serial ports or TCP) into one bounded Queue; one consumer appends them,
// timestamped, to a CSV file. A source that drops (or is unplugged) is reopened with backoff;
// a failed file write is retried, and nothing queued is lost.
//
//   producer_consumer --serial /dev/ttyUSB0@9600 --source 127.0.0.1:5001 --csv out.csv
//   producer_consumer demo [--lines N] [--csv out.csv]   simulated instruments, one drops
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <fmt/chrono.h>

#include <ferry/ferry.hpp>

#include "parse_number.hpp"
#include "platform.hpp"
#include "serial_cli.hpp"
#include "virtual_serial_device.hpp"

namespace {

using namespace std::chrono_literals;
using ferry::Task;

/// One reading: where it came from, when, and the line itself.
struct Sample {
    std::string source;
    std::string received_at; // ISO 8601, UTC, milliseconds
    std::string line;
};

std::string utc_now() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
    const std::tm tm = fmt::gmtime(seconds); // thread-safe, on every platform
    char text[96];
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count()));
    return text;
}

/// CSV field quoting (RFC 4180).
std::string csv_field(const std::string& value) {
    std::string quoted = "\"";
    for (char c : value) {
        quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return quoted + "\"";
}

/// Where a producer reads from: a serial port, or host:port over TCP.
struct Source {
    /// A serial port's path (then host and port are unused).
    std::string serial_path;
    /// The serial port's settings.
    ferry::SerialOptions serial_options;
    std::string host;
    std::uint16_t port = 0;

    std::string name() const {
        return serial_path.empty() ? host + ":" + std::to_string(port) : serial_path;
    }
};

/// Opens a source as a stream pair.
Task<ferry::StreamPair> open_source(ferry::Loop& loop, Source source) {
    if (!source.serial_path.empty()) {
        co_return co_await ferry::open_serial_connection(loop, source.serial_path,
                                                         source.serial_options);
    }
    ferry::ConnectOptions options;
    options.timeout = 3s;
    co_return co_await ferry::open_connection(loop, source.host, source.port, options);
}

/// Reads lines from `source` into `queue` for ever, reopening it with backoff (0.1 s doubling
/// to 5 s) when it cannot be reached, drops, or is unplugged. `put` waits while the queue is
/// full, so a slow disk slows the readers (and then the sources) instead of growing memory.
Task<void> producer(ferry::Loop& loop, Source source, ferry::Queue<Sample>& queue) {
    const std::string name = source.name();
    auto backoff = 100ms;
    for (;;) {
        try {
            auto [reader, writer] = co_await open_source(loop, source);
            std::printf("[%s] connected\n", name.c_str());
            backoff = 100ms;
            for (;;) {
                ferry::Bytes raw = co_await reader.readline();
                if (raw.empty()) {
                    break; // the source closed
                }
                std::string line = ferry::ByteView(raw).to_string();
                while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
                    line.pop_back();
                }
                // A named Sample, not a temporary in the co_await operand: GCC 12 mishandles
                // class temporaries there (see docs/design.md, "Compiler notes").
                Sample sample{name, utc_now(), std::move(line)};
                co_await queue.put(std::move(sample));
            }
            std::printf("[%s] source closed the connection\n", name.c_str());
        } catch (const ferry::CancelledError&) {
            throw;
        } catch (const ferry::Error& e) {
            // A TCP source may come back; a serial port only after errors that can clear (not
            // there yet, busy, unplugged), not after "not a serial port" or a refused setting.
            if (!source.serial_path.empty() && !ferry::serial_error_may_clear(e.code())) {
                std::printf("[%s] %s; not retrying: this cannot clear by itself\n", name.c_str(),
                            e.what());
                throw;
            }
            std::printf("[%s] %s; retrying in %lld ms\n", name.c_str(), e.what(),
                        static_cast<long long>(backoff.count()));
        }
        co_await ferry::sleep(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5s));
    }
}

/// Appends samples to `path` in batches, on the executor (file I/O would block the loop).
/// A failed write is retried with the same batch, so no sample is dropped.
Task<void> consumer(ferry::Loop& loop, std::string path, ferry::Queue<Sample>& queue,
                    std::size_t stop_after, std::size_t& written) {
    while (stop_after == 0 || written < stop_after) {
        std::vector<Sample> batch;
        batch.push_back(co_await queue.get());
        // At most what is left to write: --lines N means exactly N, even when samples
        // arrive together.
        const std::size_t room =
            stop_after == 0 ? 256 : std::min<std::size_t>(256, stop_after - written);
        while (!queue.empty() && batch.size() < room) {
            batch.push_back(queue.get_nowait());
        }
        auto append_batch = [path, batch] {
            std::ofstream out(path, std::ios::app);
            for (const Sample& s : batch) {
                out << s.received_at << ',' << csv_field(s.source) << ',' << csv_field(s.line)
                    << '\n';
            }
            out.flush();
            if (!out) {
                throw std::runtime_error("cannot append to " + path);
            }
        };
        for (int attempt = 1;; ++attempt) {
            std::string failure;
            try {
                co_await ferry::run_in_executor(loop, append_batch);
                break;
            } catch (const std::runtime_error& e) {
                failure = e.what(); // no co_await inside a handler: retry below
            }
            std::printf("write failed (attempt %d): %s; retrying\n", attempt, failure.c_str());
            co_await ferry::sleep(std::chrono::milliseconds(std::min(100 * attempt, 2000)));
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            queue.task_done();
        }
        written += batch.size();
    }
}

/// A simulated instrument: sends "<name>,<reading>" lines every `period`; after `drop_after`
/// lines (if non-zero) it hangs up on the client, to show the producer reconnecting.
ferry::ClientConnected instrument(std::string name, std::chrono::milliseconds period,
                                  int drop_after) {
    return
        [name, period, drop_after](ferry::StreamReader, ferry::StreamWriter writer) -> Task<void> {
            for (int n = 1; drop_after == 0 || n <= drop_after; ++n) {
                writer.write(name + ",reading=" + std::to_string(20.0 + n * 0.25) + "\r\n");
                co_await writer.drain();
                co_await ferry::sleep(period);
            }
        };
}

Task<int> run(ferry::Loop& loop, std::vector<Source> sources, std::string csv, std::size_t lines) {
    ferry::Queue<Sample> queue(64); // bounded: the backlog never exceeds 64 samples
    std::size_t written = 0;
    // Producers run until cancelled, or end with an error that cannot clear; the consumer
    // until it has written `lines` samples (never, for 0). Whichever ends first ends the run.
    std::vector<ferry::TaskHandle<void>> tasks;
    tasks.push_back(loop.create_task(consumer(loop, csv, queue, lines, written)));
    for (const Source& source : sources) {
        tasks.push_back(loop.create_task(producer(loop, source, queue)));
    }
    auto first_to_end = ferry::wait(tasks, ferry::ReturnWhen::first_completed);
    co_await std::move(first_to_end);
    int status = 0;
    for (std::size_t i = 1; i < tasks.size(); ++i) {
        if (tasks[i].done() && !tasks[i].cancelled() && tasks[i].exception()) {
            status = 1; // the producer said why
        }
    }
    for (auto& task : tasks) {
        task.cancel();
    }
    auto all_ended = ferry::wait(tasks, ferry::ReturnWhen::all_completed);
    co_await std::move(all_ended);
    std::printf("wrote %zu samples to %s\n", written, csv.c_str());
    co_return status;
}

/// A simulated serial instrument: a "<name>,reading=..." line every `period`.
class SerialInstrument final : public ferry::Protocol {
public:
    SerialInstrument(ferry::Loop& loop, std::string name, std::chrono::milliseconds period)
        : loop_(loop), name_(std::move(name)), period_(period) {}
    ~SerialInstrument() override { timer_.cancel(); }
    void connection_made(ferry::Transport& transport) override {
        transport_ = &transport;
        tick();
    }
    void connection_lost(std::error_code) override { timer_.cancel(); }

private:
    void tick() {
        transport_->write(name_ + ",reading=" + std::to_string(40.0 + ++count_ * 0.5) + "\r\n");
        timer_ = loop_.call_later(period_, [this] { tick(); });
    }
    ferry::Loop& loop_;
    std::string name_;
    std::chrono::milliseconds period_;
    ferry::Transport* transport_ = nullptr;
    ferry::CallbackHandle timer_;
    int count_ = 0;
};

Task<int> demo(ferry::Loop& loop, std::string csv, std::size_t lines) {
    // A serial instrument on a pty, and three on TCP; the second TCP one hangs up after 5
    // lines to show reconnection.
    const auto dir = std::filesystem::temp_directory_path() /
                     ("ferry-producer-demo-" + std::to_string(sample::process_id()));
    std::filesystem::create_directories(dir);
    sample::VirtualSerialDevice hygrometer(loop, dir / "ttyUSB0", [&loop] {
        return std::make_unique<SerialInstrument>(loop, "hygrometer", 25ms);
    });
    auto thermometer = instrument("thermometer", 20ms, 0);
    auto flaky = instrument("flaky-scale", 30ms, 5);
    auto barometer = instrument("barometer", 50ms, 0);
    std::vector<std::shared_ptr<ferry::StreamServer>> servers;
    servers.push_back(co_await ferry::start_server(loop, thermometer, "127.0.0.1", 0));
    servers.push_back(co_await ferry::start_server(loop, flaky, "127.0.0.1", 0));
    servers.push_back(co_await ferry::start_server(loop, barometer, "127.0.0.1", 0));
    std::vector<Source> sources;
    Source serial;
    serial.serial_path = hygrometer.port();
    serial.serial_options.baud_rate = 9600;
    sources.push_back(serial);
    for (auto& server : servers) {
        Source tcp;
        tcp.host = "127.0.0.1";
        tcp.port = server->port();
        sources.push_back(tcp);
    }
    const int status = co_await run(loop, sources, csv, lines);
    hygrometer.unplug();
    std::filesystem::remove_all(dir);
    for (auto& server : servers) {
        server->close();
        server->cancel_clients();
        co_await server->wait_closed();
    }
    co_return status;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"Collect lines from several sources into a timestamped CSV file"};
    std::vector<std::string> sources;
    std::vector<std::string> serial_ports;
    std::string csv = "samples.csv";
    std::size_t lines = 0;
    app.add_option("--source", sources, "host:port of a line-oriented source (repeatable)");
    app.add_option("--serial", serial_ports,
                   "a serial port sending lines, PATH or PATH@BAUD (repeatable; default 9600 8N1)");
    app.add_option("--csv", csv, "CSV file to append to");
    app.add_option("--lines", lines, "stop after this many samples (0: run for ever)")
        ->capture_default_str();
    auto* demo_mode = app.add_subcommand("demo", "simulated instruments on loopback");
    std::size_t demo_lines = 40; // its own variable: a default here must not bind --lines above
    demo_mode->add_option("--lines", demo_lines, "samples to collect")->capture_default_str();
    demo_mode->add_option("--csv", csv, "CSV file to append to");
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    ferry::Loop loop;
    try {
        if (*demo_mode) {
            return loop.run_until_complete(demo(loop, csv, demo_lines == 0 ? 40 : demo_lines));
        }
        if (sources.empty() && serial_ports.empty()) {
            std::fprintf(stderr, "producer_consumer: give at least one --serial or --source, "
                                 "or use demo\n");
            return 2;
        }
        std::vector<Source> parsed;
        for (const std::string& spec : serial_ports) {
            Source serial;
            const auto at = spec.rfind('@');
            serial.serial_path = spec.substr(0, at);
            serial.serial_options.discard_input_on_open = true; // old lines are not fresh data
            if (at != std::string::npos) {
                serial.serial_options.baud_rate = static_cast<std::uint32_t>(sample::parse_number(
                    std::string_view(spec).substr(at + 1), "baud rate", "--serial " + spec, 1,
                    std::numeric_limits<std::uint32_t>::max()));
            }
            ferry::validate(serial.serial_options);
            for (const Source& earlier : parsed) {
                if (sample::same_file(earlier.serial_path, serial.serial_path)) {
                    std::fprintf(stderr,
                                 "producer_consumer: --serial %s and %s are the same port\n",
                                 earlier.serial_path.c_str(), serial.serial_path.c_str());
                    return 2;
                }
            }
            parsed.push_back(serial);
        }
        for (const std::string& source : sources) {
            const auto colon = source.rfind(':');
            if (colon == std::string::npos || colon == 0) {
                std::fprintf(stderr, "producer_consumer: bad --source %s (want host:port)\n",
                             source.c_str());
                return 2;
            }
            Source tcp;
            tcp.host = source.substr(0, colon);
            tcp.port = static_cast<std::uint16_t>(
                sample::parse_number(std::string_view(source).substr(colon + 1), "port",
                                     "--source " + source, 1, 65535));
            parsed.push_back(tcp);
        }
        return loop.run_until_complete(run(loop, parsed, csv, lines));
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "producer_consumer: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "producer_consumer: %s\n", e.what());
        return 1;
    }
}
