// ListeningServer: accepting connections, tracking clients, and closing in asyncio's order.
#include "stream/listening_server.hpp"

#include <ferry/detail/loop_access.hpp>
#include <ferry/log.hpp>

#include "core/layered_transport.hpp"

namespace ferry {

std::uint16_t Server::port() const {
    auto addresses = sockets();
    return addresses.empty() ? 0 : addresses.front().port();
}

namespace detail {

struct ListeningServer::Listener {
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } handle;
    ListeningServer* server = nullptr;
    SocketAddress address;
    bool listening = false;

    uv_handle_t* as_handle() { return reinterpret_cast<uv_handle_t*>(&handle); }
    uv_stream_t* as_stream() { return reinterpret_cast<uv_stream_t*>(&handle); }
};

std::shared_ptr<ListeningServer> ListeningServer::create(Loop& loop, ProtocolFactory factory,
                                                         StreamTransport::Kind kind,
                                                         ClientOptions client_options) {
    if (detail::LoopAccess::is_shutting_down(loop)) {
        throw Error(make_error_code(errc::loop_closed), "the loop is closing");
    }
    auto server = std::make_shared<ListeningServer>(loop, std::move(factory), kind, client_options);
    server->self_ = server;
    detail::LoopAccess::register_resource(loop, *server);
    return server;
}

ListeningServer::ListeningServer(Loop& loop, ProtocolFactory factory, StreamTransport::Kind kind,
                                 ClientOptions client_options)
    : loop_(loop), factory_(std::move(factory)), kind_(kind), client_options_(client_options) {}

ListeningServer::~ListeningServer() = default;

ListeningServer::Listener* ListeningServer::new_listener() {
    auto* listener = new Listener();
    listener->server = this;
    listener->as_handle()->data = listener;
    listeners_.push_back(listener);
    ++open_listeners_;
    return listener;
}

int ListeningServer::listen_tcp(const SocketAddress& address, const ListenSocketOptions& options,
                                int backlog) {
    Listener* listener = new_listener();
    const unsigned int family =
        address.family() == SocketAddress::Family::ipv6 ? AF_INET6 : AF_INET;
    int rc = uv_tcp_init_ex(detail::LoopAccess::native(loop_), &listener->handle.tcp, family);
    if (rc != 0) {
        // Not initialised, so there is nothing to close: forget it.
        listeners_.pop_back();
        --open_listeners_;
        delete listener;
        return rc;
    }
    rc = bind_listening_socket(&listener->handle.tcp, address, options);
    if (rc == 0) {
        rc = uv_listen(listener->as_stream(), backlog, [](uv_stream_t* stream, int status) {
            auto* l = static_cast<Listener*>(stream->data);
            l->server->on_connection(*l, status);
        });
    }
    if (rc == 0) {
        sockaddr_storage storage{};
        int length = sizeof storage;
        uv_tcp_getsockname(&listener->handle.tcp, reinterpret_cast<sockaddr*>(&storage), &length);
        listener->address =
            SocketAddress(reinterpret_cast<sockaddr*>(&storage), static_cast<std::size_t>(length));
        listener->listening = true;
    }
    return rc;
}

int ListeningServer::listen_pipe(const std::string& path, int backlog) {
    Listener* listener = new_listener();
    int rc = uv_pipe_init(detail::LoopAccess::native(loop_), &listener->handle.pipe, 0);
    if (rc != 0) {
        listeners_.pop_back();
        --open_listeners_;
        delete listener;
        return rc;
    }
    rc = uv_pipe_bind(&listener->handle.pipe, path.c_str());
    if (rc == 0) {
        rc = uv_listen(listener->as_stream(), backlog, [](uv_stream_t* stream, int status) {
            auto* l = static_cast<Listener*>(stream->data);
            l->server->on_connection(*l, status);
        });
    }
    if (rc == 0) {
        listener->address = SocketAddress::from_unix_path(path);
        listener->listening = true;
    }
    return rc;
}

void ListeningServer::on_connection(Listener& listener, int status) {
    if (status != 0) {
        // EMFILE and friends: the listener stays up; asyncio logs and goes on too.
        log().error("accept on {} failed: {}", listener.address.to_string(), uv_strerror(status));
        return;
    }
    if (!serving_) {
        return;
    }
    std::shared_ptr<StreamTransport> client;
    try {
        client = StreamTransport::create(loop_, kind_);
    } catch (const Error& e) {
        log().error("accept on {} failed: {}", listener.address.to_string(), e.what());
        return;
    }
    const int rc = uv_accept(listener.as_stream(), client->stream());
    if (rc != 0) {
        log().error("accept on {} failed: {}", listener.address.to_string(), uv_strerror(rc));
        client->discard();
        return;
    }
    if (kind_ == StreamTransport::Kind::tcp) {
        uv_tcp_nodelay(client->tcp(), client_options_.nodelay ? 1 : 0);
        if (client_options_.keepalive) {
            uv_tcp_keepalive(client->tcp(), 1,
                             static_cast<unsigned int>(client_options_.keepalive->count()));
        }
    }
    std::unique_ptr<Protocol> protocol;
    const bool made = detail::invoke_guarded(loop_, "exception in server protocol factory",
                                             [&] { protocol = make_protocol(factory_); });
    if (!made) {
        client->discard();
        return;
    }
    add_client(*client);
    client->start(std::move(protocol));
}

void ListeningServer::client_released() noexcept {
    finish_if_closed();
}

std::vector<SocketAddress> ListeningServer::sockets() const {
    std::vector<SocketAddress> addresses;
    for (const Listener* listener : listeners_) {
        if (listener->listening) {
            addresses.push_back(listener->address);
        }
    }
    return addresses;
}

void ListeningServer::close() noexcept {
    if (!serving_) {
        return;
    }
    serving_ = false;
    // Keep alive until every listener's close callback has run, even if the user lets go.
    auto keep_alive = shared_from_this();
    auto listeners = listeners_;
    for (Listener* listener : listeners) {
        listener->listening = false;
        uv_close(listener->as_handle(), [](uv_handle_t* handle) {
            auto* l = static_cast<Listener*>(handle->data);
            l->server->on_listener_closed(l);
        });
    }
    finish_if_closed();
}

void ListeningServer::on_listener_closed(Listener* listener) {
    std::erase(listeners_, listener);
    delete listener;
    --open_listeners_;
    finish_if_closed();
}

void ListeningServer::close_clients() noexcept {
    for (StreamTransport* client : clients()) {
        // A layer on top closes itself, which closes the connection after its last words
        // (TLS's close_notify: without it the peer sees the connection cut short).
        topmost_layer(*client).close();
    }
}

void ListeningServer::abort_clients() noexcept {
    for (StreamTransport* client : clients()) {
        client->abort();
    }
}

void ListeningServer::close_for_loop_shutdown() noexcept {
    close();
    abort_clients();
}

void ListeningServer::wait_closed(std::function<void()> callback) {
    if (finished_) {
        loop_.call_soon(std::move(callback));
        return;
    }
    closed_waiters_.push_back(std::move(callback));
}

void ListeningServer::finish_if_closed() {
    if (serving_ || open_listeners_ != 0 || ClientOwner::client_count() != 0 || finished_) {
        return;
    }
    finished_ = true;
    // Released last: the waiters may drop every other reference to this server.
    auto keep_alive = std::move(self_);
    detail::LoopAccess::unregister_resource(loop_, *this);
    auto waiters = std::move(closed_waiters_);
    for (auto& waiter : waiters) {
        detail::invoke_guarded(loop_, "exception in wait_closed callback", waiter);
    }
}

} // namespace detail
} // namespace ferry
