#pragma once
// WindowsSerialTransport: SerialTransport over a COM port opened for overlapped I/O, its
// completions delivered by the loop's CompletionPort. Private to ferry::transports; Windows.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// uv.h first: it includes winsock2.h, which must come before windows.h.
#include <uv.h>

#include <windows.h>

#include <ferry/serial.hpp>
#include <ferry/sync.hpp>

#include "core/transport_core.hpp"
#include "serial/completion_port_win.hpp"

namespace ferry::detail {

/// SerialTransport on the transport core as a completion backend. One read is always pending
/// while reading: a 1-byte overlapped ReadFile when the driver holds nothing, else one for the
/// bytes ClearCommError reports (timeouts 0/0/0: the pattern that behaves alike on Windows
/// and Wine). Writes are overlapped WriteFiles of the write queue's front chunk. Reading
/// paused leaves the pending read in place; what it brings is held (at most one read) and
/// delivered on resume. Closing cancels what is pending and closes the handle once every
/// completion has come back. Removal errors end it with errc::device_removed.
class WindowsSerialTransport final : public TransportCore<SerialTransport> {
public:
    /// Opens and configures `path` ("COM7" or "\\.\COM7"); throws ferry::Error.
    static std::shared_ptr<WindowsSerialTransport> open(Loop& loop, std::string path,
                                                        SerialOptions options);
    WindowsSerialTransport(Loop& loop, std::string path, SerialOptions options, HANDLE handle,
                           std::shared_ptr<CompletionPort> port); // open()
    ~WindowsSerialTransport() override;

    /// Attaches the protocol, calls connection_made and starts reading.
    void start(std::unique_ptr<Protocol> protocol);
    /// Closes a transport that never started; no protocol callback is made.
    using TransportCore::discard;

    // Transport
    bool can_write_eof() const noexcept override { return false; }
    NativeHandle native_handle() const noexcept override { return handle_; }

    // SerialTransport
    const std::string& path() const noexcept override { return path_; }
    const SerialOptions& options() const noexcept override { return options_; }
    void reconfigure(const SerialOptions& options) override;
    void set_rts(bool on) override;
    void set_dtr(bool on) override;
    ModemStatus modem_status() const override;
    Task<ModemStatus> wait_modem_change(ModemStatus watch) override;
    using SerialTransport::send_break;
    void send_break(std::chrono::milliseconds duration, SerialCallback done) override;
    void set_break(bool on) override;
    void purge(Purge which) override;
    bool pauses_sender() const noexcept override {
        return options_.flow_control != FlowControl::none;
    }
    std::size_t input_waiting() const override;
    std::size_t output_waiting() const override;
    using SerialTransport::drain_to_wire;
    void drain_to_wire(SerialCallback done) override;

private:
    // The backend's part of the core.
    std::ptrdiff_t write_now(const ByteView*, std::size_t) noexcept override {
        return 0; // every write is overlapped: the core queues it and calls send_queued()
    }
    void send_queued() noexcept override;
    bool start_reading() noexcept override;
    void stop_reading() noexcept override {} // the pending read stays; its bytes are held
    void close_handles() noexcept override;
    void stop_lingering() noexcept override;
    void queue_drained() noexcept override { check_drain(); }
    std::string log_name() const override { return path_; }

    void require_open(const char* what) const;
    void issue_read() noexcept;
    void on_read(DWORD bytes, DWORD error) noexcept;
    void deliver_held() noexcept;
    void schedule_delivery() noexcept;
    void on_write(DWORD bytes, DWORD error) noexcept;
    void on_modem_event(DWORD error) noexcept;
    COMSTAT comm_status(const char* what) const;
    std::error_code io_error(DWORD error) const;
    /// True while a read, write or modem wait is with the driver.
    bool operations_pending() const noexcept {
        return read_op_.pending || write_op_.pending || modem_op_.pending;
    }
    /// Closes `timer` (once); its close callback counts it down and tries to release.
    void close_timer(uv_timer_t& timer) noexcept;
    /// Cancelled operations are overdue: close the handle, which ends them.
    void end_overdue_operations() noexcept;
    /// GetCommModemStatus; throws Error(not_supported) naming `what` where there are no lines.
    ModemStatus read_modem_lines(const char* what) const;
    void apply(const SerialOptions& options);
    void check_drain() noexcept;
    void finish_drains(std::error_code error) noexcept;
    void end_break() noexcept;
    void check_linger() noexcept;
    void close_now() noexcept;
    void wait_for_cancelled_operations() noexcept; // Loop::close() only
    void release_when_idle() noexcept;

    HANDLE handle_;
    std::shared_ptr<CompletionPort> port_;
    std::string path_;
    SerialOptions options_;
    CompletionOperation read_op_;
    CompletionOperation write_op_;
    CompletionOperation modem_op_;
    DWORD modem_mask_ = 0;           // what WaitCommEvent reported
    std::vector<std::byte> reading_; // the pending read's memory
    std::size_t held_begin_ = 0;     // reading_[held_begin_, held_end_) awaits delivery
    std::size_t held_end_ = 0;
    bool delivery_scheduled_ = false;
    bool dtr_on_ = true; // the output lines as last set (Windows raises both on open)
    bool rts_on_ = true;
    bool in_break_ = false;
    bool purging_output_ = false;      // PurgeComm aborted the write in flight
    bool closing_ = false;             // close_handles() ran: completions now only count down
    bool handle_closed_early_ = false; // end_overdue_operations() closed it
    bool lingering_ = false;           // close waits for the driver's output queue to empty
    std::uint64_t linger_deadline_ = 0;
    uv_timer_t break_timer_{};
    uv_timer_t drain_timer_{};
    int open_timers_ = 0;
    bool drain_timer_running_ = false;
    bool sent_since_drain_ = false;
    std::vector<SerialCallback> drain_waiters_;
    SerialCallback break_done_;
    Event modem_changed_;
    std::optional<DCB> previous_settings_; // restore_on_close
};

} // namespace ferry::detail
