// StreamTransport: libuv's stream calls under the transport core (write, read, shutdown,
// close); the write at once is the platform's (stream_write_posix.cpp, stream_write_win.cpp).
#include "stream/stream_transport.hpp"

#include "stream/socket_platform.hpp"

#include <utility>

#include <algorithm>
#include <array>
#include <vector>

#include <ferry/detail/loop_access.hpp>
#include <ferry/log.hpp>

namespace ferry::detail {
namespace {

StreamTransport& transport_of(uv_handle_t* handle) {
    return *static_cast<StreamTransport*>(handle->data);
}

} // namespace

std::exception_ptr make_uv_failure(int status, const std::string& what) {
    return std::make_exception_ptr(Error(uv_error(status), what + ": " + uv_strerror(status)));
}

std::shared_ptr<StreamTransport> StreamTransport::create(Loop& loop, Kind kind,
                                                         unsigned int tcp_family) {
    if (detail::LoopAccess::is_shutting_down(loop)) {
        throw Error(make_error_code(errc::loop_closed), "the loop is closing");
    }
    auto transport = std::make_shared<StreamTransport>(loop, kind);
    const int rc =
        kind == Kind::tcp
            ? uv_tcp_init_ex(detail::LoopAccess::native(loop), transport->tcp(), tcp_family)
            : uv_pipe_init(detail::LoopAccess::native(loop), transport->pipe(), 0);
    if (rc != 0) {
        throw Error(uv_error(rc), std::string("cannot create a socket: ") + uv_strerror(rc));
    }
    transport->stream()->data = transport.get();
    transport->adopt(transport);
    return transport;
}

StreamTransport::StreamTransport(Loop& loop, Kind kind)
    : TransportCore(loop), kind_(kind), handle_{} {}

StreamTransport::~StreamTransport() = default;

// ---- reading ---------------------------------------------------------------------------

bool StreamTransport::start_reading() noexcept {
    const int rc = uv_read_start(
        stream(),
        [](uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
            // libuv suggests 64 KiB always; the core adapts the size to the traffic.
            const std::span<std::byte> space = transport_of(handle).read_space();
            *buf = as_uv_buf(ByteView(space.data(), space.size()));
        },
        [](uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
            StreamTransport& self = transport_of(reinterpret_cast<uv_handle_t*>(stream));
            if (nread > 0) [[likely]] {
                self.delivered(static_cast<std::size_t>(nread)); // inline: one call fewer per read
                return;
            }
            self.on_read(nread);
        });
    if (rc != 0) {
        fail(uv_error(rc));
        return false;
    }
    return true;
}

void StreamTransport::stop_reading() noexcept {
    uv_read_stop(stream());
}

void StreamTransport::on_read(ssize_t nread) {
    if (nread >= 0) {
        delivered(static_cast<std::size_t>(nread)); // 0: EAGAIN, nothing delivered
        return;
    }
    if (nread == UV_EOF) {
        delivered(0); // reports a failed get_buffer before the EOF
        if (state() == State::open) {
            os_eof();
        }
        return;
    }
    if (state() == State::closed) {
        return; // a late report after the handle began closing
    }
    fail(uv_error(static_cast<int>(nread)));
}

// ---- writing ---------------------------------------------------------------------------

std::ptrdiff_t StreamTransport::taken_or_failed(int result) noexcept {
    if (result >= 0) {
        return result;
    }
    if (result == UV_EAGAIN) {
        return 0;
    }
    fail(uv_error(result));
    return -1;
}

void StreamTransport::send_queued() noexcept {
    // A completion backend: libuv writes the gather and calls back once all of it is taken.
    std::array<uv_buf_t, WriteQueue::max_gather> bufs;
    const std::size_t count =
        queue().gather_into(bufs.data(), bufs.size(), [](const std::byte* data, std::size_t size) {
            return as_uv_buf(ByteView(data, size));
        });
    const int rc =
        uv_write(&requests().write, output(), bufs.data(), static_cast<unsigned int>(count),
                 [](uv_write_t* req, int status) {
                     auto* self = static_cast<StreamTransport*>(req->data);
                     self->send_completed(self->queue().flight_bytes(),
                                          status < 0 ? uv_error(status) : std::error_code());
                 });
    if (rc != 0) {
        fail(uv_error(rc));
        return;
    }
    queue().begin_flight(count);
}

StreamTransport::Requests& StreamTransport::requests() {
    if (!requests_) {
        requests_ = std::make_unique<Requests>();
        requests_->write.data = this;
        requests_->shutdown.data = this;
    }
    return *requests_;
}

void StreamTransport::shutdown_write() noexcept {
    if (shutdown_sent_) {
        return;
    }
    shutdown_sent_ = true;
    if (output_) {
        // Reading goes on from the other descriptor; closing this one is the pipe's EOF.
        close_output();
        return;
    }
    if (direction() == Direction::write_only) {
        // A plain pipe has no half-close: closing the write end is its EOF (asyncio does this).
        close();
        return;
    }
    const int rc = uv_shutdown(&requests().shutdown, stream(), [](uv_shutdown_t* req, int status) {
        auto* self = static_cast<StreamTransport*>(req->data);
        if (status == UV_ENOTSOCK && self->state() == State::open) {
            self->close(); // a pipe fd: closing is the only way to signal EOF
        } else if (status < 0 && status != UV_ECANCELED) {
            log().debug("shutdown failed: {}", uv_strerror(status));
        }
    });
    if (rc != 0) {
        log().debug("shutdown refused: {}", uv_strerror(rc));
    }
}

// ---- closing ---------------------------------------------------------------------------

void StreamTransport::close_handles() noexcept {
    // A write in flight is cancelled: its callback (UV_ECANCELED) runs before the close
    // callback, and its buffers stay allocated until then.
    close_output();
    uv_close(reinterpret_cast<uv_handle_t*>(stream()),
             [](uv_handle_t* h) { transport_of(h).handle_closed(); });
}

void StreamTransport::close_output() noexcept {
    if (output_ && !output_->closed) {
        output_->closed = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&output_->pipe),
                 [](uv_handle_t* h) { transport_of(h).handle_closed(); });
    }
}

void StreamTransport::handle_closed() noexcept {
    if (--open_handles_ == 0) {
        handles_closed(); // connection_lost; may free this object
    }
}

int StreamTransport::set_separate_output(uv_file fd) noexcept {
    output_ = std::make_unique<SeparateOutput>();
    int rc = uv_pipe_init(LoopAccess::native(loop()), &output_->pipe, 0);
    if (rc != 0) {
        output_.reset();
        return rc;
    }
    output_->pipe.data = this;
    ++open_handles_;
    return uv_pipe_open(&output_->pipe, fd);
}

void StreamTransport::restore_flags_at_end(uv_os_fd_t fd, int flags) {
    if (output_) {
        output_->restore_flags.emplace_back(fd, flags);
    }
}

StreamTransport::SeparateOutput::~SeparateOutput() {
    for (const auto& [fd, flags] : restore_flags) {
        restore_descriptor_flags(fd, flags);
    }
}

void StreamTransport::call_when_released(std::function<void()> hook) {
    if (output_) {
        output_->on_released = std::move(hook);
    }
}

void StreamTransport::released() noexcept {
    if (output_ && output_->on_released) {
        const auto hook = std::exchange(output_->on_released, nullptr);
        invoke_guarded(loop(), "exception in a released hook", hook);
    }
    ClientOwner* owner = std::exchange(owner_, nullptr);
    if (owner == nullptr) {
        return;
    }
    (prev_client_ != nullptr ? prev_client_->next_client_ : owner->first_) = next_client_;
    if (next_client_ != nullptr) {
        next_client_->prev_client_ = prev_client_;
    }
    prev_client_ = next_client_ = nullptr;
    --owner->count_;
    owner->client_released();
}

// ---- a server's clients ----------------------------------------------------------------

void ClientOwner::add_client(StreamTransport& client) noexcept {
    client.owner_ = this;
    client.next_client_ = first_;
    if (first_ != nullptr) {
        first_->prev_client_ = &client;
    }
    first_ = &client;
    ++count_;
}

std::vector<StreamTransport*> ClientOwner::clients() const {
    std::vector<StreamTransport*> list;
    list.reserve(count_);
    for (StreamTransport* client = first_; client != nullptr; client = client->next_client_) {
        list.push_back(client);
    }
    return list;
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
    if (state() == State::closed ||
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
