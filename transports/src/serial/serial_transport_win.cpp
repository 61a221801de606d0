// WindowsSerialTransport: a COM port over overlapped I/O and the loop's completion port.
#include "serial/serial_transport_win.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <ferry/detail/loop_access.hpp>
#include <ferry/error.hpp>
#include <ferry/log.hpp>

#include "serial/serial_common.hpp"
#include "serial/serial_errors_win.hpp"

namespace ferry::detail {
namespace {

// The largest read handed to the driver at once (what ClearCommError reports may be more).
constexpr DWORD max_read = 64 * 1024;
// The most one overlapped write hands over: what is not handed over yet stays in the queue,
// where abort() and purge() drop it, and a cancelled write has little to give back.
constexpr std::size_t max_write = 64 * 1024;
// Driver queue sizes asked for with SetupComm: the defaults (4 KiB on many drivers) overrun
// at high rates while the loop is busy.
constexpr DWORD driver_queue = 64 * 1024;
// How long close() waits for the driver's output queue to empty before closing anyway.
constexpr std::uint64_t close_drain_wait_ms = 5000;
// How long closing waits for cancelled operations before closing the handle to end them.
constexpr std::uint64_t cancel_overdue_ms = 2000;

WindowsSerialTransport& transport_of(uv_handle_t* handle) {
    return *static_cast<WindowsSerialTransport*>(handle->data);
}

[[noreturn]] void throw_win32(DWORD error, const std::string& path, const std::string& doing) {
    switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        throw Error(win32_error(error),
                    "no such serial port: " + path + " (is the device plugged in?)");
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
        throw Error(uv_error(UV_EBUSY), "port is busy: " + path +
                                            " is open in another program (Windows opens a serial "
                                            "port for one program at a time)");
    default:
        throw Error(win32_error(error), doing + " " + path + ": " + win32_message(error));
    }
}

/// "COM7" -> "\\.\COM7" (COM10 and above open only in that form); other paths as given.
std::wstring device_name(const std::string& path) {
    std::string full = path;
    if (full.rfind("\\\\", 0) != 0) {
        full = "\\\\.\\" + full;
    }
    const int length = MultiByteToWideChar(CP_UTF8, 0, full.c_str(), -1, nullptr, 0);
    std::wstring wide(static_cast<std::size_t>(std::max(length, 1)), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, full.c_str(), -1, wide.data(), length);
    wide.resize(wide.size() - 1);
    return wide;
}

/// The DCB for `options` over `dcb` (the driver's current one), with the output lines as
/// `dtr_on` / `rts_on` unless flow control drives them.
void fill_dcb(DCB& dcb, const SerialOptions& options, bool dtr_on, bool rts_on) {
    dcb.BaudRate = options.baud_rate;
    dcb.ByteSize = static_cast<BYTE>(options.data_bits);
    switch (options.parity) {
    case Parity::none:
        dcb.Parity = NOPARITY;
        break;
    case Parity::even:
        dcb.Parity = EVENPARITY;
        break;
    case Parity::odd:
        dcb.Parity = ODDPARITY;
        break;
    case Parity::mark:
        dcb.Parity = MARKPARITY;
        break;
    case Parity::space:
        dcb.Parity = SPACEPARITY;
        break;
    }
    switch (options.stop_bits) {
    case StopBits::one:
        dcb.StopBits = ONESTOPBIT;
        break;
    case StopBits::one_and_half:
        dcb.StopBits = ONE5STOPBITS;
        break;
    case StopBits::two:
        dcb.StopBits = TWOSTOPBITS;
        break;
    }
    dcb.fBinary = TRUE;
    dcb.fParity = options.parity != Parity::none;
    const bool rts_cts = options.flow_control == FlowControl::rts_cts;
    const bool dsr_dtr = options.flow_control == FlowControl::dsr_dtr;
    const bool xon_xoff = options.flow_control == FlowControl::xon_xoff;
    dcb.fOutxCtsFlow = rts_cts;
    dcb.fRtsControl =
        rts_cts ? RTS_CONTROL_HANDSHAKE : (rts_on ? RTS_CONTROL_ENABLE : RTS_CONTROL_DISABLE);
    dcb.fOutxDsrFlow = dsr_dtr;
    dcb.fDtrControl =
        dsr_dtr ? DTR_CONTROL_HANDSHAKE : (dtr_on ? DTR_CONTROL_ENABLE : DTR_CONTROL_DISABLE);
    dcb.fDsrSensitivity = FALSE;
    dcb.fTXContinueOnXoff = TRUE;
    dcb.fOutX = xon_xoff;
    dcb.fInX = xon_xoff;
    dcb.XonChar = 0x11;
    dcb.XoffChar = 0x13;
    dcb.XonLim = static_cast<WORD>(driver_queue / 4);
    dcb.XoffLim = static_cast<WORD>(driver_queue / 4);
    dcb.fErrorChar = FALSE;
    dcb.fNull = FALSE;
    dcb.fAbortOnError = FALSE; // an error would otherwise stop all I/O until ClearCommError
}

bool line_on(LineOnOpen wanted, bool otherwise) {
    return wanted == LineOnOpen::leave ? otherwise : wanted == LineOnOpen::set;
}

} // namespace

// ---- opening ---------------------------------------------------------------------------

std::shared_ptr<WindowsSerialTransport> WindowsSerialTransport::open(Loop& loop, std::string path,
                                                                     SerialOptions options) {
    if (LoopAccess::is_shutting_down(loop)) {
        throw Error(make_error_code(errc::loop_closed), "the loop is closing");
    }
    validate(options);
    if (options.rs485) {
        throw Error(make_error_code(errc::not_supported),
                    "rs485 on " + path +
                        ": Windows drivers have no RS-485 setting through the "
                        "serial API (configure it in the adapter's driver)");
    }
    const HANDLE handle = CreateFileW(device_name(path).c_str(), GENERIC_READ | GENERIC_WRITE, 0,
                                      nullptr, OPEN_EXISTING, FILE_FLAG_OVERLAPPED, nullptr);
    if (handle == INVALID_HANDLE_VALUE) {
        throw_win32(GetLastError(), path, "opening");
    }
    std::shared_ptr<CompletionPort> port;
    std::shared_ptr<WindowsSerialTransport> transport;
    try {
        port = CompletionPort::of(loop);
        port->associate(handle, path);
        transport = std::make_shared<WindowsSerialTransport>(loop, path, options, handle, port);
    } catch (...) {
        CloseHandle(handle);
        throw;
    }
    // From here the transport owns the handle; a failure closes it through discard().
    try {
        if (options.restore_on_close) {
            DCB previous{};
            previous.DCBlength = sizeof previous;
            if (!GetCommState(handle, &previous)) {
                throw_win32(GetLastError(), path, "reading the settings to restore");
            }
            transport->previous_settings_ = previous;
        }
        SetupComm(handle, driver_queue, driver_queue); // a hint; drivers may keep theirs
        COMMTIMEOUTS timeouts{}; // all zero: a read waits for the bytes it asks for
        if (!SetCommTimeouts(handle, &timeouts)) {
            throw_win32(GetLastError(), path, "setting the timeouts of");
        }
        // The first SetCommState sets DTR/RTS as asked, so a board that resets on DTR is not
        // pulsed by a default-then-change sequence.
        transport->dtr_on_ = line_on(options.dtr, true);
        transport->rts_on_ = line_on(options.rts, true);
        transport->apply(options);
        if (options.discard_input_on_open && !PurgeComm(handle, PURGE_RXCLEAR)) {
            throw_win32(GetLastError(), path, "discarding waiting input on");
        }
    } catch (...) {
        transport->discard();
        throw;
    }
    transport->adopt(transport); // the loop owns it while it is open, and closes it with itself
    return transport;
}

WindowsSerialTransport::WindowsSerialTransport(Loop& loop, std::string path, SerialOptions options,
                                               HANDLE handle, std::shared_ptr<CompletionPort> port)
    : TransportCore(loop), handle_(handle), port_(std::move(port)), path_(std::move(path)),
      options_(std::move(options)) {
    for (CompletionOperation* operation : {&read_op_, &write_op_, &modem_op_}) {
        operation->owner = this;
    }
    read_op_.on_complete = [](CompletionOperation& op, DWORD bytes, DWORD error) {
        static_cast<WindowsSerialTransport*>(op.owner)->on_read(bytes, error);
    };
    write_op_.on_complete = [](CompletionOperation& op, DWORD bytes, DWORD error) {
        static_cast<WindowsSerialTransport*>(op.owner)->on_write(bytes, error);
    };
    modem_op_.on_complete = [](CompletionOperation& op, DWORD, DWORD error) {
        static_cast<WindowsSerialTransport*>(op.owner)->on_modem_event(error);
    };
    uv_timer_init(LoopAccess::native(loop), &break_timer_);
    uv_timer_init(LoopAccess::native(loop), &drain_timer_);
    break_timer_.data = this;
    drain_timer_.data = this;
    open_timers_ = 2;
}

WindowsSerialTransport::~WindowsSerialTransport() = default;

void WindowsSerialTransport::start(std::unique_ptr<Protocol> protocol) {
    log().debug("{} open at {}", path_, describe(options_));
    TransportCore::start(std::move(protocol));
}

void WindowsSerialTransport::apply(const SerialOptions& options) {
    DCB dcb{};
    dcb.DCBlength = sizeof dcb;
    if (!GetCommState(handle_, &dcb)) {
        throw_win32(GetLastError(), path_, "reading the settings of");
    }
    fill_dcb(dcb, options, dtr_on_, rts_on_);
    if (!SetCommState(handle_, &dcb)) {
        const DWORD error = GetLastError();
        if (error == ERROR_INVALID_PARAMETER) {
            throw Error(make_error_code(errc::invalid_argument),
                        "the driver of " + path_ + " refused " + describe(options));
        }
        throw_win32(error, path_, "applying " + describe(options) + " to");
    }
}

// ---- reading ---------------------------------------------------------------------------

bool WindowsSerialTransport::start_reading() noexcept {
    if (held_begin_ < held_end_) {
        schedule_delivery(); // what the last read brought while paused goes first
    } else {
        issue_read();
    }
    return state() == State::open;
}

void WindowsSerialTransport::issue_read() noexcept {
    if (read_op_.pending || closing_ || state() != State::open || !is_reading() ||
        held_begin_ < held_end_) {
        return;
    }
    DWORD errors = 0;
    COMSTAT status{};
    DWORD wanted = 1; // nothing waiting: a 1-byte read completes when the first byte comes
    if (ClearCommError(handle_, &errors, &status) && status.cbInQue > 0) {
        wanted = std::min(status.cbInQue, max_read);
    }
    if (reading_.size() < wanted) {
        reading_.resize(wanted);
    }
    if (!ReadFile(handle_, reading_.data(), wanted, nullptr, read_op_.begin(handle_))) {
        const DWORD error = GetLastError();
        if (error != ERROR_IO_PENDING) {
            read_op_.pending = false;
            fail(io_error(error));
        }
    }
    // A read that completed at once still posts its completion: on_read handles both.
}

void WindowsSerialTransport::on_read(DWORD bytes, DWORD error) noexcept {
    if (closing_) {
        release_when_idle();
        return;
    }
    if (error != 0 && error != ERROR_MORE_DATA) {
        fail(io_error(error));
        return;
    }
    held_begin_ = 0;
    held_end_ = bytes;
    deliver_held();
    issue_read();
}

void WindowsSerialTransport::deliver_held() noexcept {
    while (held_begin_ < held_end_ && state() == State::open && is_reading()) {
        const std::span<std::byte> space = read_space();
        const std::size_t n = std::min(space.size(), held_end_ - held_begin_);
        std::memcpy(space.data(), reading_.data() + held_begin_, n);
        held_begin_ += n;
        delivered(n);
    }
    if (held_begin_ >= held_end_) {
        held_begin_ = held_end_ = 0;
    }
}

void WindowsSerialTransport::schedule_delivery() noexcept {
    // Not from inside resume_reading(): data_received never runs inside a call the protocol
    // made (the POSIX transport's data also comes from the next loop turn).
    if (delivery_scheduled_) {
        return;
    }
    delivery_scheduled_ = true;
    loop().call_soon([weak = std::weak_ptr<Transport>(shared_from_this()), this] {
        if (weak.expired()) {
            return;
        }
        delivery_scheduled_ = false;
        deliver_held();
        issue_read();
    });
}

// ---- writing ---------------------------------------------------------------------------

void WindowsSerialTransport::send_queued() noexcept {
    if (in_break_ || write_op_.pending || closing_) {
        return; // end_break() or the completion sends it
    }
    ByteView front;
    if (queue().gather(std::span<ByteView>(&front, 1)) == 0) {
        return;
    }
    const auto size = static_cast<DWORD>(std::min(front.size(), max_write));
    queue().begin_flight(1);
    if (!WriteFile(handle_, front.data(), size, nullptr, write_op_.begin(handle_))) {
        const DWORD error = GetLastError();
        if (error != ERROR_IO_PENDING) {
            write_op_.pending = false;
            send_completed(0, io_error(error));
            return;
        }
    }
    sent_since_drain_ = true;
}

void WindowsSerialTransport::on_write(DWORD bytes, DWORD error) noexcept {
    if (purging_output_) {
        // purge(output) aborted this write: what is queued goes too.
        purging_output_ = false;
        queue().clear();
        if (!closing_) {
            send_from_queue(); // nothing to send: settles water marks, drains, a pending close
        }
    } else if (closing_) {
        send_completed(bytes, make_error_code(std::errc::operation_canceled));
    } else {
        send_completed(bytes, error == 0 ? std::error_code() : io_error(error));
    }
    if (closing_) {
        release_when_idle();
    }
}

// ---- errors ----------------------------------------------------------------------------

std::error_code WindowsSerialTransport::io_error(DWORD error) const {
    // Ours come only after closing_ is set, so an ERROR_OPERATION_ABORTED here is not ours.
    return serial_io_failure(error, [this] {
        std::string name = path_;
        if (name.rfind("\\\\.\\", 0) == 0) {
            name = name.substr(4);
        }
        char target[512];
        return QueryDosDeviceA(name.c_str(), target, sizeof target) != 0;
    });
}

void WindowsSerialTransport::require_open(const char* what) const {
    if (state() != State::open) {
        throw Error(closed_error(), std::string(what) + " on " + path_ + ": the port is closed");
    }
}

COMSTAT WindowsSerialTransport::comm_status(const char* what) const {
    DWORD errors = 0;
    COMSTAT status{};
    if (!ClearCommError(handle_, &errors, &status)) {
        const DWORD error = GetLastError();
        throw Error(io_error(error),
                    std::string(what) + " on " + path_ + ": " + win32_message(error));
    }
    return status;
}

// ---- serial controls -------------------------------------------------------------------

void WindowsSerialTransport::reconfigure(const SerialOptions& options) {
    require_open("reconfigure");
    validate(options);
    if (options.rs485) {
        throw Error(make_error_code(errc::not_supported),
                    "rs485 on " + path_ + ": not available through the Windows serial API");
    }
    try {
        apply(options);
    } catch (const Error&) {
        try {
            apply(options_); // a refused change changes nothing (best effort)
        } catch (const Error& e) {
            log().warn("{}: restoring {} after a refused change failed: {}", path_,
                       describe(options_), e.what());
        }
        throw;
    }
    options_ = options;
    log().debug("{} reconfigured to {}", path_, describe(options_));
}

void WindowsSerialTransport::set_rts(bool on) {
    require_open("set_rts");
    if (!EscapeCommFunction(handle_, on ? SETRTS : CLRRTS)) {
        const DWORD error = GetLastError();
        throw Error(io_error(error), "set_rts on " + path_ + ": " + win32_message(error));
    }
    rts_on_ = on;
}

void WindowsSerialTransport::set_dtr(bool on) {
    require_open("set_dtr");
    if (!EscapeCommFunction(handle_, on ? SETDTR : CLRDTR)) {
        const DWORD error = GetLastError();
        throw Error(io_error(error), "set_dtr on " + path_ + ": " + win32_message(error));
    }
    dtr_on_ = on;
}

ModemStatus WindowsSerialTransport::modem_status() const {
    require_open("modem_status");
    return read_modem_lines("modem_status");
}

ModemStatus WindowsSerialTransport::read_modem_lines(const char* what) const {
    DWORD lines = 0;
    if (!GetCommModemStatus(handle_, &lines)) {
        const DWORD error = GetLastError();
        throw Error(make_error_code(errc::not_supported),
                    std::string(what) + " on " + path_ + ": the driver reports no modem lines (" +
                        win32_message(error) + ")");
    }
    return ModemStatus{(lines & MS_CTS_ON) != 0, (lines & MS_DSR_ON) != 0,
                       (lines & MS_RING_ON) != 0, (lines & MS_RLSD_ON) != 0};
}

Task<ModemStatus> WindowsSerialTransport::wait_modem_change(ModemStatus watch) {
    require_open("wait_modem_change");
    std::shared_ptr<Transport> keep_alive = shared_from_this();
    const ModemStatus before = read_modem_lines("wait_modem_change");
    auto changed = [&watch, &before](const ModemStatus& now) {
        return (watch.cts && now.cts != before.cts) || (watch.dsr && now.dsr != before.dsr) ||
               (watch.ri && now.ri != before.ri) || (watch.cd && now.cd != before.cd);
    };
    for (;;) {
        if (!modem_op_.pending) {
            // FTDI's GetCommModemStatus is stale outside a WaitCommEvent completion, so one
            // WaitCommEvent stays pending while anyone waits.
            modem_changed_.clear();
            if (!SetCommMask(handle_, EV_CTS | EV_DSR | EV_RLSD | EV_RING) ||
                (!WaitCommEvent(handle_, &modem_mask_, modem_op_.begin(handle_)) &&
                 GetLastError() != ERROR_IO_PENDING)) {
                const DWORD error = GetLastError();
                modem_op_.pending = false;
                throw Error(make_error_code(errc::not_supported),
                            "wait_modem_change on " + path_ +
                                ": the driver does not report modem-line changes (" +
                                win32_message(error) + ")");
            }
        }
        co_await modem_changed_.wait();
        if (state() != State::open) {
            throw Error(closed_error(), "wait_modem_change on " + path_ + ": the port closed");
        }
        const ModemStatus now = read_modem_lines("wait_modem_change");
        if (changed(now)) {
            co_return now;
        }
    }
}

void WindowsSerialTransport::on_modem_event(DWORD error) noexcept {
    if (closing_) {
        modem_changed_.set();
        release_when_idle();
        return;
    }
    if (error != 0) {
        log().debug("{}: WaitCommEvent ended: {}", path_, win32_message(error));
    }
    modem_changed_.set();
}

void WindowsSerialTransport::send_break(std::chrono::milliseconds duration, SerialCallback done) {
    auto report = [this, &done](std::error_code error) { report_soon(loop(), done, error); };
    if (state() != State::open) {
        report(closed_error());
        return;
    }
    if (in_break_) {
        report(make_error_code(errc::invalid_argument));
        return;
    }
    if (!SetCommBreak(handle_)) {
        report(io_error(GetLastError()));
        return;
    }
    in_break_ = true;
    break_done_ = std::move(done);
    uv_update_time(LoopAccess::native(loop()));
    const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)) + 1;
    uv_timer_start(
        &break_timer_,
        [](uv_timer_t* timer) { transport_of(reinterpret_cast<uv_handle_t*>(timer)).end_break(); },
        ms, 0);
}

void WindowsSerialTransport::end_break() noexcept {
    const std::error_code error =
        ClearCommBreak(handle_) ? std::error_code() : io_error(GetLastError());
    in_break_ = false;
    if (SerialCallback done = std::move(break_done_)) {
        invoke_guarded(loop(), "exception in send_break callback", [&] { done(error); });
    }
    if ((state() == State::open || state() == State::closing) && !queue().empty() &&
        !queue().in_flight()) {
        send_queued(); // what was written during the break
    }
}

void WindowsSerialTransport::set_break(bool on) {
    require_open("set_break");
    if (!(on ? SetCommBreak(handle_) : ClearCommBreak(handle_))) {
        const DWORD error = GetLastError();
        throw Error(io_error(error), "set_break on " + path_ + ": " + win32_message(error));
    }
}

void WindowsSerialTransport::purge(Purge which) {
    require_open("purge");
    DWORD flags = 0;
    if (which != Purge::output) {
        flags |= PURGE_RXCLEAR;
    }
    if (which != Purge::input) {
        flags |= PURGE_TXCLEAR | PURGE_TXABORT;
        if (write_op_.pending) {
            purging_output_ = true; // on_write clears the queue once the write is back
        } else {
            queue().clear();
        }
    }
    if (!PurgeComm(handle_, flags)) {
        const DWORD error = GetLastError();
        throw Error(io_error(error), "purge on " + path_ + ": " + win32_message(error));
    }
    if (which != Purge::input && !purging_output_) {
        send_from_queue(); // nothing to send: settles water marks, drains, a pending close
    }
}

std::size_t WindowsSerialTransport::input_waiting() const {
    require_open("input_waiting");
    return comm_status("input_waiting").cbInQue + (held_end_ - held_begin_);
}

std::size_t WindowsSerialTransport::output_waiting() const {
    require_open("output_waiting");
    return comm_status("output_waiting").cbOutQue;
}

// ---- drain_to_wire ---------------------------------------------------------------------

void WindowsSerialTransport::drain_to_wire(SerialCallback done) {
    if (state() != State::open) {
        loop().call_soon([done = std::move(done)] {
            if (done) {
                done(closed_error());
            }
        });
        return;
    }
    drain_waiters_.push_back(std::move(done));
    if (!drain_timer_running_) {
        // Checked from a zero timer, not here: a callback never runs inside drain_to_wire().
        drain_timer_running_ = true;
        uv_timer_start(
            &drain_timer_,
            [](uv_timer_t* timer) {
                auto& self = transport_of(reinterpret_cast<uv_handle_t*>(timer));
                self.drain_timer_running_ = false;
                self.check_drain();
            },
            0, 0);
    }
}

void WindowsSerialTransport::check_drain() noexcept {
    if (lingering_) {
        check_linger();
        return;
    }
    if (drain_waiters_.empty() || drain_timer_running_ || state() != State::open ||
        !queue().empty()) {
        return; // queue_drained() calls again once the queue is empty
    }
    // EV_TXEMPTY is unreliable on USB drivers: the driver's output queue is read instead, and
    // one character time more covers the shift register.
    DWORD errors = 0;
    COMSTAT status{};
    std::uint64_t wait_ms = 0;
    if (ClearCommError(handle_, &errors, &status) && status.cbOutQue > 0) {
        wait_ms = wire_time_ms(status.cbOutQue, options_);
    } else if (sent_since_drain_) {
        sent_since_drain_ = false;
        wait_ms = wire_time_ms(1, options_);
    }
    if (wait_ms > 0) {
        drain_timer_running_ = true;
        uv_timer_start(
            &drain_timer_,
            [](uv_timer_t* timer) {
                auto& self = transport_of(reinterpret_cast<uv_handle_t*>(timer));
                self.drain_timer_running_ = false;
                self.check_drain();
            },
            wait_ms, 0);
        return;
    }
    finish_drains({});
}

void WindowsSerialTransport::finish_drains(std::error_code error) noexcept {
    detail::finish_drains(loop(), drain_waiters_, error);
}

// ---- closing ---------------------------------------------------------------------------

void WindowsSerialTransport::close_handles() noexcept {
    // close() drains to the wire first: closing a handle right after a write truncates the
    // output on cp210x and Prolific adapters. Bounded; abort() stops the wait.
    if (closing_after_flush() && sent_since_drain_) {
        lingering_ = true;
        linger_deadline_ = uv_now(LoopAccess::native(loop())) + close_drain_wait_ms;
        check_linger();
        return;
    }
    close_now();
}

void WindowsSerialTransport::check_linger() noexcept {
    DWORD errors = 0;
    COMSTAT status{};
    const bool queued = ClearCommError(handle_, &errors, &status) && status.cbOutQue > 0;
    if (!queued || uv_now(LoopAccess::native(loop())) >= linger_deadline_) {
        close_now();
        return;
    }
    uv_timer_start(
        &drain_timer_,
        [](uv_timer_t* timer) {
            transport_of(reinterpret_cast<uv_handle_t*>(timer)).check_linger();
        },
        std::min<std::uint64_t>(wire_time_ms(status.cbOutQue, options_) + 1, 50), 0);
}

void WindowsSerialTransport::stop_lingering() noexcept {
    if (lingering_) {
        close_now();
    } else if (closing_ && LoopAccess::is_shutting_down(loop())) {
        // Loop::close() while cancelled operations were on their way back: they will not
        // reach the loop any more, so wait for them here.
        wait_for_cancelled_operations();
        release_when_idle();
    }
}

void WindowsSerialTransport::wait_for_cancelled_operations() noexcept {
    for (CompletionOperation* operation : {&read_op_, &write_op_, &modem_op_}) {
        CompletionPort::wait_cancelled(*operation);
    }
}

void WindowsSerialTransport::close_now() noexcept {
    lingering_ = false;
    closing_ = true;
    finish_drains(loss_reason() ? loss_reason() : closed_error());
    if (in_break_) {
        ClearCommBreak(handle_); // never leave the line in break
        in_break_ = false;
    }
    if (previous_settings_) {
        SetCommState(handle_, &*previous_settings_);
        previous_settings_.reset();
    }
    bool awaiting_cancellations = false;
    if (operations_pending()) {
        CancelIoEx(handle_, nullptr); // each completion still comes back, cancelled
        if (LoopAccess::is_shutting_down(loop())) {
            wait_for_cancelled_operations(); // completions no longer reach the loop
        } else {
            awaiting_cancellations = true;
        }
    }
    modem_changed_.set(); // a modem wait ends with "closed"
    close_timer(break_timer_);
    if (awaiting_cancellations) {
        // Bounded: Wine, on a loaded machine, was seen to lose the cancellation of a write
        // blocked on a full pty. If the operations are not back in time, closing the handle
        // ends them; the drain timer closes once they are back (release_when_idle).
        uv_timer_start(
            &drain_timer_,
            [](uv_timer_t* timer) {
                transport_of(reinterpret_cast<uv_handle_t*>(timer)).end_overdue_operations();
            },
            cancel_overdue_ms, 0);
    } else {
        close_timer(drain_timer_);
    }
}

void WindowsSerialTransport::close_timer(uv_timer_t& timer) noexcept {
    auto* handle = reinterpret_cast<uv_handle_t*>(&timer);
    if (uv_is_closing(handle) != 0) {
        return;
    }
    uv_close(handle, [](uv_handle_t* closed) {
        auto& self = transport_of(closed);
        --self.open_timers_;
        self.release_when_idle();
    });
}

void WindowsSerialTransport::end_overdue_operations() noexcept {
    if (!operations_pending() || handle_closed_early_) {
        return;
    }
    log().warn("{}: cancelled I/O not back after {} ms; closing the port to end it", path_,
               cancel_overdue_ms);
    CloseHandle(handle_); // what is pending on it completes, aborted
    handle_closed_early_ = true;
}

void WindowsSerialTransport::release_when_idle() noexcept {
    if (operations_pending() || handle_ == INVALID_HANDLE_VALUE) {
        return;
    }
    if (closing_) {
        close_timer(drain_timer_); // it may have been bounding the cancellations
    }
    if (open_timers_ > 0) {
        return;
    }
    if (SerialCallback done = std::move(break_done_)) {
        invoke_guarded(loop(), "exception in send_break callback", [&] { done(closed_error()); });
    }
    if (!handle_closed_early_) {
        CloseHandle(handle_);
    }
    handle_ = INVALID_HANDLE_VALUE;
    port_.reset();
    handles_closed(); // connection_lost; may free this object
}

} // namespace ferry::detail
