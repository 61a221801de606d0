// Monitor: reconnecting serial port, key handling and hex display.
#include "monitor.hpp"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <utility>

#include <fmt/chrono.h>

#include <ferry/error.hpp>
#include <ferry/transport.hpp>

#include "port_watch.hpp"

namespace sample {

namespace {

constexpr char ctrl_close_bracket = 0x1d; // Ctrl-]
constexpr char ctrl_t = 0x14;             // Ctrl-T

/// "[12:34:56.789] ": the local time, for the start of a received line.
std::string timestamp() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    const std::tm tm = fmt::localtime(seconds); // thread-safe, on every platform
    char text[32];
    std::snprintf(text, sizeof text, "[%02d:%02d:%02d.%03d] ", tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    return text;
}

EolDisplay parse_eol_display(const std::string& map_in) {
    if (map_in == "lf") {
        return EolDisplay::as_received;
    }
    if (map_in == "cr") {
        return EolDisplay::cr_ends_line;
    }
    if (map_in == "crlf") {
        return EolDisplay::crlf_ends_line;
    }
    throw ferry::Error(ferry::make_error_code(ferry::errc::invalid_argument),
                       "invalid --map-in " + map_in + " (it must be lf, cr or crlf)");
}

} // namespace

/// Hands what the port reads to the monitor.
class Monitor::PortProtocol final : public ferry::Protocol {
public:
    explicit PortProtocol(Monitor& monitor) : monitor_(monitor) {}
    void data_received(ferry::ByteView data) override { monitor_.received(data.as_string_view()); }

private:
    Monitor& monitor_;
};

Monitor::Monitor(ferry::Loop& loop, MonitorOptions options, Screen screen, Status status)
    : loop_(loop), options_(std::move(options)), screen_(std::move(screen)),
      status_(std::move(status)), eol_display_(parse_eol_display(options_.map_in)) {
    if (!options_.log_file.empty()) {
        log_.reset(std::fopen(options_.log_file.c_str(), "ab"));
        if (!log_) {
            throw ferry::Error(ferry::make_error_code(ferry::errc::invalid_argument),
                               "cannot open the log file " + options_.log_file + ": " +
                                   std::strerror(errno));
        }
    }
}

Monitor::~Monitor() {
    stop();
}

bool Monitor::connected() const noexcept {
    return reconnector_ && reconnector_->is_connected();
}

void Monitor::start() {
    ferry::validate(options_.serial); // a bad option is an error now, not a retry for ever
    ferry::ReconnectOptions backoff;
    backoff.initial_delay = std::chrono::milliseconds(100);
    backoff.factor = 2.0;
    backoff.max_delay = std::chrono::milliseconds(2000);
    backoff.jitter = 0.1;
    backoff.retryable = ferry::serial_error_may_clear;
    if (!options_.reconnect) {
        backoff.max_retries = 0;
    }
    ferry::ReconnectEvents events;
    events.connected = [this](ferry::Transport& transport) {
        ++connections_;
        told_waiting_ = false;
        told_dropped_ = false;
        // Show what the device holds (read back after applying), and reopen with that.
        if (auto* port = dynamic_cast<ferry::SerialTransport*>(&transport)) {
            options_.serial = port->options();
        }
        report("--- " + options_.port + " open, " + ferry::describe(options_.serial) +
               " (Ctrl-] quits, Ctrl-T ? help) ---");
    };
    events.retrying = [this](std::error_code error, const std::string& reason,
                             std::chrono::milliseconds) {
        // Once per outage, not once per retry: the screen is for the device's output.
        if (!told_waiting_) {
            told_waiting_ = true;
            const std::string what = error == ferry::make_error_code(ferry::errc::device_removed)
                                         ? options_.port + ": device removed"
                                         : reason;
            report("--- " + what + "; waiting for the port to come back ---");
        }
    };
    events.gave_up = [this](std::error_code error, const std::string& reason) {
        const bool could_clear = !error || ferry::serial_error_may_clear(error);
        failed_ = options_.reconnect || connections_ == 0;
        report("--- " + reason +
               (could_clear ? "" : "; not retrying: this cannot clear by itself") + " ---");
        quit();
    };
    // Each attempt opens with the settings of the moment, so a baud rate changed from the
    // menu survives an unplug.
    auto connect = [this](ferry::ProtocolFactory factory, ferry::TransportCallback done) {
        ferry::serial_connector(loop_, options_.port, options_.serial)(std::move(factory),
                                                                       std::move(done));
    };
    reconnector_ = ferry::Reconnector::start(
        loop_, connect, [this] { return std::make_unique<PortProtocol>(*this); }, backoff, events);
    if (options_.reconnect) {
        watcher_ = watch_for_port(
            loop_, options_.port,
            [this] {
                if (reconnector_) {
                    reconnector_->retry_now();
                }
            },
            [this](const std::string& line) { report("--- " + line + " ---"); });
    }
}

bool Monitor::keys(std::string_view typed) {
    std::string out;
    for (char key : typed) {
        if (quitting_) {
            break;
        }
        if (entering_baud_) {
            if (key == '\r' || key == '\n') {
                entering_baud_ = false;
                change_baud(typed_baud_);
            } else if (key == 0x1b || key == 0x03) { // Esc or Ctrl-C: never mind
                entering_baud_ = false;
                report("--- baud rate unchanged ---");
            } else if ((key == 0x7f || key == 0x08) && !typed_baud_.empty()) {
                typed_baud_.pop_back();
            } else if (typed_baud_.size() < 16) {
                typed_baud_ += key;
            }
            continue;
        }
        if (menu_prefix_) {
            menu_prefix_ = false;
            if (key == ctrl_t) {
                out += key;
            } else {
                send(out);
                out.clear();
                menu_command(key);
            }
        } else if (key == ctrl_close_bracket) {
            send(out);
            out.clear();
            quit();
        } else if (key == ctrl_t) {
            menu_prefix_ = true;
        } else if (key == '\r' || key == '\n') {
            out += options_.enter;
        } else {
            out += key;
        }
    }
    send(out);
    return !quitting_;
}

void Monitor::change_baud(const std::string& typed) {
    std::uint32_t rate = 0;
    const char* end = typed.data() + typed.size();
    const auto [stop, error] = std::from_chars(typed.data(), end, rate);
    if (typed.empty() || error != std::errc() || stop != end || rate == 0) {
        report("--- \"" + typed +
               "\" is not a baud rate (a whole number from 1 to 4294967295) ---");
        return;
    }
    ferry::SerialOptions wanted = options_.serial;
    wanted.baud_rate = rate;
    auto transport = reconnector_ ? reconnector_->transport() : nullptr;
    auto* port = dynamic_cast<ferry::SerialTransport*>(transport.get());
    if (port == nullptr) {
        report("--- not connected ---");
        return;
    }
    try {
        port->reconfigure(wanted);
        options_.serial = port->options(); // what the device holds now
        report("--- " + options_.port + " now " + ferry::describe(options_.serial) + " ---");
    } catch (const ferry::Error& e) {
        report(std::string("--- ") + e.what() + "; still " + ferry::describe(options_.serial) +
               " ---");
    }
}

void Monitor::show_settings() {
    report("--- " + options_.port + ": " + ferry::describe(options_.serial) + ", display " +
           (options_.hex ? "hex" : "text, line ends " + options_.map_in) +
           (options_.echo ? ", local echo" : "") + (options_.timestamps ? ", timestamps" : "") +
           (options_.log_file.empty() ? "" : ", logging to " + options_.log_file) + " ---");
}

void Monitor::send(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    if (auto port = reconnector_ ? reconnector_->transport() : nullptr) {
        port->write(bytes);
        if (options_.echo) {
            // Shown as typed, each line end (CR, LF or CR LF) as one new line.
            std::string shown;
            for (std::size_t i = 0; i < bytes.size(); ++i) {
                if (bytes[i] == '\r' || bytes[i] == '\n') {
                    shown += '\n';
                    if (bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') {
                        ++i;
                    }
                } else {
                    shown += bytes[i];
                }
            }
            screen_(shown);
            at_line_start_ = shown.back() == '\n';
        }
    } else if (!told_dropped_) {
        told_dropped_ = true;
        report("--- not connected: typed input is dropped until the port is back ---");
    }
}

void Monitor::menu_command(char key) {
    auto transport = reconnector_ ? reconnector_->transport() : nullptr;
    auto* port = dynamic_cast<ferry::SerialTransport*>(transport.get());
    try {
        switch (key) {
        case 'q':
        case 'Q':
            quit();
            return;
        case 'h':
        case 'H':
            options_.hex = !options_.hex;
            if (!options_.hex && hex_column_ != 0) {
                screen_("\n");
            }
            hex_column_ = 0;
            hex_chars_.clear();
            report(options_.hex ? "--- hex display ---" : "--- text display ---");
            return;
        case 'e':
        case 'E':
            options_.echo = !options_.echo;
            report(options_.echo ? "--- local echo on ---" : "--- local echo off ---");
            return;
        case 't':
        case 'T':
            options_.timestamps = !options_.timestamps;
            report(options_.timestamps ? "--- timestamps on ---" : "--- timestamps off ---");
            return;
        case 'c':
        case 'C':
            show_settings();
            return;
        case 'B':
            entering_baud_ = true;
            typed_baud_.clear();
            report("--- new baud rate, then Enter (Esc cancels): ---");
            return;
        case 'b':
            if (port != nullptr) {
                port->send_break(std::chrono::milliseconds(250), [this](std::error_code error) {
                    report(error ? "--- break failed: " + error.message() + " ---"
                                 : "--- break sent (250 ms) ---");
                });
                return;
            }
            break;
        case 'r':
        case 'R':
            if (port != nullptr) {
                port->set_rts(rts_ = !rts_);
                report(std::string("--- RTS ") + (rts_ ? "on" : "off") + " ---");
                return;
            }
            break;
        case 'd':
        case 'D':
            if (port != nullptr) {
                port->set_dtr(dtr_ = !dtr_);
                report(std::string("--- DTR ") + (dtr_ ? "on" : "off") + " ---");
                return;
            }
            break;
        default:
            report("--- Ctrl-T then: q quit, h hex, e echo, t timestamps, b break, B baud rate, "
                   "r RTS, d DTR, c settings, Ctrl-T itself ---");
            return;
        }
        report("--- not connected ---");
    } catch (const ferry::Error& e) {
        report(std::string("--- ") + e.what() + " ---");
    }
}

void Monitor::received(std::string_view bytes) {
    bytes_received_ += bytes.size();
    if (log_) {
        std::fwrite(bytes.data(), 1, bytes.size(), log_.get());
        std::fflush(log_.get()); // a line at a time is enough to follow it with tail -f
    }
    if (options_.hex) {
        show_hex(bytes);
    } else {
        show_text(bytes);
    }
    if (on_change) {
        on_change();
    }
}

void Monitor::show_text(std::string_view bytes) {
    if (eol_display_ == EolDisplay::as_received && !options_.timestamps) {
        screen_(bytes); // the common case: no copy
        return;
    }
    std::string shown;
    shown.reserve(bytes.size() + 16);
    const auto new_line = [&] {
        shown += '\n';
        at_line_start_ = true;
    };
    for (char c : bytes) {
        const bool after_cr = std::exchange(pending_cr_, false);
        if (c == '\r') {
            pending_cr_ = true;
            if (eol_display_ == EolDisplay::cr_ends_line) {
                new_line();
            }
            continue; // crlf: a line end only if LF follows; as_received: shown at the LF
        }
        if (c == '\n') {
            if (!(after_cr && eol_display_ == EolDisplay::cr_ends_line)) {
                new_line(); // in cr mode the CR before it already ended the line
            }
            continue;
        }
        if (after_cr && eol_display_ == EolDisplay::as_received) {
            shown += '\r'; // a lone CR, shown as the terminal treats it
        }
        if (at_line_start_ && options_.timestamps) {
            shown += timestamp();
        }
        at_line_start_ = false;
        shown += c;
    }
    screen_(shown);
}

void Monitor::show_hex(std::string_view bytes) {
    std::string line;
    char digits[4];
    for (unsigned char byte : bytes) {
        std::snprintf(digits, sizeof digits, "%02x ", byte);
        line += digits;
        hex_chars_ += (byte >= 0x20 && byte < 0x7f) ? static_cast<char>(byte) : '.';
        if (++hex_column_ == 16) {
            line += " |" + hex_chars_ + "|\n";
            hex_column_ = 0;
            hex_chars_.clear();
        }
    }
    screen_(line);
}

void Monitor::report(const std::string& line) {
    if (hex_column_ != 0) {
        screen_("\n");
        hex_column_ = 0;
        hex_chars_.clear();
    }
    status_(line);
    if (on_change) {
        on_change();
    }
}

void Monitor::quit() {
    if (quitting_) {
        return;
    }
    quitting_ = true;
    stop();
    if (on_quit) {
        on_quit();
    }
}

void Monitor::stop() {
    if (watcher_) {
        watcher_->stop();
        watcher_.reset();
    }
    if (reconnector_) {
        reconnector_->stop_trying();
        if (auto port = reconnector_->transport()) {
            port->close(); // flushes what was typed
        }
        reconnector_.reset();
    }
}

} // namespace sample
