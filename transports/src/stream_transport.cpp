// StreamTransport: write queue and flow control, reading, EOF, close/abort over uv_stream_t.
#include "stream_transport.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <ferry/log.hpp>

namespace ferry::detail {
namespace {

// Small writes queued behind a busy socket are appended to the last chunk up to this size,
// so a burst of tiny writes becomes one large write instead of many iovecs.
constexpr std::size_t coalesce_limit = 64 * 1024;
// At most this many chunks go into one uv_write (well under IOV_MAX).
constexpr std::size_t max_iovecs = 64;

StreamTransport& transport_of(uv_handle_t* handle) {
    return *static_cast<StreamTransport*>(handle->data);
}

// Built directly rather than through uv_buf_init, which is an out-of-line call into libuv on
// the hottest path (one per read and per write).
uv_buf_t as_uv_buf(ByteView data) {
    uv_buf_t buf;
    buf.base = const_cast<char*>(reinterpret_cast<const char*>(data.data()));
    buf.len = data.size();
    return buf;
}

uv_buf_t as_uv_buf(std::span<std::byte> space) {
    uv_buf_t buf;
    buf.base = reinterpret_cast<char*>(space.data());
    buf.len = space.size();
    return buf;
}

} // namespace

std::unique_ptr<Protocol> make_protocol(const ProtocolFactory& factory) {
    std::unique_ptr<Protocol> protocol = factory();
    if (!protocol) {
        throw Error(make_error_code(errc::invalid_argument), "the protocol factory returned null");
    }
    return protocol;
}

std::exception_ptr make_uv_failure(int status, const std::string& what) {
    return std::make_exception_ptr(Error(uv_error(status), what + ": " + uv_strerror(status)));
}

std::shared_ptr<StreamTransport> StreamTransport::create(Loop& loop, Kind kind,
                                                         unsigned int tcp_family) {
    if (loop.is_shutting_down()) {
        throw Error(make_error_code(errc::loop_closed), "the loop is closing");
    }
    auto transport = std::make_shared<StreamTransport>(loop, kind);
    const int rc = kind == Kind::tcp ? uv_tcp_init_ex(loop.native(), transport->tcp(), tcp_family)
                                     : uv_pipe_init(loop.native(), transport->pipe(), 0);
    if (rc != 0) {
        throw Error(uv_error(rc), std::string("cannot create a socket: ") + uv_strerror(rc));
    }
    transport->stream()->data = transport.get();
    transport->read_buffer_ = loop.read_buffer();
    transport->self_ = transport;
    loop.register_resource(*transport);
    return transport;
}

StreamTransport::StreamTransport(Loop& loop, Kind kind) : Transport(loop), handle_{}, kind_(kind) {}

StreamTransport::~StreamTransport() = default;

bool StreamTransport::start(std::unique_ptr<Protocol> protocol, Direction direction) {
    set_protocol(std::move(protocol));
    direction_ = direction;
    state_ = State::open;
    started_ = true;
    if (!call_protocol("exception in connection_made",
                       [this] { this->protocol().connection_made(*this); })) {
        return false;
    }
    if (state_ == State::open && direction_ != Direction::write_only && !read_paused_) {
        start_reading();
    }
    return true;
}

void StreamTransport::discard() noexcept {
    state_ = State::closing;
    begin_close();
}

bool StreamTransport::start_reading() {
    const int rc = uv_read_start(
        stream(),
        [](uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf) {
            StreamTransport& self = transport_of(handle);
            if (BufferedProtocol* buffered = self.buffered_protocol()) {
                std::span<std::byte> space;
                // Not call_protocol: failing here would close the handle inside libuv's
                // allocation callback, after which libuv calls the read callback it has just
                // cleared. The bytes go to scratch memory and on_read fails the transport.
                const bool ok = self.loop().invoke_guarded("exception in get_buffer", [&] {
                    space = buffered->get_buffer(suggested);
                    if (space.empty()) {
                        throw Error(make_error_code(errc::invalid_argument),
                                    "BufferedProtocol::get_buffer returned an empty buffer");
                    }
                });
                self.get_buffer_failed_ = !ok;
                *buf = as_uv_buf(ok ? space : self.read_buffer_);
                return;
            }
            *buf = as_uv_buf(self.read_buffer_);
        },
        [](uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
            transport_of(reinterpret_cast<uv_handle_t*>(stream)).on_read(nread, buf);
        });
    if (rc != 0) {
        fail(uv_error(rc));
        return false;
    }
    reading_ = true;
    return true;
}

void StreamTransport::stop_reading() {
    if (reading_) {
        uv_read_stop(stream());
        reading_ = false;
    }
}

void StreamTransport::on_read(ssize_t nread, const uv_buf_t* buf) {
    if (get_buffer_failed_) {
        get_buffer_failed_ = false;
        fail(make_error_code(errc::callback_threw)); // what was read is dropped
        return;
    }
    if (nread > 0) {
        const auto n = static_cast<std::size_t>(nread);
        if (log().should_log(spdlog::level::trace)) {
            log().trace("read {} bytes\n{}", n, hex_dump(ByteView(buf->base, n)));
        }
        if (BufferedProtocol* buffered = buffered_protocol()) {
            call_protocol("exception in buffer_updated", [&] { buffered->buffer_updated(n); });
        } else {
            call_protocol("exception in data_received",
                          [&] { protocol().data_received(ByteView(buf->base, n)); });
        }
        return;
    }
    if (nread == 0 || (state_ != State::open && state_ != State::closing)) {
        return; // EAGAIN, or a late report after the handle began closing
    }
    if (nread == UV_EOF) {
        on_eof();
        return;
    }
    if (nread == UV_ENOBUFS && uv_is_closing(reinterpret_cast<uv_handle_t*>(stream()))) {
        return;
    }
    fail(uv_error(static_cast<int>(nread)));
}

void StreamTransport::on_eof() {
    stop_reading();
    eof_received_ = true;
    log().debug("EOF received");
    if (state_ != State::open) {
        return;
    }
    bool keep_open = false;
    if (!call_protocol("exception in eof_received",
                       [&] { keep_open = protocol().eof_received(); })) {
        return;
    }
    // Both directions shut (we already sent EOF): nothing more can happen, so close.
    if (!keep_open || eof_requested_) {
        close();
    }
}

void StreamTransport::pause_reading() {
    read_paused_ = true;
    stop_reading();
}

void StreamTransport::resume_reading() {
    read_paused_ = false;
    if (!reading_ && state_ == State::open && !eof_received_ &&
        direction_ != Direction::write_only) {
        start_reading();
    }
}

void StreamTransport::log_refused_write(const char* what) {
    if (!write_refusal_logged_) {
        write_refusal_logged_ = true;
        log().debug("{} ignored: the transport is {}", what,
                    direction_ == Direction::read_only ? "read-only"
                    : eof_requested_                   ? "past write_eof"
                                                       : "closing");
    }
}

void StreamTransport::write(ByteView data) {
    if (!writable()) {
        log_refused_write("write");
        return;
    }
    if (data.empty()) {
        return;
    }
    if (queue_.empty()) {
        // Nothing queued: try the OS at once and copy only what it did not take.
        uv_buf_t buf = as_uv_buf(data);
        const int n = uv_try_write(stream(), &buf, 1);
        if (n == static_cast<int>(data.size())) {
            return;
        }
        if (n < 0 && n != UV_EAGAIN) {
            fail(uv_error(n));
            return;
        }
        if (n > 0) {
            data = data.subview(static_cast<std::size_t>(n));
        }
    }
    enqueue(data);
    flush();
    maybe_pause_protocol();
}

void StreamTransport::writelines(std::span<const ByteView> parts) {
    if (!writable()) {
        log_refused_write("writelines");
        return;
    }
    std::size_t total = 0;
    for (const ByteView& part : parts) {
        total += part.size();
    }
    if (total == 0) {
        return;
    }
    std::size_t written = 0;
    if (queue_.empty()) {
        std::array<uv_buf_t, max_iovecs> bufs;
        const std::size_t count = std::min(parts.size(), bufs.size());
        for (std::size_t i = 0; i < count; ++i) {
            bufs[i] = as_uv_buf(parts[i]);
        }
        const int n = uv_try_write(stream(), bufs.data(), static_cast<unsigned int>(count));
        if (n < 0 && n != UV_EAGAIN) {
            fail(uv_error(n));
            return;
        }
        written = n > 0 ? static_cast<std::size_t>(n) : 0;
        if (written == total) {
            return;
        }
    }
    // Queue what is left as one contiguous chunk.
    for (const ByteView& part : parts) {
        if (written >= part.size()) {
            written -= part.size();
            continue;
        }
        enqueue(part.subview(written));
        written = 0;
    }
    flush();
    maybe_pause_protocol();
}

void StreamTransport::enqueue(ByteView data) {
    if (queue_.size() > in_flight_ && queue_.back().size() + data.size() <= coalesce_limit) {
        append(queue_.back(), data);
    } else {
        queue_.push_back(data.to_bytes());
    }
    queued_bytes_ += data.size();
}

void StreamTransport::flush() {
    if (in_flight_ != 0 || queue_.empty()) {
        return;
    }
    std::array<uv_buf_t, max_iovecs> bufs;
    const std::size_t count = std::min(queue_.size(), bufs.size());
    for (std::size_t i = 0; i < count; ++i) {
        bufs[i] = as_uv_buf(ByteView(queue_[i]));
    }
    write_req_.data = this;
    const int rc = uv_write(&write_req_, stream(), bufs.data(), static_cast<unsigned int>(count),
                            [](uv_write_t* req, int status) {
                                static_cast<StreamTransport*>(req->data)->on_write_done(status);
                            });
    if (rc != 0) {
        fail(uv_error(rc));
        return;
    }
    in_flight_ = count;
}

void StreamTransport::on_write_done(int status) {
    for (std::size_t i = 0; i < in_flight_; ++i) {
        queued_bytes_ -= queue_.front().size();
        queue_.pop_front();
    }
    in_flight_ = 0;
    if (status < 0) {
        if (status != UV_ECANCELED) {
            fail(uv_error(status));
        }
        return;
    }
    maybe_resume_protocol(); // may write more, which starts the next uv_write itself
    if (state_ == State::closed || uv_is_closing(reinterpret_cast<uv_handle_t*>(stream()))) {
        return;
    }
    if (!queue_.empty()) {
        flush();
        return;
    }
    if (eof_requested_) {
        begin_shutdown();
    }
    if (state_ == State::closing) {
        begin_close();
    }
}

void StreamTransport::write_eof() {
    if (eof_requested_ || state_ != State::open || direction_ == Direction::read_only) {
        return;
    }
    eof_requested_ = true;
    if (eof_received_) {
        close(); // the peer already finished: both directions are now shut
        return;
    }
    if (queue_.empty()) {
        begin_shutdown();
    }
}

void StreamTransport::begin_shutdown() {
    if (shutdown_sent_) {
        return;
    }
    shutdown_sent_ = true;
    if (direction_ == Direction::write_only) {
        // A plain pipe has no half-close: closing the write end is its EOF (asyncio does this).
        close();
        return;
    }
    shutdown_req_.data = this;
    const int rc = uv_shutdown(&shutdown_req_, stream(), [](uv_shutdown_t* req, int status) {
        auto* self = static_cast<StreamTransport*>(req->data);
        if (status == UV_ENOTSOCK && self->state_ == State::open) {
            self->close(); // a pipe fd: closing is the only way to signal EOF
        } else if (status < 0 && status != UV_ECANCELED) {
            log().debug("shutdown failed: {}", uv_strerror(status));
        }
    });
    if (rc != 0) {
        log().debug("shutdown refused: {}", uv_strerror(rc));
    }
}

void StreamTransport::close() noexcept {
    if (state_ != State::open) {
        return;
    }
    state_ = State::closing;
    stop_reading();
    if (in_flight_ == 0 && queue_.empty()) {
        begin_close();
    }
    // Otherwise on_write_done closes once the queue has drained.
}

void StreamTransport::abort() noexcept {
    if (state_ == State::closed) {
        return;
    }
    state_ = State::closing;
    begin_close(); // for a transport that never started, this is discard()
}

void StreamTransport::fail(std::error_code error) noexcept {
    if (state_ == State::closed) {
        return;
    }
    if (!error_) {
        error_ = error;
    }
    log().debug("transport failed: {}", error.message());
    state_ = State::closing;
    begin_close();
}

void StreamTransport::begin_close() noexcept {
    auto* handle = reinterpret_cast<uv_handle_t*>(stream());
    if (uv_is_closing(handle)) {
        return;
    }
    reading_ = false;
    // Bytes still queued are dropped: they stay allocated until the cancelled write's callback.
    uv_close(handle, [](uv_handle_t* h) { transport_of(h).on_closed(); });
}

void StreamTransport::on_closed() noexcept {
    // The self reference is released last: connection_lost and the release hook may drop
    // every other reference.
    std::shared_ptr<StreamTransport> keep_alive = std::move(self_);
    state_ = State::closed;
    queued_bytes_ = 0;
    queue_.clear();
    if (started_) {
        call_protocol("exception in connection_lost",
                      [this] { protocol().connection_lost(error_); });
    }
    if (released_) {
        auto hook = std::move(released_);
        hook(*this);
    }
    loop().unregister_resource(*this);
}

std::optional<SocketAddress> StreamTransport::address_of(bool peer) const {
    // libuv's getters take non-const handles but do not modify them.
    auto* self = const_cast<StreamTransport*>(this);
    if (kind_ == Kind::tcp) {
        sockaddr_storage storage{};
        int length = sizeof storage;
        auto* address = reinterpret_cast<sockaddr*>(&storage);
        const int rc = peer ? uv_tcp_getpeername(self->tcp(), address, &length)
                            : uv_tcp_getsockname(self->tcp(), address, &length);
        if (rc != 0) {
            return std::nullopt;
        }
        return SocketAddress(address, static_cast<std::size_t>(length));
    }
    char path[512];
    std::size_t length = sizeof path;
    const int rc = peer ? uv_pipe_getpeername(self->pipe(), path, &length)
                        : uv_pipe_getsockname(self->pipe(), path, &length);
    if (rc != 0) {
        return std::nullopt;
    }
    return SocketAddress::from_unix_path(std::string(path, length));
}

NativeHandle StreamTransport::native_handle() const noexcept {
    uv_os_fd_t fd{};
    if (state_ == State::closed ||
        uv_fileno(reinterpret_cast<const uv_handle_t*>(&handle_), &fd) != 0) {
#ifdef _WIN32
        return nullptr;
#else
        return -1;
#endif
    }
    return fd;
}

} // namespace ferry::detail
