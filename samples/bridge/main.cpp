// ferry-bridge: joins two endpoints — a serial port to TCP clients as ser2net does, serial to
// serial, stdio to a socket — on one loop, with back-pressure end to end.
//
//   ferry-bridge serial:/dev/ttyUSB0:115200n81 tcp-listen:7000
//   ferry-bridge serial:/dev/ttyUSB0 tcp-listen:7000:interface=0.0.0.0 --mode shared
//       --allow 192.168.1.0/24 --banner 'port \d at \s\r\n'
//   ferry-bridge serial:/dev/ttyUSB0 serial:/dev/ttyUSB1
//   ferry-bridge --config bridges.conf          several bridges, one per line
//   ferry-bridge --demo                         a simulated sensor on 127.0.0.1:7000
//
// SIGINT / SIGTERM: stop accepting, flush, close, print statistics. SIGUSR1 (Ctrl-Break on
// Windows): statistics.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <ferry/ferry.hpp>

#include "cli_errors.hpp"
#include "demo.hpp"
#include "platform.hpp"
#include "service.hpp"

namespace {

using namespace std::chrono_literals;
using bridge_tool::ClientMode;
using bridge_tool::ServiceOptions;

/// The per-bridge options as typed, turned into ServiceOptions by finish().
struct BridgeArguments {
    std::string a;
    std::string b;
    std::string mode = "exclusive";
    std::size_t max_connections = 0;
    unsigned idle_timeout = 0;
    std::string banner;
    std::string open_string;
    std::string close_string;
    bool keep_open = false;
    std::string trace;
    std::vector<std::string> allow;
    bool read_only = false;
    std::size_t max_buffer = 0;
    bool no_reconnect = false;

    /// Adds the options every bridge takes (the command line's and a config line's).
    void add_to(CLI::App& app, bool endpoints_required) {
        app.add_option("A", a, "first endpoint (see Endpoints below)")
            ->required(endpoints_required);
        app.add_option("B", b, "second endpoint")->required(endpoints_required);
        app.add_option("--mode", mode,
                       "clients of a listening side: exclusive (a second client is refused), "
                       "kick-old (a new client replaces the old), shared (all get the output)")
            ->check(CLI::IsMember({"exclusive", "kick-old", "shared"}));
        app.add_option("--max-connections", max_connections, "most clients at once (shared)")
            ->check(sample::whole_number(1, 100000));
        app.add_option("--idle-timeout", idle_timeout,
                       "close a client idle for this many seconds (0: never)")
            ->check(sample::whole_number(0, 1000000));
        app.add_option("--banner", banner,
                       "sent to each client on connect; \\d device, \\p listening side, "
                       "\\s settings, \\a client address, \\r \\n \\t \\\\ \\xHH");
        app.add_option("--open-string", open_string,
                       "sent to the device when it is opened (escapes \\r \\n \\t \\xHH)");
        app.add_option("--close-string", close_string, "sent to the device before it is closed");
        app.add_flag("--keep-open", keep_open,
                     "open the device at start and keep it open with no client");
        app.add_option("--trace", trace,
                       "hex-dump every relayed chunk with timestamps to FILE, or to the log "
                       "with 'log'");
        app.add_option("--allow", allow,
                       "let in only clients from this CIDR range (repeatable; IPv4 and IPv6)");
        app.add_flag("--read-only", read_only, "discard what clients send");
        app.add_option("--max-buffer", max_buffer,
                       "bytes queued for one client at most (default 1 MiB); joining two "
                       "connecting sides, per direction (default 8 MiB)")
            ->check(sample::whole_number(4096, 1ll << 30));
        app.add_flag("--no-reconnect", no_reconnect,
                     "end when a side fails or ends, instead of reopening it with backoff");
    }

    /// The options as the service takes them; throws std::invalid_argument naming a bad one.
    ServiceOptions finish() const {
        ServiceOptions options;
        options.a_text = a;
        options.b_text = b;
        options.mode = mode == "shared"     ? ClientMode::shared
                       : mode == "kick-old" ? ClientMode::kick_old
                                            : ClientMode::exclusive;
        options.max_connections = max_connections;
        options.idle_timeout = std::chrono::seconds(idle_timeout);
        options.banner = banner;
        options.open_string = bridge_tool::unescape(open_string);
        options.close_string = bridge_tool::unescape(close_string);
        bridge_tool::expand_banner(banner, "", "", "", ""); // reports a bad escape now
        options.keep_open = keep_open;
        options.trace = trace;
        for (const std::string& range : allow) {
            options.allow.add(range);
        }
        options.read_only = read_only;
        options.max_buffer = max_buffer;
        options.reconnect = !no_reconnect;
        return options;
    }
};

/// Splits a config line into words: spaces separate, '...' and "..." group, # starts a comment.
std::vector<std::string> split_line(const std::string& line, const std::string& where) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (const char c : line) {
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
            } else {
                word += c;
            }
            continue;
        }
        if (c == '#') {
            break;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == ' ' || c == '\t') {
            if (in_word) {
                words.push_back(std::move(word));
                word.clear();
                in_word = false;
            }
        } else {
            word += c;
            in_word = true;
        }
    }
    if (quote != 0) {
        throw std::invalid_argument(where + ": unterminated quote");
    }
    if (in_word) {
        words.push_back(std::move(word));
    }
    return words;
}

/// Reads a config file: one bridge per line, as on the command line ("A B [options]").
std::vector<ServiceOptions> read_config(const std::string& path) {
    std::ifstream file(path);
    if (!file) {
        throw std::invalid_argument("cannot read the config file " + path);
    }
    std::vector<ServiceOptions> bridges;
    std::string line;
    for (int number = 1; std::getline(file, line); ++number) {
        const std::string where = path + ":" + std::to_string(number);
        std::vector<std::string> words = split_line(line, where);
        if (words.empty()) {
            continue;
        }
        CLI::App app("a bridge line", where);
        BridgeArguments arguments;
        arguments.add_to(app, true);
        std::reverse(words.begin(), words.end()); // CLI11 takes them last first
        try {
            app.parse(words);
        } catch (const CLI::ParseError& e) {
            throw std::invalid_argument(where + ": " + e.what());
        }
        try {
            bridges.push_back(arguments.finish());
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(where + ": " + e.what());
        }
    }
    if (bridges.empty()) {
        throw std::invalid_argument(path + " describes no bridge");
    }
    return bridges;
}

ferry::Task<int>
run(ferry::Loop& loop, std::vector<ServiceOptions> bridges, bool quiet_stats,
    std::function<void(const std::vector<std::shared_ptr<bridge_tool::Service>>&)> started) {
    std::vector<std::shared_ptr<bridge_tool::Service>> services;
    for (ServiceOptions& options : bridges) {
        const std::string name = options.a_text + " " + options.b_text;
        try {
            services.push_back(co_await bridge_tool::Service::start(loop, std::move(options)));
        } catch (const ferry::Error& e) {
            std::cerr << "ferry-bridge: " << e.what() << "\n";
            for (const auto& service : services) {
                service->abort();
            }
            co_return 2;
        }
    }
    if (started) {
        started(services);
    }
    const auto print_statistics = [&services] {
        std::string all;
        for (const auto& service : services) {
            all += service->statistics();
        }
        std::fputs(all.c_str(), stderr);
    };
    ferry::Event all_finished;
    std::size_t remaining = services.size();
    for (const auto& service : services) {
        service->on_finished([&] {
            if (--remaining == 0) {
                all_finished.set();
            }
        });
    }
    int signals = 0;
    ferry::CallbackHandle force_stop;
    const auto on_stop_signal = [&] {
        if (++signals == 1) {
            std::fputs("ferry-bridge: stopping (flushing what was accepted)\n", stderr);
            for (const auto& service : services) {
                service->stop();
            }
            force_stop = loop.call_later(5s, [&] {
                for (const auto& service : services) {
                    service->abort(); // a peer that never reads cannot hold the exit forever
                }
            });
        } else {
            for (const auto& service : services) {
                service->abort();
            }
        }
    };
    for (const int signum : sample::stop_signals()) {
        loop.add_signal_handler(signum, on_stop_signal);
    }
    loop.add_signal_handler(sample::statistics_signal(), print_statistics);
    co_await all_finished.wait();
    force_stop.cancel();
    for (const int signum : sample::stop_signals()) {
        loop.remove_signal_handler(signum);
    }
    loop.remove_signal_handler(sample::statistics_signal());
    if (!quiet_stats) {
        print_statistics();
    }
    int status = 0;
    for (const auto& service : services) {
        if (!service->failure().empty()) {
            std::cerr << "ferry-bridge: " << service->failure() << "\n";
            status = 1;
        }
    }
    co_return status;
}

/// Gives libuv's thread pool a thread for each serial device served, beside its usual four,
/// unless UV_THREADPOOL_SIZE says otherwise. A served device with modem lines is watched with
/// TIOCMIWAIT, a blocking wait that holds an executor thread (Linux has no other notification
/// of modem-line changes); with the default four threads, four such devices would leave none
/// for the library's other executor work. Must run before the pool's first use.
void reserve_modem_watch_threads(const std::vector<ServiceOptions>& bridges) {
    if (std::getenv("UV_THREADPOOL_SIZE") != nullptr) {
        return;
    }
    std::size_t devices = 0;
    for (const auto& bridge : bridges) {
        for (const auto* side : {&bridge.a_text, &bridge.b_text}) {
            devices += side->rfind("serial:", 0) == 0 ? 1 : 0;
        }
    }
    const std::size_t libuv_default = 4;
    const std::size_t libuv_maximum = 1024;
    if (devices > 0) {
        const auto threads = std::min(libuv_default + devices, libuv_maximum);
        sample::set_environment_default("UV_THREADPOOL_SIZE", std::to_string(threads));
    }
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app("ferry-bridge: joins two endpoints (serial <-> TCP as ser2net, serial <-> "
                 "serial, stdio <-> anything), with back-pressure end to end",
                 "ferry-bridge");
    BridgeArguments arguments;
    arguments.add_to(app, false);
    std::string config;
    bool demo = false;
    unsigned demo_port = 7000;
    bool quiet_stats = false;
    app.add_option("--config", config,
                   "run the bridges of FILE, one per line written as on the command line "
                   "('A B [options]'; # starts a comment)");
    app.add_flag("--demo", demo,
                 "bridge a simulated sensor on a pty to 127.0.0.1:--demo-port (no hardware "
                 "needed)");
    app.add_option("--demo-port", demo_port, "the demo's TCP port")
        ->check(sample::whole_number(0, 65535));
    app.add_flag("--no-statistics", quiet_stats, "do not print statistics on exit");
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose,
                 "log connections, disconnects and reopenings (FERRY_LOG=debug for more)");
    app.footer(ferry::endpoint_help() +
               "\nExamples:\n"
               "  ferry-bridge serial:/dev/ttyUSB0:115200n81 tcp-listen:7000\n"
               "  ferry-bridge serial:/dev/ttyUSB0 tcp-listen:7000:interface=0.0.0.0 "
               "--mode shared --allow 192.168.1.0/24\n"
               "  ferry-bridge serial:/dev/ttyUSB0 serial:/dev/ttyUSB1      two boards talk\n"
               "  ferry-bridge pty:link=/tmp/ttyV0 tcp:192.168.1.20:7000    a remote port as "
               "a local one\n"
               "  ferry-bridge serial:/dev/ttyUSB0 tcp-listen:7000:rfc2217   for pyserial's "
               "rfc2217://\n"
               "  ferry-bridge pty:link=/tmp/ttyV0 rfc2217:192.168.1.20:7000:115200n81   an "
               "RFC 2217 port as a local one\n"
               "  ferry-bridge stdio serial:/dev/ttyACM0:9600 < commands.txt\n"
               "  ferry-bridge --demo\n"
               "\nSIGINT/SIGTERM (Ctrl-C) stop, flushing what was accepted; " +
               sample::statistics_signal_name() + " prints statistics.\n");
    CLI11_PARSE(app, argc, argv);

    std::vector<ServiceOptions> bridges;
    std::unique_ptr<bridge_tool::DemoSensor> sensor;
    std::filesystem::path demo_dir;
    ferry::Loop loop;
    try {
        if (demo) {
            demo_dir = std::filesystem::temp_directory_path() /
                       ("ferry-bridge-demo-" + std::to_string(sample::process_id()));
            std::filesystem::create_directories(demo_dir);
            sensor = std::make_unique<bridge_tool::DemoSensor>(
                loop, (demo_dir / "ttySENSOR").string(), 1s);
            arguments.a = "serial:" + sensor->port() + ":115200n81";
            // RFC 2217 for pyserial; nc and other plain clients see only the sensor's text
            // (the server negotiates only with a client that starts to).
            arguments.b = "tcp-listen:" + std::to_string(demo_port) + ":rfc2217";
            arguments.mode = "shared";
            arguments.banner = "ferry-bridge demo: \\d (\\s) for \\a\\r\\n";
            bridges.push_back(arguments.finish());
        } else if (!config.empty()) {
            if (!arguments.a.empty()) {
                throw std::invalid_argument("give either --config or two endpoints, not both");
            }
            bridges = read_config(config);
        } else {
            if (arguments.a.empty() || arguments.b.empty()) {
                throw std::invalid_argument(
                    "two endpoints are needed, e.g. ferry-bridge serial:/dev/ttyUSB0 "
                    "tcp-listen:7000 (--help lists them)");
            }
            bridges.push_back(arguments.finish());
        }
    } catch (const std::exception& e) {
        std::cerr << "ferry-bridge: " << e.what() << "\n";
        return 2;
    }
    reserve_modem_watch_threads(bridges);
    if (verbose && ferry::log().level() > spdlog::level::info) {
        ferry::log().set_level(spdlog::level::info);
    }
    sample::ignore_broken_pipe();
    int status = 0;
    try {
        status = loop.run_until_complete(
            run(loop, std::move(bridges), quiet_stats,
                [&](const std::vector<std::shared_ptr<bridge_tool::Service>>& services) {
                    if (!sensor) {
                        return;
                    }
                    const std::uint16_t port = services.front()->port();
                    std::printf("ferry-bridge demo: a simulated sensor on %s (pty %s), bridged to "
                                "127.0.0.1:%u\n"
                                "  talk to it:  nc 127.0.0.1 %u      then type v, r or help and "
                                "Enter\n"
                                "  or from Python: socket.create_connection(('127.0.0.1', %u))\n"
                                "  or as a serial port (RFC 2217): "
                                "serial.serial_for_url('rfc2217://127.0.0.1:%u')\n"
                                "  Ctrl-C stops and prints statistics (%s prints them now)\n",
                                sensor->port().c_str(), sensor->terminal().c_str(), port, port,
                                port, port, sample::statistics_request_hint().c_str());
                    std::fflush(stdout);
                }));
    } catch (const std::exception& e) {
        std::cerr << "ferry-bridge: " << e.what() << "\n";
        status = 1;
    }
    sensor.reset();
    if (!demo_dir.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(demo_dir, ignored);
    }
    return status;
}
