#pragma once
// ListeningServer: the Server behind create_server and create_unix_server (listening sockets,
// accepted clients). Not the streams layer's StreamServer, which wraps one of these.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <uv.h>

#include <ferry/detail/loop_access.hpp>
#include <ferry/server.hpp>
#include <ferry/tcp.hpp>

#include "stream/socket_platform.hpp"
#include "stream/stream_transport.hpp"

namespace ferry::detail {

/// Listening sockets of one kind (TCP or pipe) and the clients they accepted. Holds a
/// reference to itself while it listens or has clients; registered with the loop meanwhile.
class ListeningServer final : public Server,
                              public LoopResource,
                              private ClientOwner,
                              public std::enable_shared_from_this<ListeningServer> {
public:
    /// What accepted TCP connections get.
    struct ClientOptions {
        bool nodelay = true;
        std::optional<std::chrono::seconds> keepalive;
    };

    /// A server with no listeners yet; add them, then activate().
    static std::shared_ptr<ListeningServer> create(Loop& loop, ProtocolFactory factory,
                                                   StreamTransport::Kind kind,
                                                   ClientOptions client_options);
    ListeningServer(Loop& loop, ProtocolFactory factory, StreamTransport::Kind kind,
                    ClientOptions client_options); // use create()
    ~ListeningServer() override;

    /// Binds and listens on a TCP address. Returns 0 or a libuv error code.
    int listen_tcp(const SocketAddress& address, const ListenSocketOptions& options, int backlog);
    /// Binds and listens on a Unix socket path (or named pipe). Returns 0 or a libuv error.
    int listen_pipe(const std::string& path, int backlog);

    std::vector<SocketAddress> sockets() const override;
    bool is_serving() const noexcept override { return serving_; }
    void close() noexcept override;
    void close_clients() noexcept override;
    void abort_clients() noexcept override;
    std::size_t client_count() const noexcept override { return ClientOwner::client_count(); }
    void wait_closed(std::function<void()> callback) override;
    void close_for_loop_shutdown() noexcept override;

private:
    struct Listener;
    Listener* new_listener();
    void on_connection(Listener& listener, int status);
    void on_listener_closed(Listener* listener);
    void client_released() noexcept override;
    void finish_if_closed();

    Loop& loop_;
    ProtocolFactory factory_;
    StreamTransport::Kind kind_;
    ClientOptions client_options_;
    std::vector<Listener*> listeners_;
    std::size_t open_listeners_ = 0;
    std::vector<std::function<void()>> closed_waiters_;
    bool serving_ = true;
    bool finished_ = false;
    std::shared_ptr<ListeningServer> self_;
};

} // namespace ferry::detail
