#pragma once
// StreamTransport: the Transport over libuv's uv_stream_t, serving TCP, Unix sockets / named
// pipes and fd pipes, on the shared transport core. Private to ferry::transports.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <uv.h>

#include <ferry/transport.hpp>

#include "core/transport_core.hpp"

namespace ferry::detail {

class StreamTransport;

/// What a server keeps of the clients it accepted: an intrusive list through the clients
/// themselves (no allocation per client; a hash set cost ~48 bytes each, docs/benchmarks.md,
/// memory) and a call when one is released.
class ClientOwner {
public:
    /// Links `client` into this owner's list until the client is released.
    void add_client(StreamTransport& client) noexcept;
    /// Clients not yet released.
    std::size_t client_count() const noexcept { return count_; }
    /// The clients, copied out (closing one may release another).
    std::vector<StreamTransport*> clients() const;

protected:
    ClientOwner() = default;
    ~ClientOwner() = default;
    /// A client left the list (after its connection_lost returned).
    virtual void client_released() noexcept = 0;

private:
    friend class StreamTransport;
    StreamTransport* first_ = nullptr;
    std::size_t count_ = 0;
};

/// `data` as libuv's buffer. Built directly rather than through uv_buf_init, which is an
/// out-of-line call into libuv on the hottest path (one per read and per write).
inline uv_buf_t as_uv_buf(ByteView data) noexcept {
    uv_buf_t buf;
    buf.base = const_cast<char*>(reinterpret_cast<const char*>(data.data()));
    buf.len = static_cast<decltype(buf.len)>(data.size());
    return buf;
}

/// A Transport over a uv_tcp_t or uv_pipe_t that it embeds, built on the transport core: it
/// supplies only the OS calls (its write at once, per platform: write(2) on POSIX,
/// uv_try_write on Windows; libuv's uv_write, uv_read_start, uv_shutdown, uv_close).
/// Created before the connection exists (a connect attempt or an accept target); start()
/// makes it live. The loop owns it while its handle is open.
class StreamTransport final : public TransportCore<Transport> {
public:
    /// Which libuv handle type is embedded.
    enum class Kind : std::uint8_t { tcp, pipe };
    /// What a pipe transport may do.
    using Direction = TransportDirection;

    /// Makes a transport with an initialised, unconnected handle. Throws ferry::Error when
    /// the loop is shutting down or libuv refuses.
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

    /// The connection is up (TransportCore::start): connection_made, then reading.
    using TransportCore::start;
    /// Closes a transport that never started; no protocol callback is made.
    using TransportCore::discard;
    /// Sends writes (and the half-close) to the pipe descriptor `fd` instead of the main
    /// handle, which is then only read: one transport over two descriptors (stdin and stdout).
    /// Takes ownership of `fd` when it returns 0 (a libuv status). Before start().
    int set_separate_output(uv_file fd) noexcept;
    /// Puts `flags` back on descriptor `fd` (F_SETFL) when the transport is destroyed: libuv
    /// makes descriptors non-blocking, and a terminal's flags are shared with the shell.
    void restore_flags_at_end(uv_os_fd_t fd, int flags);
    /// Runs `hook` once the transport is released (after connection_lost): what owns the
    /// other ends of its two descriptors (a child process) lets go. After
    /// set_separate_output().
    void call_when_released(std::function<void()> hook);

    bool can_write_eof() const noexcept override { return direction() != Direction::read_only; }
    std::optional<SocketAddress> peername() const override { return address_of(true); }
    std::optional<SocketAddress> sockname() const override { return address_of(false); }
    NativeHandle native_handle() const noexcept override;

private:
    // Defined per platform: stream_write_posix.cpp, stream_write_win.cpp.
    std::ptrdiff_t write_now(const ByteView* parts, std::size_t count) noexcept override;
    /// write_now's result from a libuv-style one: the bytes taken, 0 for UV_EAGAIN, or -1
    /// once fail() has been called for an error.
    std::ptrdiff_t taken_or_failed(int result) noexcept;
    void send_queued() noexcept override;
    bool start_reading() noexcept override;
    void stop_reading() noexcept override;
    void shutdown_write() noexcept override;
    void close_handles() noexcept override;
    void released() noexcept override;

    void on_read(ssize_t nread);
    void close_output() noexcept;
    void handle_closed() noexcept;
    uv_stream_t* output() noexcept {
        return output_ ? reinterpret_cast<uv_stream_t*>(&output_->pipe) : stream();
    }
    std::optional<SocketAddress> address_of(bool peer) const;

    friend class ClientOwner;
    // What every write reads (the descriptor, output()'s test) comes first, beside the core's
    // state and before the handle, so that an echo touches one cache line fewer: the handle's
    // union ends in padding for the larger uv_pipe_t, and these sat after it (callgrind's cache
    // simulation, docs/benchmarks.md).
    Kind kind_;
    bool shutdown_sent_ = false;
    std::uint8_t open_handles_ = 1; // one or two (a separate output)
    int output_descriptor_ = -1;    // POSIX write_now's cache of output()'s descriptor
    // (the four above share one word: memory per connection)
    struct SeparateOutput;
    std::unique_ptr<SeparateOutput> output_;
    union Handle {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } handle_;
    // libuv's requests are made on first use: most connections never queue a write or send
    // EOF, and at rest the two would cost 272 bytes. Freed with the transport, which outlives
    // every request callback (libuv runs them before the handle's close callback).
    struct Requests {
        uv_write_t write;
        uv_shutdown_t shutdown;
    };
    std::unique_ptr<Requests> requests_;
    Requests& requests();
    // The descriptor written to when it is not the one read (set_separate_output).
    struct SeparateOutput {
        uv_pipe_t pipe{};
        bool closed = false;
        std::vector<std::pair<uv_os_fd_t, int>> restore_flags; // descriptor, flags
        std::function<void()> on_released;
        ~SeparateOutput();
    };
    // The server's list of its clients (ClientOwner), when a server accepted this one.
    ClientOwner* owner_ = nullptr;
    StreamTransport* prev_client_ = nullptr;
    StreamTransport* next_client_ = nullptr;
};

/// Converts a uv status to a ferry error whose message says what failed.
std::exception_ptr make_uv_failure(int status, const std::string& what);

} // namespace ferry::detail
