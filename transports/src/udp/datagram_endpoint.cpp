// create_datagram_endpoint: asyncio's datagram endpoint over libuv's uv_udp_t. Datagrams the
// OS cannot take at once wait in libuv's send queue (one request each, with its own copy);
// the water marks count those bytes.
#include <memory>
#include <utility>

#include <ferry/detail/loop_access.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/udp.hpp>

#include "udp/udp_socket.hpp"

namespace ferry {
namespace detail {
namespace {

/// The DatagramTransport create_datagram_endpoint returns. The loop owns it while its handle
/// is open.
class UdpDatagramTransport final : public DatagramTransport, public LoopResource {
public:
    UdpDatagramTransport(Loop& loop, std::size_t max_datagram)
        : DatagramTransport(loop), max_datagram_(max_datagram) {}

    /// Opens the socket and starts the protocol; throws ferry::Error naming what failed.
    static std::shared_ptr<DatagramTransport> open(Loop& loop,
                                                   const DatagramProtocolFactory& factory,
                                                   const UdpAddresses& addresses,
                                                   const DatagramOptions& options) {
        if (LoopAccess::is_shutting_down(loop)) {
            throw Error(make_error_code(errc::loop_closed), "the loop is closing");
        }
        std::unique_ptr<DatagramProtocol> protocol = factory ? factory() : nullptr;
        if (!protocol) {
            throw Error(make_error_code(errc::invalid_argument),
                        "create_datagram_endpoint: the protocol factory returned null");
        }
        auto transport = std::make_shared<UdpDatagramTransport>(loop, options.max_datagram_size);
        transport->handle_.data = transport.get();
        transport->self_ = transport; // until the handle's close callback
        try {
            open_udp_socket(loop, transport->handle_, addresses, options);
        } catch (...) {
            transport->protocol_ = nullptr; // nothing was made: no connection_lost
            transport->close_handle();
            throw;
        }
        transport->peer_ = addresses.remote;
        const auto bound = transport->sockname(); // the port the OS picked, if it did
        transport->local_name_ = bound ? bound->to_string() : addresses.local.to_string();
        LoopAccess::register_resource(loop, *transport);
        transport->registered_ = true;
        transport->protocol_ = std::move(protocol);
        transport->made_ = true;
        transport->guarded("exception in connection_made",
                           [&] { transport->protocol_->connection_made(*transport); });
        if (transport->state_ == State::open && !transport->read_paused_) {
            transport->start_reading();
        }
        return transport;
    }

    void sendto(ByteView data, const std::optional<SocketAddress>& to) override {
        if (data.size() > max_udp_payload) {
            throw Error(make_error_code(errc::invalid_argument),
                        "sendto: a datagram of " + std::to_string(data.size()) +
                            " bytes is larger than UDP carries (65507)");
        }
        if (!to && !peer_) {
            throw Error(make_error_code(errc::invalid_argument),
                        "sendto: no destination (the endpoint is not connected)");
        }
        if (to && peer_ && *to != *peer_) {
            throw Error(make_error_code(errc::invalid_argument), "sendto: " + to->to_string() +
                                                                     " is not the connected peer " +
                                                                     peer_->to_string());
        }
        if (state_ != State::open) {
            log().debug("UDP {}: sendto ignored after close", local_name_);
            return;
        }
        const sockaddr* destination = peer_ ? nullptr : to->native();
        uv_buf_t buf = udp_buf(data);
        if (queued_ == 0) {
            const int sent = uv_udp_try_send(&handle_, &buf, 1, destination);
            if (sent >= 0) {
                return;
            }
            if (sent != UV_EAGAIN && sent != UV_ENOBUFS) {
                report_later(sent, "sendto " + (to ? to->to_string() : peer_->to_string()));
                return;
            }
        }
        auto request = std::make_unique<SendRequest>();
        request->data = data.to_bytes();
        request->req.data = this;
        buf = udp_buf(request->data);
        const int rc = uv_udp_send(
            &request->req, &handle_, &buf, 1, destination, [](uv_udp_send_t* req, int status) {
                std::unique_ptr<SendRequest> done(reinterpret_cast<SendRequest*>(req));
                static_cast<UdpDatagramTransport*>(req->data)->sent(done->data.size(), status);
            });
        if (rc != 0) {
            report_later(rc, "sendto " + (to ? to->to_string() : peer_->to_string()));
            return;
        }
        request.release(); // libuv's until the callback
        queued_ += data.size();
        if (!write_paused_ && queued_ > limits_.high) {
            write_paused_ = true;
            guarded("exception in pause_writing", [&] { protocol_->pause_writing(); });
        }
    }

    void close() noexcept override {
        if (state_ != State::open) {
            return;
        }
        state_ = State::closing;
        stop_reading();
        if (queued_ == 0) {
            close_handle();
        } // else the last send's callback closes it
    }

    void abort() noexcept override {
        if (state_ == State::closed) {
            return;
        }
        state_ = State::closing;
        stop_reading();
        close_handle(); // libuv cancels the queued sends first (UV_ECANCELED)
    }

    bool is_closing() const noexcept override { return state_ != State::open; }
    std::size_t write_buffer_size() const noexcept override { return queued_; }
    void set_write_buffer_limits(std::optional<std::size_t> high,
                                 std::optional<std::size_t> low) override {
        limits_ = make_write_buffer_limits(high, low);
    }
    WriteBufferLimits write_buffer_limits() const noexcept override { return limits_; }

    void pause_reading() override {
        read_paused_ = true;
        stop_reading();
    }
    void resume_reading() override {
        read_paused_ = false;
        if (state_ == State::open && made_) {
            start_reading();
        }
    }
    bool is_reading() const noexcept override { return reading_; }
    std::optional<SocketAddress> sockname() const override { return udp_address(handle_, false); }
    std::optional<SocketAddress> peername() const override { return peer_; }

    void set_broadcast(bool on) override {
        check_udp(uv_udp_set_broadcast(&handle_, on ? 1 : 0), "UDP: broadcast");
    }
    void set_ttl(int ttl) override { check_udp(uv_udp_set_ttl(&handle_, ttl), "UDP: TTL"); }
    void join_group(const std::string& group, const std::string& local_interface) override {
        set_udp_membership(handle_, group, local_interface, true);
    }
    void leave_group(const std::string& group, const std::string& local_interface) override {
        set_udp_membership(handle_, group, local_interface, false);
    }
    void set_multicast_ttl(int ttl) override {
        check_udp(uv_udp_set_multicast_ttl(&handle_, ttl), "UDP: multicast TTL");
    }
    void set_multicast_loop(bool on) override {
        check_udp(uv_udp_set_multicast_loop(&handle_, on ? 1 : 0), "UDP: multicast loop");
    }
    void set_multicast_interface(const std::string& local_interface) override {
        check_udp(uv_udp_set_multicast_interface(&handle_, local_interface.c_str()),
                  "UDP: multicast interface " + local_interface);
    }
    std::size_t receive_buffer_size() const override { return udp_buffer_size(handle_, true, 0); }
    void set_receive_buffer_size(std::size_t bytes) override {
        udp_buffer_size(handle_, true, bytes);
    }
    std::size_t send_buffer_size() const override { return udp_buffer_size(handle_, false, 0); }
    void set_send_buffer_size(std::size_t bytes) override {
        udp_buffer_size(handle_, false, bytes);
    }
    NativeHandle native_handle() const noexcept override {
        uv_os_fd_t fd{};
        uv_fileno(reinterpret_cast<const uv_handle_t*>(&handle_), &fd);
        return fd; // an int on POSIX, the SOCKET as a HANDLE on Windows: NativeHandle's types
    }

    void close_for_loop_shutdown() noexcept override { abort(); }

private:
    enum class State { open, closing, closed };
    /// One datagram waiting in libuv's send queue, with its own copy of the bytes.
    struct SendRequest {
        uv_udp_send_t req{}; // first: the callback gets this address back
        Bytes data;
    };

    void start_reading() noexcept {
        if (reading_) {
            return;
        }
        const int rc = uv_udp_recv_start(
            &handle_,
            [](uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
                auto* self = static_cast<UdpDatagramTransport*>(handle->data);
                // At most max_datagram bytes: a longer datagram comes back marked partial.
                const auto space = LoopAccess::read_buffer(self->loop());
                *buf = uv_buf_init(reinterpret_cast<char*>(space.data()),
                                   static_cast<unsigned int>(self->max_datagram_));
            },
            [](uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
               unsigned flags) {
                static_cast<UdpDatagramTransport*>(handle->data)->received(nread, buf, from, flags);
            });
        if (rc != 0) {
            fail(uv_error(rc));
            return;
        }
        reading_ = true;
    }

    void stop_reading() noexcept {
        if (reading_) {
            uv_udp_recv_stop(&handle_);
            reading_ = false;
        }
    }

    void received(ssize_t nread, const uv_buf_t* buf, const sockaddr* from, unsigned flags) {
        if (state_ != State::open || !reading_) {
            return;
        }
        if (nread < 0) {
            // ICMP port unreachable on a connected socket, and the like: the endpoint lives on.
            report(static_cast<int>(nread), "receive on " + local_name_);
            return;
        }
        if (from == nullptr) {
            return; // nothing more to read this time
        }
        const SocketAddress sender(from, from->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                                     : sizeof(sockaddr_in));
        if ((flags & UV_UDP_PARTIAL) != 0) {
            const Error truncated(make_error_code(errc::datagram_truncated),
                                  "UDP " + local_name_ + ": a datagram from " + sender.to_string() +
                                      " was larger than " + std::to_string(max_datagram_) +
                                      " bytes (max_datagram_size); dropped");
            guarded("exception in error_received", [&] { protocol_->error_received(truncated); });
            return;
        }
        const ByteView data(reinterpret_cast<const std::byte*>(buf->base),
                            static_cast<std::size_t>(nread));
        guarded("exception in datagram_received",
                [&] { protocol_->datagram_received(data, sender); });
    }

    void sent(std::size_t size, int status) noexcept {
        queued_ -= size;
        if (status < 0 && status != UV_ECANCELED && state_ == State::open) {
            report(status, "send from " + local_name_);
        }
        if (write_paused_ && queued_ <= limits_.low) {
            write_paused_ = false;
            if (state_ == State::open) {
                guarded("exception in resume_writing", [&] { protocol_->resume_writing(); });
            }
        }
        if (state_ == State::closing && queued_ == 0) {
            close_handle();
        }
    }

    /// error_received with libuv's `status`, now (from a loop callback).
    void report(int status, const std::string& what) {
        const Error error(uv_error(status), "UDP " + what + ": " + uv_strerror(status));
        guarded("exception in error_received", [&] { protocol_->error_received(error); });
    }

    /// error_received from a later loop callback: sendto's caller may be inside a callback.
    void report_later(int status, std::string what) {
        loop().call_soon([weak = weak_from_this(), status, what = std::move(what)] {
            auto self = std::static_pointer_cast<UdpDatagramTransport>(weak.lock());
            if (self && self->state_ == State::open) {
                self->report(status, what);
            }
        });
    }

    /// Runs a protocol callback; one that throws ends the endpoint (callback_threw).
    template <class Fn>
    void guarded(const char* where, Fn&& fn) noexcept {
        if (!invoke_guarded(loop(), where, std::forward<Fn>(fn))) {
            fail(make_error_code(errc::callback_threw));
        }
    }

    void fail(std::error_code error) noexcept {
        if (state_ == State::closed) {
            return;
        }
        if (!reason_) {
            reason_ = error;
        }
        abort();
    }

    void close_handle() noexcept {
        auto* handle = reinterpret_cast<uv_handle_t*>(&handle_);
        if (uv_is_closing(handle) != 0) {
            return;
        }
        uv_close(handle, [](uv_handle_t* closed) {
            static_cast<UdpDatagramTransport*>(closed->data)->handle_closed();
        });
    }

    void handle_closed() noexcept {
        state_ = State::closed;
        std::shared_ptr<UdpDatagramTransport> keep_alive = std::move(self_);
        if (registered_) {
            LoopAccess::unregister_resource(loop(), *this);
        }
        if (made_ && protocol_) {
            invoke_guarded(loop(), "exception in connection_lost",
                           [&] { protocol_->connection_lost(reason_); });
        }
    }

    uv_udp_t handle_{};
    std::unique_ptr<DatagramProtocol> protocol_;
    std::shared_ptr<UdpDatagramTransport> self_; // the loop's ownership while the handle is open
    std::optional<SocketAddress> peer_;
    std::string local_name_;
    std::size_t max_datagram_;
    std::size_t queued_ = 0; // bytes in libuv's send queue
    WriteBufferLimits limits_;
    std::error_code reason_;
    State state_ = State::open;
    bool made_ = false; // connection_made was called: connection_lost is owed
    bool registered_ = false;
    bool reading_ = false;
    bool read_paused_ = false;
    bool write_paused_ = false;
};

} // namespace
} // namespace detail

void create_datagram_endpoint(Loop& loop, DatagramProtocolFactory factory, DatagramOptions options,
                              DatagramTransportCallback done) {
    detail::resolve_udp_addresses(
        loop, options,
        [&loop, factory = std::move(factory), options,
         done = std::move(done)](Result<detail::UdpAddresses> addresses) {
            if (!addresses.ok()) {
                done(addresses.error());
                return;
            }
            try {
                done(detail::UdpDatagramTransport::open(loop, factory, addresses.value(), options));
            } catch (...) {
                done(std::current_exception());
            }
        });
}

Task<std::shared_ptr<DatagramTransport>>
create_datagram_endpoint(Loop& loop, DatagramProtocolFactory factory, DatagramOptions options) {
    Future<std::shared_ptr<DatagramTransport>> opened(loop);
    create_datagram_endpoint(loop, std::move(factory), std::move(options),
                             settle(opened, [](auto& transport) { transport->abort(); }));
    co_return co_await opened;
}

} // namespace ferry
