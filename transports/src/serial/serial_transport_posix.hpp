#pragma once
// PosixSerialTransport: SerialTransport over a tty descriptor watched by one uv_poll_t.
// Private to ferry::transports.

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include <uv.h>

#include <ferry/serial.hpp>

#include "core/transport_core.hpp"
#include "serial/serial_device_posix.hpp"

namespace ferry::detail {

struct ModemWait;

/// Something released together with a serial transport's descriptor (a pty's terminal end and
/// link, see pty_posix.cpp): its destructor does the releasing.
class DescriptorCompanion {
public:
    virtual ~DescriptorCompanion() = default;
    /// Bytes written that the other side has not read yet and that closing would discard
    /// (a pty's kernel drops its terminal's unread input when the device end closes).
    virtual std::size_t unread_by_peer() const noexcept { return 0; }
};

/// SerialTransport on the transport core, over a tty descriptor and one uv_poll_t (a
/// readiness backend): reads when the poll reports readable; writes at once and polls for
/// writable only while bytes remain. Owns three libuv handles (the poll and two timers: break,
/// drain); the core holds the transport until all are closed, the descriptor is closed and
/// connection_lost has run. A hang-up, POLLERR, EIO or ENXIO ends it with
/// errc::device_removed.
class PosixSerialTransport final : public TransportCore<SerialTransport> {
public:
    /// Opens and configures `path`; throws ferry::Error (see open_serial_device).
    static std::shared_ptr<PosixSerialTransport> open(Loop& loop, std::string path,
                                                      SerialOptions options);
    /// Wraps `fd`, a tty already opened and configured as `options` say (a pty's device end);
    /// `companion` is released with the descriptor (what else the tty needs kept open).
    /// Takes ownership of `fd` and closes it on failure. Throws ferry::Error.
    static std::shared_ptr<PosixSerialTransport>
    adopt_descriptor(Loop& loop, std::string path, SerialOptions options, int fd,
                     std::unique_ptr<DescriptorCompanion> companion = nullptr);
    PosixSerialTransport(Loop& loop, std::string path, SerialOptions options, int fd); // open()
    ~PosixSerialTransport() override;

    /// Attaches the protocol, calls connection_made and starts reading.
    void start(std::unique_ptr<Protocol> protocol);
    /// Closes a transport that never started; no protocol callback is made.
    using TransportCore::discard;

    // Transport
    bool can_write_eof() const noexcept override { return false; }
    NativeHandle native_handle() const noexcept override { return fd_; }

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
        return options_.flow_control != FlowControl::none || pseudo_terminal_;
    }
    std::size_t input_waiting() const override;
    std::size_t output_waiting() const override;
    using SerialTransport::drain_to_wire;
    void drain_to_wire(SerialCallback done) override;

private:
    // The backend's part of the core.
    std::ptrdiff_t write_now(const ByteView* parts, std::size_t count) noexcept override;
    void send_queued() noexcept override { update_poll(); }
    bool start_reading() noexcept override;
    void stop_reading() noexcept override { update_poll(); }
    void close_handles() noexcept override;
    void queue_drained() noexcept override;
    std::string log_name() const override { return path_; }

    void require_open(const char* what) const;
    void on_poll(int status, int events);
    void read_ready();
    void check_hangup();
    void update_poll();
    void start_drain_timer(std::uint64_t delay_ms);
    void check_drain();
    void finish_drains(std::error_code error);
    void end_break();
    void on_handle_closed() noexcept;
    bool linger_until_read() noexcept;
    void stop_lingering() noexcept override;
    void close_handles_now() noexcept;
    void check_linger() noexcept;
    void release_descriptor() noexcept;
    /// An errno from read/write: the device is gone (EIO, ENXIO, ENODEV) or another error.
    std::error_code io_error(int error) const noexcept;

    uv_poll_t poll_{};
    uv_timer_t break_timer_{};
    uv_timer_t drain_timer_{};
    int open_handles_ = 0; // libuv handles not yet through their close callback
    int fd_;
    std::string path_;
    SerialOptions options_;
    bool in_break_ = false;
    int poll_events_ = -1;          // what uv_poll_start was last given; -1: not started
    bool sent_since_drain_ = false; // bytes reached the OS after the last completed drain
    bool drain_tail_waited_ = false;
    bool drain_timer_running_ = false;
    std::vector<SerialCallback> drain_waiters_;
    SerialCallback break_done_;
    std::vector<std::shared_ptr<ModemWait>> modem_waits_;
    std::unique_ptr<DescriptorCompanion> companion_;
    std::optional<PreviousSettings> previous_settings_; // restore_on_close: put back at close
    bool pseudo_terminal_ = false;
    std::uint64_t linger_deadline_ = 0; // loop time (ms) a lingering close gives up; 0: none
    std::uint64_t linger_step_ms_ = 1;
    std::uint64_t linger_settled_at_ = 0; // loop time before which an empty queue proves nothing
    bool wrote_ = false;                  // bytes were ever written
    bool lingering_ = false;              // close_handles() waits in linger_until_read()
};

} // namespace ferry::detail
