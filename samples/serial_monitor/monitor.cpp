// Monitor: reconnecting serial port, key handling and hex display.
#include "monitor.hpp"

#include <cstdio>
#include <filesystem>
#include <regex>

#include <ferry/error.hpp>
#include <ferry/transport.hpp>

namespace sample {

namespace {

constexpr char ctrl_close_bracket = 0x1d; // Ctrl-]
constexpr char ctrl_t = 0x14;             // Ctrl-T

std::string regex_escape(const std::string& text) {
    static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
    return std::regex_replace(text, special, R"(\$&)");
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
      status_(std::move(status)) {}

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
    if (!options_.reconnect) {
        backoff.max_retries = 0;
    }
    ferry::ReconnectEvents events;
    events.connected = [this](ferry::Transport&) {
        ++connections_;
        told_waiting_ = false;
        told_dropped_ = false;
        report("--- " + options_.port + " open, " + ferry::describe(options_.serial) +
               " (Ctrl-] quits, Ctrl-T h hex, Ctrl-T b break) ---");
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
    events.gave_up = [this](std::error_code, const std::string& reason) {
        report("--- " + reason + " ---");
        quit();
    };
    reconnector_ = ferry::Reconnector::start(
        loop_, ferry::serial_connector(loop_, options_.port, options_.serial),
        [this] { return std::make_unique<PortProtocol>(*this); }, backoff, events);
    if (options_.reconnect) {
        watch_for_the_port();
    }
}

void Monitor::watch_for_the_port() {
    // The moment udev (or the demo) creates the node or link, retry at once instead of
    // waiting out the backoff. A port under /dev is followed with the standard watch (which
    // also follows /dev/serial/by-id as udev creates and removes it); any other path through
    // its own directory, for its name only.
    const std::filesystem::path port(options_.port);
    ferry::PortWatchOptions watch;
    if (options_.port.rfind("/dev/", 0) != 0) {
        watch.dev_root = port.parent_path().string();
        watch.name_pattern = regex_escape(port.filename().string());
        watch.watch_by_id = false;
    }
    try {
        watcher_ = ferry::watch_ports(
            loop_,
            [this](const ferry::PortChange& change) {
                // Any serial device appearing is worth one early attempt: the port's own node
                // may be named differently from the path given (a by-id link to ttyUSB0).
                if (change.kind == ferry::PortChangeKind::added && reconnector_) {
                    reconnector_->retry_now();
                }
            },
            watch);
    } catch (const ferry::Error& e) {
        // Not fatal: the backoff still finds the port, only later.
        report(std::string("--- not watching for the port (") + e.what() +
               "); retrying on a timer ---");
    }
}

bool Monitor::keys(std::string_view typed) {
    std::string out;
    for (char key : typed) {
        if (quitting_) {
            break;
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

void Monitor::send(std::string_view bytes) {
    if (bytes.empty()) {
        return;
    }
    if (auto port = reconnector_ ? reconnector_->transport() : nullptr) {
        port->write(bytes);
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
        case 'b':
        case 'B':
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
            report("--- Ctrl-T then: q quit, h hex, b break, r RTS, d DTR, Ctrl-T itself ---");
            return;
        }
        report("--- not connected ---");
    } catch (const ferry::Error& e) {
        report(std::string("--- ") + e.what() + " ---");
    }
}

void Monitor::received(std::string_view bytes) {
    bytes_received_ += bytes.size();
    if (options_.hex) {
        show_hex(bytes);
    } else {
        screen_(bytes);
    }
    if (on_change) {
        on_change();
    }
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
