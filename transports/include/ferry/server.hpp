#pragma once
/// Server: listening sockets (TCP or Unix) and the connections they accepted.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <ferry/address.hpp>
#include <ferry/loop.hpp>

namespace ferry {

/// A listening server made by create_server or create_unix_server. Loop thread only.
/// The loop keeps it alive while it listens or has clients; users hold std::shared_ptr<Server>.
class Server {
public:
    virtual ~Server() = default;

    /// The addresses listened on (with the real port when port 0 was asked for).
    virtual std::vector<SocketAddress> sockets() const = 0;
    /// The port of the first listening socket (0 for Unix sockets).
    std::uint16_t port() const;
    /// True until close() is called.
    virtual bool is_serving() const noexcept = 0;
    /// Stops listening. Accepted connections stay open. Safe to call twice.
    virtual void close() noexcept = 0;
    /// Closes every accepted connection (flushing what each has queued; over TLS, with
    /// close_notify).
    virtual void close_clients() noexcept = 0;
    /// Aborts every accepted connection (dropping what each has queued).
    virtual void abort_clients() noexcept = 0;
    /// Number of accepted connections still open.
    virtual std::size_t client_count() const noexcept = 0;
    /// Calls `callback` once the server is closed and every accepted connection is gone
    /// (asyncio's wait_closed); at once (on the next iteration) if that is already so.
    virtual void wait_closed(std::function<void()> callback) = 0;
};

} // namespace ferry
