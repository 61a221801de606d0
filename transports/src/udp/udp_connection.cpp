// connect_udp and accept_udp: a connected UDP socket as a Transport on the shared transport
// core, each write one datagram (the queue keeps their boundaries) and each datagram one
// data_received.
#include <algorithm>
#include <array>
#include <memory>
#include <utility>

#include <ferry/future.hpp>
#include <ferry/udp.hpp>

#include "core/transport_core.hpp"
#include "udp/udp_socket.hpp"

namespace ferry {
namespace detail {
namespace {

/// The first datagram accept_udp waited for, and who sent it.
struct FirstDatagram {
    Bytes data;
    SocketAddress sender;
};

SocketAddress sender_address(const sockaddr* from) {
    return SocketAddress(from,
                         from->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
}

class UdpConnection final : public TransportCore<Transport> {
public:
    /// A transport with a socket-less handle that open_udp_socket initialises. The loop owns
    /// it from here on (discard() it if it never starts).
    static std::shared_ptr<UdpConnection> create(Loop& loop) {
        if (LoopAccess::is_shutting_down(loop)) {
            throw Error(make_error_code(errc::loop_closed), "the loop is closing");
        }
        auto connection = std::make_shared<UdpConnection>(loop);
        connection->handle_.data = connection.get();
        connection->adopt(connection);
        return connection;
    }
    explicit UdpConnection(Loop& loop) : TransportCore(loop) {} // create()

    uv_udp_t& handle() noexcept { return handle_; }
    using TransportCore::discard;
    using TransportCore::start;

    /// Waits for one datagram (before start): `done` gets it and its sender, once.
    void wait_first_datagram(std::function<void(Result<FirstDatagram>)> done) {
        first_waiter_ = std::move(done);
        const int rc = uv_udp_recv_start(
            &handle_,
            [](uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
                const auto space = LoopAccess::read_buffer(of(handle).loop());
                *buf = uv_buf_init(reinterpret_cast<char*>(space.data()),
                                   static_cast<unsigned int>(max_udp_payload));
            },
            [](uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
               unsigned) {
                auto& self = of(reinterpret_cast<uv_handle_t*>(handle));
                if (nread < 0 || from == nullptr || !self.first_waiter_) {
                    return; // nothing yet (an ICMP report has no one to go to here)
                }
                uv_udp_recv_stop(handle);
                auto done = std::exchange(self.first_waiter_, nullptr);
                done(FirstDatagram{ByteView(reinterpret_cast<const std::byte*>(buf->base),
                                            static_cast<std::size_t>(nread))
                                       .to_bytes(),
                                   sender_address(from)});
            });
        if (rc != 0) {
            first_waiter_ = nullptr;
            check_udp(rc, "UDP: cannot receive");
        }
    }
    /// Delivers `data` as the first datagram once reading starts (if paused, it waits: a
    /// later start_reading delivers it).
    void deliver_first(Bytes data) { pending_first_ = std::move(data); }

    bool can_write_eof() const noexcept override { return false; }
    std::optional<SocketAddress> peername() const override { return udp_address(handle_, true); }
    std::optional<SocketAddress> sockname() const override { return udp_address(handle_, false); }
    NativeHandle native_handle() const noexcept override {
        uv_os_fd_t fd{};
        uv_fileno(reinterpret_cast<const uv_handle_t*>(&handle_), &fd);
        return fd; // an int on POSIX, the SOCKET as a HANDLE on Windows: NativeHandle's types
    }

protected:
    bool keeps_write_boundaries() const noexcept override { return true; }

    std::ptrdiff_t write_now(const ByteView* parts, std::size_t count) noexcept override {
        std::size_t taken = 0;
        for (std::size_t i = 0; i < count; ++i) {
            // A write larger than a datagram goes as several, each as large as UDP carries.
            for (ByteView rest = parts[i]; !rest.empty();) {
                const ByteView piece = rest.subview(0, std::min(rest.size(), max_udp_payload));
                const uv_buf_t buf = udp_buf(piece);
                const int rc = uv_udp_try_send(&handle_, &buf, 1, nullptr);
                if (rc == UV_EAGAIN || rc == UV_ENOBUFS) {
                    return static_cast<std::ptrdiff_t>(taken);
                }
                if (rc < 0) {
                    fail(uv_error(rc));
                    return -1;
                }
                taken += piece.size();
                rest = rest.subview(piece.size());
            }
        }
        return static_cast<std::ptrdiff_t>(taken);
    }

    void send_queued() noexcept override {
        // One queued write (one chunk: they are never joined) per request, at most a datagram.
        ByteView front;
        queue().gather_into(&front, 1, [](const std::byte* data, std::size_t size) {
            return ByteView(data, size);
        });
        const ByteView piece = front.subview(0, std::min(front.size(), max_udp_payload));
        const uv_buf_t buf = udp_buf(piece);
        send_.data = this;
        const int rc =
            uv_udp_send(&send_, &handle_, &buf, 1, nullptr, [](uv_udp_send_t* req, int status) {
                auto* self = static_cast<UdpConnection*>(req->data);
                self->send_completed(self->in_flight_,
                                     status < 0 ? uv_error(status) : std::error_code());
            });
        if (rc != 0) {
            fail(uv_error(rc));
            return;
        }
        queue().begin_flight(1);
        in_flight_ = piece.size();
    }

    bool start_reading() noexcept override {
        const int rc = uv_udp_recv_start(
            &handle_,
            [](uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
                // Always the loop's buffer, larger than any datagram: a datagram is read
                // whole, then handed over (to a BufferedProtocol in its buffers' pieces).
                const auto space = LoopAccess::read_buffer(of(handle).loop());
                *buf = uv_buf_init(reinterpret_cast<char*>(space.data()),
                                   static_cast<unsigned int>(space.size()));
            },
            [](uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr*, unsigned) {
                of(reinterpret_cast<uv_handle_t*>(handle)).received(nread, buf);
            });
        if (rc != 0) {
            fail(uv_error(rc));
            return false;
        }
        if (!pending_first_.empty()) {
            loop().call_soon([weak = weak_from_this()] {
                auto self = std::static_pointer_cast<UdpConnection>(weak.lock());
                if (self && self->is_reading()) { // else the next start_reading delivers it
                    self->delivered_copy(std::exchange(self->pending_first_, Bytes()));
                }
            });
        }
        return true;
    }

    void stop_reading() noexcept override { uv_udp_recv_stop(&handle_); }

    void close_handles() noexcept override {
        uv_close(reinterpret_cast<uv_handle_t*>(&handle_),
                 [](uv_handle_t* handle) { of(handle).handles_closed(); });
    }

private:
    static UdpConnection& of(uv_handle_t* handle) {
        return *static_cast<UdpConnection*>(handle->data);
    }

    void received(ssize_t nread, const uv_buf_t* buf) noexcept {
        if (nread < 0) {
            if (state() == State::open) {
                fail(uv_error(static_cast<int>(nread))); // ECONNREFUSED: the peer's port is closed
            }
            return;
        }
        delivered_copy(ByteView(reinterpret_cast<const std::byte*>(buf->base),
                                static_cast<std::size_t>(nread))); // empty: nothing
    }

    uv_udp_t handle_{};
    uv_udp_send_t send_{};
    std::size_t in_flight_ = 0;
    Bytes pending_first_;
    std::function<void(Result<FirstDatagram>)> first_waiter_;
};

/// Resolves `options` (awaitable).
Task<UdpAddresses> resolve_addresses(Loop& loop, const DatagramOptions& options) {
    Future<UdpAddresses> resolved(loop);
    resolve_udp_addresses(loop, options, settle(resolved));
    co_return co_await resolved;
}

/// A connection on a socket opened for `addresses`; discarded if opening fails.
std::shared_ptr<UdpConnection> open_connection(Loop& loop, const UdpAddresses& addresses,
                                               const DatagramOptions& options) {
    auto connection = UdpConnection::create(loop);
    try {
        open_udp_socket(loop, connection->handle(), addresses, options);
    } catch (...) {
        connection->discard();
        throw;
    }
    return connection;
}

/// Makes the protocol and starts `connection` with it; discards the connection if the factory
/// fails.
void start_connection(UdpConnection& connection, const ProtocolFactory& factory) {
    std::unique_ptr<Protocol> protocol;
    try {
        protocol = make_protocol(factory);
    } catch (...) {
        connection.discard();
        throw;
    }
    connection.start(std::move(protocol));
}

} // namespace
} // namespace detail

Task<std::shared_ptr<Transport>> connect_udp(Loop& loop, ProtocolFactory factory, std::string host,
                                             std::uint16_t port, DatagramOptions options) {
    options.remote_host = std::move(host);
    options.remote_port = port;
    auto resolving = detail::resolve_addresses(loop, options); // bound first: GCC PR 99576
    const detail::UdpAddresses addresses = co_await std::move(resolving);
    auto connection = detail::open_connection(loop, addresses, options);
    detail::start_connection(*connection, factory);
    co_return connection;
}

Task<std::shared_ptr<Transport>> accept_udp(Loop& loop, ProtocolFactory factory,
                                            DatagramOptions options,
                                            std::function<void(const SocketAddress&)> bound) {
    options.remote_host.reset();
    auto resolving = detail::resolve_addresses(loop, options); // bound first: GCC PR 99576
    const detail::UdpAddresses addresses = co_await std::move(resolving);
    auto connection = detail::open_connection(loop, addresses, options);
    std::optional<detail::FirstDatagram> first;
    try {
        if (bound) {
            if (auto local = connection->sockname()) {
                bound(*local);
            }
        }
        Future<detail::FirstDatagram> arrived(loop);
        connection->wait_first_datagram(settle(arrived));
        first = co_await arrived;
        detail::check_udp(uv_udp_connect(&connection->handle(), first->sender.native()),
                          "UDP: cannot connect to " + first->sender.to_string());
    } catch (...) {
        connection->discard(); // cancelled, or the peer could not be connected
        throw;
    }
    connection->deliver_first(std::move(first->data));
    detail::start_connection(*connection, factory);
    co_return connection;
}

} // namespace ferry
