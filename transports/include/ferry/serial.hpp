#pragma once
/// Serial ports as transports: options, the SerialTransport interface and the factory.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/result.hpp>
#include <ferry/task.hpp>
#include <ferry/transport.hpp>

namespace ferry {

/// Parity bit of each character.
enum class Parity { none, even, odd, mark, space };
/// Stop bits after each character (1.5 exists only with 5 data bits).
enum class StopBits { one, one_and_half, two };
/// How the two ends pace each other.
enum class FlowControl { none, rts_cts, xon_xoff, dsr_dtr };
/// What to do with a modem output line (DTR, RTS) when the port opens.
enum class LineOnOpen {
    /// Leave it as the driver sets it (Linux raises both on open).
    leave,
    /// Assert it (set).
    set,
    /// Deassert it (clear), e.g. to keep a board that resets on DTR out of reset.
    clear,
};

/// RS-485 direction control, for drivers that support TIOCSRS485.
struct Rs485Options {
    /// RTS level while sending (true = logical high).
    bool rts_on_send = true;
    /// RTS level after sending.
    bool rts_after_send = false;
    /// Delay between asserting RTS and the first bit.
    std::chrono::milliseconds delay_before_send{0};
    /// Delay between the last bit and releasing RTS.
    std::chrono::milliseconds delay_after_send{0};
    /// Keep receiving while sending (full-duplex transceivers, or to see one's own echo).
    bool receive_during_send = false;
};

/// Everything that configures a serial port. Validated before the port is opened.
struct SerialOptions {
    /// Bits per second: any positive integer (non-standard rates use termios2 on Linux).
    std::uint32_t baud_rate = 9600;
    /// Data bits per character: 5, 6, 7 or 8.
    int data_bits = 8;
    /// Parity bit.
    Parity parity = Parity::none;
    /// Stop bits.
    StopBits stop_bits = StopBits::one;
    /// Flow control.
    FlowControl flow_control = FlowControl::none;
    /// Refuse to share the port: TIOCEXCL plus flock; a second opener gets "port is busy".
    bool exclusive = true;
    /// DTR on open.
    LineOnOpen dtr = LineOnOpen::leave;
    /// RTS on open.
    LineOnOpen rts = LineOnOpen::leave;
    /// Drop DTR/RTS when the last descriptor closes (HUPCL). Off: closing leaves the lines.
    bool hang_up_on_close = false;
    /// Ask the driver for low latency (ASYNC_LOW_LATENCY; FTDI's 16 ms timer becomes 1 ms).
    bool low_latency = false;
    /// RS-485 mode; the port refuses to open if the driver does not support it.
    std::optional<Rs485Options> rs485{};
    /// Discard bytes that were waiting in the OS's receive queue when the port opens (as
    /// pyserial and miniterm do), so stale output from before the open is not taken for fresh
    /// data. Off by default: nothing received is dropped unless asked.
    bool discard_input_on_open = false;
    /// Put back the line settings the port had before it was opened when the transport
    /// closes, after what was written has left the UART (as ser2net does for the devices it
    /// serves; waited for without blocking, at most 5 s). Off: the port keeps ferry's.
    bool restore_on_close = false;
};

/// Throws ferry::Error(invalid_argument) naming the first invalid option, or
/// Error(not_supported) for an option this platform cannot honour (DSR/DTR flow on Linux).
void validate(const SerialOptions& options);
/// Seconds one character takes on the wire: start + data + parity + stop bits over the rate.
double character_time(const SerialOptions& options) noexcept;
/// A one-line summary such as "115200 8N1 rts/cts".
std::string describe(const SerialOptions& options);

/// The modem input lines.
struct ModemStatus {
    /// Clear To Send.
    bool cts = false;
    /// Data Set Ready.
    bool dsr = false;
    /// Ring Indicator.
    bool ri = false;
    /// Carrier Detect.
    bool cd = false;
    /// Field-wise equality.
    friend bool operator==(const ModemStatus&, const ModemStatus&) = default;
};

/// Which buffers purge() empties.
enum class Purge { input, output, both };

/// Called when an asynchronous serial operation finishes; empty code = success.
using SerialCallback = std::function<void(std::error_code)>;

/// A serial port as a Transport: the whole contract (flow control, pause/resume reading, close
/// flushes, abort drops) plus the serial controls. Loop thread only. A vanished device ends the
/// connection with connection_lost(errc::device_removed).
class SerialTransport : public Transport {
public:
    /// The device path it was opened with.
    virtual const std::string& path() const noexcept = 0;
    /// The options in effect: the line settings as the device holds them, read back after
    /// applying (a driver may round the rate).
    virtual const SerialOptions& options() const noexcept = 0;
    /// Applies new options to the open port (e.g. another baud rate) without reopening.
    /// Bytes already queued are sent with the new settings: to switch only after they have
    /// left (a "change speed" command), co_await drain_to_wire() first. Throws ferry::Error: an
    /// invalid option, or Error(not_supported) naming a setting the device refused (its previous
    /// settings are then put back).
    virtual void reconfigure(const SerialOptions& options) = 0;

    /// Sets or clears RTS. Throws ferry::Error(not_supported) on devices without modem lines.
    virtual void set_rts(bool on) = 0;
    /// Sets or clears DTR. Throws ferry::Error(not_supported) on devices without modem lines.
    virtual void set_dtr(bool on) = 0;
    /// Reads CTS, DSR, RI and CD. Throws ferry::Error(not_supported) without modem lines.
    virtual ModemStatus modem_status() const = 0;
    /// Waits (on the executor, with TIOCMIWAIT) until one of the lines set in `watch` changes,
    /// then yields the new status. Cancellable. Not supported by every driver. On POSIX the wait
    /// holds one of libuv's thread-pool threads (4 unless UV_THREADPOOL_SIZE says more) for as
    /// long as it lasts: size the pool for the ports watched at once.
    virtual Task<ModemStatus> wait_modem_change(ModemStatus watch) = 0;

    /// Holds the line in break for `duration` without blocking the loop; writes made meanwhile
    /// are sent afterwards. `done` runs once the break has ended.
    virtual void send_break(std::chrono::milliseconds duration, SerialCallback done) = 0;
    /// Awaitable send_break.
    Task<void> send_break(std::chrono::milliseconds duration);
    /// Holds the line in break (true) until set_break(false), which also ends a send_break
    /// early; writes made meanwhile are sent afterwards. For RFC 2217's BREAK ON / OFF.
    /// Throws ferry::Error when the device refuses.
    virtual void set_break(bool on) = 0;
    /// Discards received-but-unread bytes, unsent bytes (the transport's queue and the OS's),
    /// or both.
    virtual void purge(Purge which) = 0;
    /// True when not reading makes the sender wait rather than lose bytes: flow control is on
    /// (RTS/CTS, XON/XOFF), or the port is a pseudo-terminal, whose writer blocks. A bridge
    /// pauses such a port when the other side is full; any other it reads into a bounded
    /// buffer (a UART would overrun, unseen).
    virtual bool pauses_sender() const noexcept = 0;
    /// Bytes received by the OS and not yet read.
    virtual std::size_t input_waiting() const = 0;
    /// Bytes in the OS transmit queue (not counting write_buffer_size()).
    virtual std::size_t output_waiting() const = 0;
    /// Calls `done` once everything written so far has left the UART: the transport's queue
    /// is empty and the OS transmit queue (TIOCOUTQ) has drained, waited for with a timer
    /// sized from the baud rate. No thread, no busy poll. `done` gets an error if the port
    /// closes or fails first.
    virtual void drain_to_wire(SerialCallback done) = 0;
    /// Awaitable drain_to_wire; throws ConnectionResetError if the port is lost first.
    Task<void> drain_to_wire();

protected:
    using Transport::Transport;
};

/// Opens the serial port at `path` (e.g. /dev/ttyUSB0), configures it and starts reading;
/// connection_made has run on return. Fails with a message a user can act on: no such
/// device, permission denied (the dialout group), port busy, not a serial port, or the
/// option the device refused (read back after applying: "/dev/pts/3 refused parity even: it
/// holds 9600 8N1 after applying 9600 8E1 ..."). serial_error_may_clear() tells which of
/// these a retry can fix.
Result<std::shared_ptr<SerialTransport>> create_serial_connection(Loop& loop,
                                                                  ProtocolFactory factory,
                                                                  std::string path,
                                                                  SerialOptions options = {});

/// True for the open failures that can clear by themselves, so retrying makes sense: no such
/// port (not plugged in yet), port busy, device not present, device removed, I/O error while
/// the device goes away. False for the rest (not a serial port, a refused setting, permission
/// denied, an invalid option), which a retry only repeats.
bool serial_error_may_clear(std::error_code error) noexcept;

} // namespace ferry
