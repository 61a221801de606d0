#pragma once
/// TCP: create_connection and create_server, asyncio's names over libuv.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/result.hpp>
#include <ferry/server.hpp>
#include <ferry/task.hpp>
#include <ferry/tls.hpp>
#include <ferry/transport.hpp>

namespace ferry {

/// Which address families a name may resolve to.
enum class AddressFamily { any, ipv4, ipv6 };

/// Options for create_connection.
struct ConnectOptions {
    // Not an aggregate (this constructor), on purpose: GCC 12 miscompiles aggregate
    // temporaries inside co_await expressions (members built in one place, a bitwise copy used,
    // both destroyed), and these options are passed to awaitable functions by value.
    ConnectOptions() = default;
    /// Give up after this long, over all addresses (zero: only the OS's own timeout).
    std::chrono::milliseconds timeout{0};
    /// Bind the local end to this address first (numeric or a name).
    std::optional<std::string> local_host{};
    /// Local port to bind (with local_host; 0 = any).
    std::uint16_t local_port = 0;
    /// TCP_NODELAY: send small writes at once (asyncio's default too).
    bool nodelay = true;
    /// Enables TCP keepalive with this idle delay.
    std::optional<std::chrono::seconds> keepalive{};
    /// Restricts resolution to one family.
    AddressFamily family = AddressFamily::any;
    /// Speak TLS over the connection with this client context (asyncio's ssl=): the factory's
    /// protocol starts once the handshake completed, and a failed handshake reaches the
    /// callback like a failed connect.
    std::shared_ptr<TlsContext> tls{};
    /// The handshake's settings; server_hostname defaults to `host`.
    TlsStartOptions tls_options{};
};

/// Options for create_server.
struct ServerOptions {
    // Not an aggregate (this constructor), on purpose: GCC 12 miscompiles aggregate
    // temporaries inside co_await expressions (members built in one place, a bitwise copy used,
    // both destroyed), and these options are passed to awaitable functions by value.
    ServerOptions() = default;
    /// listen() backlog.
    int backlog = 100;
    /// SO_REUSEADDR: rebind a port with connections in TIME_WAIT (on by default, as asyncio).
    bool reuse_address = true;
    /// SO_REUSEPORT: several servers share one port (Linux load-balances between them).
    bool reuse_port = false;
    /// TCP_NODELAY on accepted connections.
    bool nodelay = true;
    /// Enables TCP keepalive on accepted connections with this idle delay.
    std::optional<std::chrono::seconds> keepalive{};
    /// Restricts resolution to one family.
    AddressFamily family = AddressFamily::any;
    /// Serve TLS with this server context: each accepted connection's protocol starts once
    /// its handshake completed; a client that fails it is logged (warning) and dropped.
    std::shared_ptr<TlsContext> tls{};
    /// The handshake's settings.
    TlsStartOptions tls_options{};
};

/// Receives a connected transport, or the error that prevented it.
using TransportCallback = std::function<void(Result<std::shared_ptr<Transport>>)>;
/// Receives a listening server, or the error that prevented it.
using ServerCallback = std::function<void(Result<std::shared_ptr<Server>>)>;

/// Connects to host:port, trying every resolved address (IPv4 and IPv6) in order. On success
/// calls the factory, then connection_made, then `done` with the transport. A failure reaches
/// `done` as a ferry::Error whose message names host:port and the OS reason per address.
void create_connection(Loop& loop, ProtocolFactory factory, std::string host, std::uint16_t port,
                       ConnectOptions options, TransportCallback done);

/// Listens on every address `host` resolves to ("" = all interfaces, IPv4 and IPv6). Port 0
/// picks an ephemeral port, shared by all the listening sockets; Server::port() reports it.
/// The factory is called once per accepted connection.
void create_server(Loop& loop, ProtocolFactory factory, std::string host, std::uint16_t port,
                   ServerOptions options, ServerCallback done);

/// Awaitable create_connection: yields the connected transport or throws ferry::Error naming
/// host:port. Cancelling the awaiting task abandons the attempt; a connection that completes
/// afterwards is aborted, never leaked.
Task<std::shared_ptr<Transport>> create_connection(Loop& loop, ProtocolFactory factory,
                                                   std::string host, std::uint16_t port,
                                                   ConnectOptions options = {});

/// Awaitable create_server: yields the listening server or throws ferry::Error. A server that
/// starts after the awaiting task was cancelled is closed at once.
Task<std::shared_ptr<Server>> create_server(Loop& loop, ProtocolFactory factory, std::string host,
                                            std::uint16_t port, ServerOptions options = {});

} // namespace ferry
