#pragma once
/// Unix domain sockets (named pipes on Windows): create_unix_connection, create_unix_server.

#include <memory>
#include <string>

#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/result.hpp>
#include <ferry/server.hpp>
#include <ferry/tcp.hpp>
#include <ferry/transport.hpp>

namespace ferry {

/// Options for create_unix_server.
struct UnixServerOptions {
    /// listen() backlog.
    int backlog = 100;
    /// Removes a stale socket file at `path` before binding (asyncio does the same).
    /// The socket file is always removed when the server closes (libuv does that).
    bool remove_stale_socket = true;
};

/// Connects to the Unix socket (or Windows named pipe) at `path`; `done` receives the
/// transport after connection_made, or an error naming the path.
void create_unix_connection(Loop& loop, ProtocolFactory factory, std::string path,
                            TransportCallback done);

/// Listens on the Unix socket (or Windows named pipe) at `path`. Binding happens at once, so
/// the result is returned, not called back; a failure names the path and the OS reason.
/// Awaitable create_unix_connection (same cancellation guarantee as create_connection).
Task<std::shared_ptr<Transport>> create_unix_connection(Loop& loop, ProtocolFactory factory,
                                                        std::string path);

Result<std::shared_ptr<Server>> create_unix_server(Loop& loop, ProtocolFactory factory,
                                                   std::string path,
                                                   UnixServerOptions options = {});

} // namespace ferry
