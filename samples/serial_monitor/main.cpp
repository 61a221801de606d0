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
#include <fcntl.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include <ferry/ferry.hpp>

#include "demo.hpp"
#include "monitor.hpp"
#include "serial_cli.hpp"

namespace {

/// Puts the terminal on stdin in raw mode for as long as it lives, so every key (Ctrl-C too)
/// goes to the port; restores it on destruction.
class RawTerminal {
public:
    /// Reopens the terminal behind stdin: a separate open file description, so the
    /// non-blocking mode the loop sets on it never leaks to the shell's stdin.
    static std::optional<RawTerminal> open() {
        if (::isatty(STDIN_FILENO) == 0) {
            return std::nullopt;
        }
        const char* name = ::ttyname(STDIN_FILENO);
        const int fd = name != nullptr ? ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
        if (fd < 0) {
            return std::nullopt;
        }
        return RawTerminal(fd);
    }
    RawTerminal(RawTerminal&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), fd_for_keys_(std::exchange(other.fd_for_keys_, -1)),
          saved_(other.saved_) {}
    RawTerminal& operator=(RawTerminal&&) = delete;
    ~RawTerminal() {
        if (fd_ >= 0) {
            ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
        }
    }
    /// The descriptor to read keys from (ownership passes to whoever takes it).
    int release() { return std::exchange(fd_for_keys_, -1); }

private:
    explicit RawTerminal(int fd) : fd_(fd), fd_for_keys_(fd) {
        ::tcgetattr(STDIN_FILENO, &saved_);
        termios raw = saved_;
        ::cfmakeraw(&raw);
        raw.c_oflag |= OPOST | ONLCR; // keep "\n" starting a new line on screen
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
    }
    int fd_ = -1;
    int fd_for_keys_ = -1;
    termios saved_{};
};

/// Passes what the keyboard (or a pipe on stdin) gives to the monitor.
class Keyboard final : public ferry::Protocol {
public:
    explicit Keyboard(sample::Monitor& monitor) : monitor_(monitor) {}
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
    std::optional<RawTerminal> terminal = RawTerminal::open();
    const int keys_fd = terminal ? terminal->release() : ::dup(STDIN_FILENO);
    auto keyboard = ferry::connect_read_pipe(
        loop, [&monitor] { return std::make_unique<Keyboard>(monitor); }, keys_fd);
    if (!keyboard.ok()) {
        ::close(keys_fd); // e.g. stdin is a regular file: show the port, read no keys
        write_status("--- not reading keys: " + keyboard.message() + " ---");
    }
    for (int signum : {SIGINT, SIGTERM, SIGHUP}) {
        loop.add_signal_handler(signum, [&loop] { loop.stop(); });
    }
    monitor.start();
    loop.run();
    monitor.stop();
    if (keyboard.ok()) {
        keyboard.value()->abort();
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
