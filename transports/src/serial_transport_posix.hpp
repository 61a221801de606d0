#pragma once
// PosixSerialTransport: SerialTransport over a tty descriptor watched by one uv_poll_t.
// Private to ferry::transports.

#include <cstddef>
#include <deque>
#include <memory>
#include <vector>

#include <uv.h>

#include <ferry/serial.hpp>

namespace ferry::detail {

struct ModemWait;

/// Reads when the poll reports readable; writes at once and polls for writable only while
/// bytes remain. Owns three libuv handles (the poll and two timers: break, drain) and holds a
/// reference to itself until all are closed, the descriptor is closed and connection_lost has
/// run. A hang-up, POLLERR, EIO or ENXIO ends it with errc::device_removed.
class PosixSerialTransport final : public SerialTransport, public LoopResource {
public:
    /// Opens and configures `path`; throws ferry::Error (see open_serial_device).
    static std::shared_ptr<PosixSerialTransport> open(Loop& loop, std::string path,
                                                      SerialOptions options);
    PosixSerialTransport(Loop& loop, std::string path, SerialOptions options, int fd); // open()
    ~PosixSerialTransport() override;

    /// Attaches the protocol, calls connection_made and starts reading.
    void start(std::unique_ptr<Protocol> protocol);
    /// Closes a transport that never started; no protocol callback is made.
    void discard() noexcept;

    // Transport
    void write(ByteView data) override;
    void write_eof() override;
    bool can_write_eof() const noexcept override { return false; }
    std::size_t write_buffer_size() const noexcept override { return queued_bytes_; }
    void close() noexcept override;
    void abort() noexcept override;
    using Transport::abort;
    bool is_closing() const noexcept override { return state_ != State::open; }
    void pause_reading() override;
    void resume_reading() override;
    bool is_reading() const noexcept override { return reading_; }
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
    void purge(Purge which) override;
    std::size_t input_waiting() const override;
    std::size_t output_waiting() const override;
    using SerialTransport::drain_to_wire;
    void drain_to_wire(SerialCallback done) override;

    void close_for_loop_shutdown() noexcept override { abort(); }

protected:
    void fail(std::error_code error) noexcept override;

private:
    enum class State { idle, open, closing, closed };

    void require_open(const char* what) const;
    void on_poll(int status, int events);
    void read_ready();
    void check_hangup();
    void flush();
    void enqueue(ByteView data);
    void update_poll();
    void after_queue_change();
    void start_drain_timer(std::uint64_t delay_ms);
    void check_drain();
    void finish_drains(std::error_code error);
    void end_break();
    void begin_close() noexcept;
    void on_handle_closed() noexcept;
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
    State state_ = State::idle;
    bool started_ = false;
    bool reading_ = false;
    bool read_paused_ = false;
    bool in_break_ = false;
    int poll_events_ = -1; // what uv_poll_start was last given; -1: not started
    std::deque<Bytes> queue_;
    std::size_t front_offset_ = 0; // bytes of queue_.front() already written
    std::size_t queued_bytes_ = 0;
    bool sent_since_drain_ = false; // bytes reached the OS after the last completed drain
    bool drain_tail_waited_ = false;
    bool drain_timer_running_ = false;
    std::vector<SerialCallback> drain_waiters_;
    SerialCallback break_done_;
    std::vector<std::shared_ptr<ModemWait>> modem_waits_;
    std::error_code error_;
    std::span<std::byte> read_buffer_;
    std::shared_ptr<PosixSerialTransport> self_;
};

} // namespace ferry::detail
