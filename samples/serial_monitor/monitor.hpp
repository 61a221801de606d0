#pragma once
// Monitor: the heart of serial_monitor, a small terminal for a serial port (as tio or
// pyserial's miniterm), independent of where keys come from and where output goes.

#include <cstddef>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <ferry/loop.hpp>
#include <ferry/port_watcher.hpp>
#include <ferry/reconnect.hpp>
#include <ferry/serial.hpp>

namespace sample {

/// What to monitor and how to show it.
struct MonitorOptions {
    /// The port, e.g. /dev/ttyUSB0 or a /dev/serial/by-id link (which survives replugging).
    std::string port;
    /// Baud rate, framing, flow control, DTR/RTS on open.
    ferry::SerialOptions serial;
    /// Show received bytes as hex, 16 per line, with their printable characters.
    bool hex = false;
    /// What the Enter key sends: "\r" (as typed), "\n" or "\r\n".
    std::string enter = "\r";
    /// Reopen the port when it comes back after an unplug (else stop when it goes).
    bool reconnect = true;
    /// Show typed keys on the screen too (for devices that do not echo).
    bool echo = false;
    /// Start each received line on screen with the local time, "[12:34:56.789] ".
    bool timestamps = false;
    /// How received line ends are shown: "lf" (as they come), "cr" (a CR alone ends a line)
    /// or "crlf" (CR LF ends a line; a CR on its own is dropped).
    std::string map_in = "lf";
    /// Also append every received byte, as received, to this file (empty: no log).
    std::string log_file;
};

/// How the monitor shows received line ends, parsed from MonitorOptions::map_in.
enum class EolDisplay { as_received, cr_ends_line, crlf_ends_line };

/// Keys to port, port to screen. Ctrl-] quits; Ctrl-T is a menu prefix: b sends a break,
/// h toggles hex, e local echo, t timestamps, r / d toggle RTS / DTR, B then digits and Enter
/// changes the baud rate, c shows the settings, q quits, Ctrl-T sends a literal Ctrl-T. When
/// the port vanishes it says so, waits (a PortWatcher and a Reconnector), and carries on when
/// the port comes back; an error that cannot clear (not a serial port, a refused setting)
/// ends it. Loop thread only.
class Monitor {
public:
    /// Where received bytes go (the screen).
    using Screen = std::function<void(std::string_view)>;
    /// Where status lines go (stderr): connected, removed, errors.
    using Status = std::function<void(const std::string&)>;

    /// Throws ferry::Error for an invalid option or a log file that cannot be opened.
    Monitor(ferry::Loop& loop, MonitorOptions options, Screen screen, Status status);
    ~Monitor();
    Monitor(const Monitor&) = delete;
    Monitor& operator=(const Monitor&) = delete;

    /// Opens the port (retrying if it is not there yet and reconnect is on).
    void start();
    /// Keys typed by the user. Returns false once the user asked to quit.
    bool keys(std::string_view typed);
    /// Closes the port and stops watching.
    void stop();
    /// Called when the monitor stops by itself or the user quits.
    std::function<void()> on_quit;
    /// Called after anything changes (output, status), for scripts that wait on it.
    std::function<void()> on_change;

    /// Times the port was opened.
    int connections() const noexcept { return connections_; }
    /// True while the port is open.
    bool connected() const noexcept;
    /// Bytes received from the port.
    std::size_t bytes_received() const noexcept { return bytes_received_; }
    /// Whether output is shown as hex.
    bool hex() const noexcept { return options_.hex; }
    /// The settings the port holds (read back when it opened or was last changed).
    const ferry::SerialOptions& serial_options() const noexcept { return options_.serial; }
    /// True when the monitor ended because the port failed in a way retrying cannot fix.
    bool failed() const noexcept { return failed_; }

private:
    class PortProtocol;

    void received(std::string_view bytes);
    void show_text(std::string_view bytes);
    void show_hex(std::string_view bytes);
    void change_baud(const std::string& typed);
    void show_settings();
    void send(std::string_view bytes);
    void menu_command(char key);
    void report(const std::string& line);
    void quit();

    ferry::Loop& loop_;
    MonitorOptions options_;
    Screen screen_;
    Status status_;
    std::shared_ptr<ferry::Reconnector> reconnector_;
    std::shared_ptr<ferry::PortWatcher> watcher_;
    EolDisplay eol_display_ = EolDisplay::as_received;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> log_{nullptr, &std::fclose};
    bool menu_prefix_ = false;
    bool entering_baud_ = false;
    std::string typed_baud_;
    bool at_line_start_ = true;
    bool pending_cr_ = false;
    bool failed_ = false;
    bool rts_ = true;
    bool dtr_ = true;
    bool quitting_ = false;
    bool told_waiting_ = false;
    bool told_dropped_ = false;
    int connections_ = 0;
    std::size_t bytes_received_ = 0;
    std::size_t hex_column_ = 0;
    std::string hex_chars_;
};

} // namespace sample
