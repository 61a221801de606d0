#pragma once
// The POSIX serial device underneath SerialTransport: opening with errors a user can act on,
// termios configuration, modem lines, break, purge and queue sizes. Private to
// ferry::transports. Every function throws ferry::Error naming the port and what failed.

#include <termios.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include <ferry/serial.hpp>

namespace ferry::detail {

/// Opens `path` non-blocking, raw, VMIN = VTIME = 0, with `options` applied (exclusive
/// access, lines on open, low latency, RS-485). Returns the descriptor; `options` is updated to
/// what the device holds (configure_serial_device). With `previous`, the settings found before
/// configuring are stored there first (restore_previous_settings puts them back).
struct PreviousSettings;
int open_serial_device(const std::string& path, SerialOptions& options,
                       PreviousSettings* previous = nullptr);
/// A port's line settings as found, rate included (a non-standard one needs termios2).
struct PreviousSettings {
    termios settings{};
    std::uint32_t baud_rate = 0;
};
/// Puts back what open_serial_device found; failures (a vanished device) are ignored.
void restore_previous_settings(int fd, const PreviousSettings& previous) noexcept;
/// Writes `options` into `settings` (raw mode, speed, bits, parity, stop bits, flow control,
/// HUPCL, VMIN = VTIME = 0). False when the rate has no termios constant (termios2 needed).
bool apply_to_termios(termios& settings, const SerialOptions& options) noexcept;
/// Applies the line settings of `options` (speed, bits, parity, stop bits, flow control,
/// HUPCL) to an open port, at once (TCSANOW), reads back what the device holds and returns
/// it (a driver may round the rate). A setting the device silently dropped (a pty drops
/// parity and data bits) throws Error(not_supported) naming it and what the device holds.
SerialOptions configure_serial_device(int fd, const std::string& path,
                                      const SerialOptions& options);
/// The line settings the device holds now, the other fields copied from `asked`.
SerialOptions read_held_options(int fd, const std::string& path, const SerialOptions& asked);
/// True for either end of a pseudo-terminal.
bool is_pseudo_terminal(int fd) noexcept;
/// Releases exclusive access and closes the descriptor.
void close_serial_device(int fd, bool exclusive) noexcept;

/// Sets (on) or clears one modem output line (TIOCM_RTS or TIOCM_DTR).
void set_modem_line(int fd, const std::string& path, int line, bool on);
/// Reads the modem input lines.
ModemStatus read_modem_status(int fd, const std::string& path);
/// Blocks until a line in `watch` changes (TIOCMIWAIT). Executor threads only. Returns 0 or
/// an errno value (EINTR when interrupted).
int wait_modem_lines(int fd, const ModemStatus& watch) noexcept;
/// Starts (on) or ends a break condition.
void set_break(int fd, const std::string& path, bool on);
/// Discards the input queue, the output queue or both.
void purge_device(int fd, const std::string& path, Purge which);
/// Bytes received and not read (TIOCINQ).
std::size_t device_input_waiting(int fd, const std::string& path);
/// Bytes in the transmit queue (TIOCOUTQ); a pseudo-terminal always reports 0.
std::size_t device_output_waiting(int fd, const std::string& path);

/// Sets a baud rate termios has no constant for (Linux termios2/BOTHER). 0 or -1 (errno).
int set_custom_baud_rate(int fd, std::uint32_t baud_rate) noexcept;
/// The output baud rate as the kernel stores it (termios2), 0 if unknown.
std::uint32_t current_baud_rate(int fd) noexcept;

} // namespace ferry::detail
