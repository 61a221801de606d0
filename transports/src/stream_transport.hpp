#pragma once
// StreamTransport: the one Transport implementation over libuv's uv_stream_t, serving TCP,
// Unix sockets / named pipes and fd pipes. Private to ferry::transports.

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>

#include <uv.h>

#include <ferry/transport.hpp>

namespace ferry::detail {

/// A Transport over a uv_tcp_t or uv_pipe_t that it embeds. Created before the connection
/// exists (a connect attempt or an accept target); start() makes it live. It holds a
/// reference to itself from creation until libuv's close callback, so the loop owns it
/// while its handle is open, and registers with the loop so ~Loop closes it.
class StreamTransport final : public Transport, public LoopResource {
public:
    /// Which libuv handle type is embedded.
    enum class Kind { tcp, pipe };
    /// What a pipe transport may do.
    enum class Direction { both, read_only, write_only };

    /// Makes a transport with an initialised, unconnected handle. Throws ferry::Error when
    /// the loop is shutting down or libuv refuses (the message names `what`).
    static std::shared_ptr<StreamTransport> create(Loop& loop, Kind kind,
                                                   unsigned int tcp_family = AF_UNSPEC);
    StreamTransport(Loop& loop, Kind kind); // use create()
    ~StreamTransport() override;

    /// The embedded handle as a stream.
    uv_stream_t* stream() noexcept { return reinterpret_cast<uv_stream_t*>(&handle_); }
    /// The embedded handle as TCP (Kind::tcp only).
    uv_tcp_t* tcp() noexcept { return &handle_.tcp; }
    /// The embedded handle as a pipe (Kind::pipe only).
    uv_pipe_t* pipe() noexcept { return &handle_.pipe; }

    /// The connection is up: attaches the protocol, calls connection_made, starts reading
    /// (unless `direction` is write_only or the protocol paused). Returns false when
    /// connection_made threw (the transport is then closing).
    bool start(std::unique_ptr<Protocol> protocol, Direction direction = Direction::both);
    /// Closes a transport that never started; no protocol callback is made.
    void discard() noexcept;
    /// Called once from the close callback, after connection_lost (servers track clients).
    void on_released(std::function<void(StreamTransport&)> hook) { released_ = std::move(hook); }

    void write(ByteView data) override;
    void writelines(std::span<const ByteView> parts) override;
    void write_eof() override;
    bool can_write_eof() const noexcept override { return direction_ != Direction::read_only; }
    std::size_t write_buffer_size() const noexcept override { return queued_bytes_; }
    void close() noexcept override;
    void abort() noexcept override;
    using Transport::abort;
    bool is_closing() const noexcept override { return state_ != State::open; }
    void pause_reading() override;
    void resume_reading() override;
    bool is_reading() const noexcept override { return reading_; }
    std::optional<SocketAddress> peername() const override { return address_of(true); }
    std::optional<SocketAddress> sockname() const override { return address_of(false); }
    NativeHandle native_handle() const noexcept override;
    void close_for_loop_shutdown() noexcept override { abort(); }

protected:
    void fail(std::error_code error) noexcept override;

private:
    enum class State { idle, open, closing, closed };

    /// True while write() may queue bytes.
    bool writable() const noexcept {
        return state_ == State::open && !eof_requested_ && direction_ != Direction::read_only;
    }
    void log_refused_write(const char* what);
    void enqueue(ByteView data);
    void flush();
    void on_write_done(int status);
    void begin_shutdown();
    void begin_close() noexcept;
    void on_closed() noexcept;
    void on_read(ssize_t nread, const uv_buf_t* buf);
    void on_eof();
    bool start_reading();
    std::optional<SocketAddress> address_of(bool peer) const;
    void stop_reading();

    union Handle {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } handle_;
    Kind kind_;
    Direction direction_ = Direction::both;
    State state_ = State::idle;
    bool started_ = false;       // connection_made was called: connection_lost is owed
    bool reading_ = false;       // uv_read_start is in effect
    bool read_paused_ = false;   // the protocol asked for pause_reading
    bool eof_received_ = false;  // the peer's EOF arrived: nothing more to read
    bool eof_requested_ = false; // write_eof called: shut down once flushed
    bool shutdown_sent_ = false;
    bool write_refusal_logged_ = false;
    bool get_buffer_failed_ = false; // the last read went to scratch memory: fail in on_read
    std::error_code error_;          // what connection_lost will report

    // Queued bytes: the first in_flight_ chunks belong to the uv_write in progress and stay
    // put until its callback; later chunks may still grow (small writes coalesce).
    std::deque<Bytes> queue_;
    std::size_t in_flight_ = 0;
    std::size_t queued_bytes_ = 0;
    uv_write_t write_req_{};
    uv_shutdown_t shutdown_req_{};

    std::span<std::byte> read_buffer_; // the loop's, shared by all its transports
    std::shared_ptr<StreamTransport> self_;
    std::function<void(StreamTransport&)> released_;
};

/// Calls `factory`; throws ferry::Error(invalid_argument) when it returns null.
std::unique_ptr<Protocol> make_protocol(const ProtocolFactory& factory);

/// Converts a uv status to a ferry error whose message says what failed.
std::exception_ptr make_uv_failure(int status, const std::string& what);

} // namespace ferry::detail
