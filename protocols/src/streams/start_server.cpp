// start_server / start_unix_server: a task per client, and the StreamServer that tracks them.
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/streams.hpp>
#include <ferry/unix.hpp>

#include "streams/stream_state.hpp"

namespace ferry {
namespace detail {
namespace {

/// Who a client is, for log lines: its address, or "a client" when there is none.
std::string client_name(StreamWriter& writer) {
    const auto peer = writer.transport().peername();
    return peer ? peer->to_string() : std::string("a client");
}

/// Takes a finished client out of its server's set (and marks the server idle after the last).
void forget_client(const std::weak_ptr<ClientSet>& clients, std::uint64_t id) noexcept {
    if (auto set = clients.lock()) {
        set->tasks.erase(id); // the loop still holds the task until it has finished
        if (set->tasks.empty()) {
            set->idle.set();
        }
    }
}

/// Runs one client's handler, then closes its connection however the handler ended, and
/// leaves the server's set itself (no done callback per client: that was 150 bytes each). A
/// client that resets or vanishes mid-conversation is a normal end for a server, not a failure
/// of the handler: it is logged at debug level with the client's address, not reported as an
/// exception nobody retrieved (other exceptions are, by the task).
Task<void> serve_client(ClientConnected handler, StreamReader reader, StreamWriter writer,
                        std::weak_ptr<ClientSet> clients, std::uint64_t id, std::string client) {
    try {
        co_await handler(reader, writer);
    } catch (const ConnectionResetError& e) {
        log().debug("client {}: {}", client, e.what());
    } catch (...) {
        writer.close();
        forget_client(clients, id);
        throw;
    }
    writer.close();
    forget_client(clients, id);
}

/// The callback that spawns a client task per connection and tracks it in `clients`.
std::function<void(StreamReader, StreamWriter)> spawn_clients(Loop& loop, ClientConnected handler,
                                                              std::shared_ptr<ClientSet> clients) {
    return [&loop, handler = std::move(handler), clients](StreamReader r, StreamWriter w) {
        const std::uint64_t id = clients->next_id++;
        // Named now, at accept: a client that resets before its task first runs (a loaded
        // server) has no peer address by then. Only when the line can be logged (a
        // getpeername system call per client otherwise).
        std::string client =
            log().should_log(spdlog::level::debug) ? client_name(w) : std::string("a client");
        clients->tasks.emplace(
            id, loop.create_task(serve_client(handler, r, w, clients, id, std::move(client))));
        clients->idle.clear();
    };
}

} // namespace
} // namespace detail

StreamServer::StreamServer(std::shared_ptr<Server> server,
                           std::shared_ptr<detail::ClientSet> clients)
    : server_(std::move(server)), clients_(std::move(clients)) {}

std::size_t StreamServer::client_count() const noexcept {
    return clients_->tasks.size();
}

void StreamServer::cancel_clients() {
    for (auto& [id, task] : clients_->tasks) {
        task.cancel();
    }
}

Task<void> StreamServer::wait_closed() const {
    std::shared_ptr<Server> server = server_;
    std::shared_ptr<detail::ClientSet> clients = clients_;
    Future<void> closed(get_running_loop());
    server->wait_closed([closed]() mutable {
        if (!closed.done()) {
            closed.set_result();
        }
    });
    co_await closed;
    co_await clients->idle.wait();
}

Task<std::shared_ptr<StreamServer>> start_server(Loop& loop, ClientConnected client_connected,
                                                 std::string host, std::uint16_t port,
                                                 ServerOptions options, std::size_t limit) {
    auto clients = std::make_shared<detail::ClientSet>();
    auto server = co_await create_server(
        loop,
        detail::StreamConnection::factory(
            loop, limit, detail::spawn_clients(loop, std::move(client_connected), clients)),
        std::move(host), port, std::move(options));
    co_return std::make_shared<StreamServer>(std::move(server), clients);
}

Task<std::shared_ptr<StreamServer>> start_unix_server(Loop& loop, ClientConnected client_connected,
                                                      std::string path, std::size_t limit) {
    auto clients = std::make_shared<detail::ClientSet>();
    auto server = create_unix_server(
        loop,
        detail::StreamConnection::factory(
            loop, limit, detail::spawn_clients(loop, std::move(client_connected), clients)),
        std::move(path));
    // value() throws ferry::Error naming the path when listening failed.
    co_return std::make_shared<StreamServer>(std::move(server).value(), clients);
}

} // namespace ferry
