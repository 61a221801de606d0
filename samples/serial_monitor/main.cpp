// serial_monitor: a small serial terminal, as tio or pyserial's miniterm, on ferry.
//
//   serial_monitor /dev/ttyUSB0 --baud 115200            keyboard to port, port to screen
//   serial_monitor /dev/serial/by-id/usb-FTDI_... --hex  survives unplug and replug
//   serial_monitor --list [PATTERN]                      the ports there are
//   serial_monitor demo                                  a simulated instrument on a pty
//
//   serial_monitor /dev/ttyUSB0 --echo --timestamps --map-in crlf --log session.txt
//
// Ctrl-] quits. Ctrl-T then ? lists the menu: h hex, e echo, t timestamps, b break,
// B baud rate, r / d RTS / DTR, c settings, q quit.
#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include <ferry/ferry.hpp>

#include "demo.hpp"
#include "keyboard.hpp"
#include "monitor.hpp"
#include "platform.hpp"
#include "serial_cli.hpp"

namespace {

/// Passes what the keyboard (or a pipe on stdin) gives to the monitor.
class Keys final : public ferry::Protocol {
public:
    explicit Keys(sample::Monitor& monitor) : monitor_(monitor) {}
    void data_received(ferry::ByteView data) override { monitor_.keys(data.as_string_view()); }
    bool eof_received() override { return false; } // stdin ended: keep showing the port

private:
    sample::Monitor& monitor_;
};

void write_screen(std::string_view bytes) {
    // Blocking writes to the terminal, as tio and miniterm do: the descriptor is shared with
    // the shell, so it stays blocking, and a terminal keeps up with any serial port.
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    std::fflush(stdout);
}

void write_status(const std::string& line) {
    std::fprintf(stderr, "%s\r\n", line.c_str());
}

int list(const std::string& pattern) {
    const auto ports = pattern.empty() ? ferry::list_ports() : ferry::grep_ports(pattern);
    for (const ferry::PortInfo& port : ports) {
        std::printf("%-16s %-40s %s\n", port.device.c_str(), port.description.c_str(),
                    port.hwid.c_str());
        for (const std::string& link : port.by_id) {
            std::printf("    %s\n", link.c_str());
        }
    }
    std::printf("%zu port%s found\n", ports.size(), ports.size() == 1 ? "" : "s");
    return 0;
}

int monitor(sample::MonitorOptions options) {
    ferry::Loop loop;
    sample::Monitor monitor(loop, options, write_screen, write_status);
    monitor.on_quit = [&loop] { loop.stop(); };
    sample::Keyboard keyboard; // raw mode until the end of this function
    std::shared_ptr<ferry::Transport> keys;
    if (const std::optional<ferry::NativeHandle> handle = keyboard.take()) {
        auto reading = ferry::connect_read_pipe(
            loop, [&monitor] { return std::make_unique<Keys>(monitor); }, *handle);
        if (reading.ok()) {
            keys = reading.value();
        } else {
            sample::close_native(*handle); // e.g. stdin is a regular file: show the port only
            write_status("--- not reading keys: " + reading.message() + " ---");
        }
    } else {
        write_status("--- not reading keys: " + keyboard.why() + " ---");
    }
    for (const int signum : sample::stop_signals(true)) {
        loop.add_signal_handler(signum, [&loop] { loop.stop(); });
    }
    monitor.start();
    loop.run();
    monitor.stop();
    if (keys) {
        keys->abort();
    }
    return monitor.failed() || monitor.connections() == 0 ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"A serial terminal: keyboard to port, port to screen; survives unplugging"};
    sample::MonitorOptions options;
    options.serial.baud_rate = 115200;
    options.serial.discard_input_on_open = true; // what waited before we opened is stale
    std::optional<std::string> list_pattern;
    std::string enter = "cr";
    bool no_reconnect = false;
    app.add_option("port", options.port, "the serial port, e.g. /dev/ttyUSB0");
    sample::add_serial_options(app, options.serial);
    app.add_flag("--hex", options.hex, "show received bytes as hex");
    app.add_flag("--echo", options.echo, "show typed keys too (Ctrl-T e toggles)");
    app.add_flag("--timestamps", options.timestamps,
                 "start each received line with the time (Ctrl-T t toggles)");
    app.add_option("--map-in", options.map_in,
                   "received line ends: lf (as they come), cr (CR ends a line) or crlf")
        ->check(CLI::IsMember({"lf", "cr", "crlf"}))
        ->capture_default_str();
    app.add_option("--log", options.log_file, "also append what the port sends to this file");
    app.add_option("--enter", enter, "what Enter sends: cr, lf or crlf")
        ->check(CLI::IsMember({"cr", "lf", "crlf"}))
        ->capture_default_str();
    app.add_flag("--no-reconnect", no_reconnect, "exit when the port goes away");
    app.add_option("--list", list_pattern, "list serial ports (matching PATTERN) and exit")
        ->expected(0, 1);
    auto* demo = app.add_subcommand("demo", "monitor a simulated instrument on a pty, unplug "
                                            "and replug it, and check what was shown");
    CLI11_PARSE(app, argc, argv);
    options.enter = enter == "lf" ? "\n" : enter == "crlf" ? "\r\n" : "\r";
    options.reconnect = !no_reconnect;

    try {
        if (*demo) {
            return sample::run_monitor_demo();
        }
        if (app.count("--list") > 0) {
            return list(list_pattern.value_or(""));
        }
        if (options.port.empty()) {
            std::fprintf(stderr, "serial_monitor: give a port (see --list), or use demo\n");
            return 2;
        }
        return monitor(options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "serial_monitor: %s\n", e.what());
        return 1;
    }
}
