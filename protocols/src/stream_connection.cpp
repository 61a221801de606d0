// StreamWriter, the protocol that feeds a StreamReader and StreamWriter, and the stream
// factories: open_connection, start_server and their Unix-socket forms.
#include <map>

#include <ferry/detail/task_runtime.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/serial.hpp>
#include <ferry/streams.hpp>
#include <ferry/sync.hpp>
#include <ferry/unix.hpp>

namespace ferry {
namespace detail {

/// What a StreamWriter needs to know of its connection: flow-control pauses and the loss.
struct WriterState {
    Transport* transport = nullptr;
    bool paused = false; // between pause_writing and resume_writing
    bool lost = false;
    std::error_code lost_error;
    WaitQueue drainers;
    WaitQueue closers;
};

/// Client tasks of a StreamServer, keyed by arrival.
struct ClientSet {
    std::map<std::uint64_t, TaskHandle<void>> tasks;
    std::uint64_t next_id = 0;
    Event idle; // set while no client task runs
    ClientSet() { idle.set(); }
};

namespace {

/// Feeds a StreamReader, tracks the writer's state (asyncio's StreamReaderProtocol). A
/// BufferedProtocol: the transport receives straight into the reader's buffer.
class StreamProtocol final : public BufferedProtocol {
public:
    StreamProtocol(Loop& loop, std::size_t limit,
                   std::function<void(StreamReader, StreamWriter)> on_connect)
        : reader(loop, limit), writer(std::make_shared<WriterState>()),
          on_connect_(std::move(on_connect)) {}

    void connection_made(Transport& transport) override {
        reader.set_transport(&transport);
        writer->transport = &transport;
        if (on_connect_) {
            on_connect_(reader, StreamConnection::pair_of(transport).second);
        }
    }
    std::span<std::byte> get_buffer(std::size_t size_hint) override {
        return reader.prepare(size_hint);
    }
    void buffer_updated(std::size_t nbytes) override { reader.commit(nbytes); }
    bool eof_received() override {
        reader.feed_eof();
        return true; // keep the sending side open; the writer closes it
    }
    void connection_lost(std::error_code error) override {
        if (error) {
            reader.set_exception(std::make_exception_ptr(
                ConnectionResetError(error, "connection lost: " + error.message())));
        } else {
            reader.feed_eof();
        }
        reader.set_transport(nullptr);
        writer->lost = true;
        writer->lost_error = error;
        writer->drainers.wake_all();
        writer->closers.wake_all();
    }
    void pause_writing() override { writer->paused = true; }
    void resume_writing() override {
        writer->paused = false;
        writer->drainers.wake_all();
    }

    StreamReader reader;
    std::shared_ptr<WriterState> writer;

private:
    std::function<void(StreamReader, StreamWriter)> on_connect_;
};

[[noreturn]] void throw_lost(const WriterState& state) {
    if (state.lost_error) {
        throw ConnectionResetError(state.lost_error,
                                   "connection lost: " + state.lost_error.message());
    }
    throw ConnectionResetError(make_error_code(errc::closed), "connection closed");
}

Task<void> drain_writer(std::shared_ptr<WriterState> state) {
    while (state->paused && !state->lost) {
        co_await QueueWait(state->drainers);
    }
    if (state->lost) {
        throw_lost(*state);
    }
}

Task<void> wait_writer_closed(std::shared_ptr<WriterState> state) {
    while (!state->lost) {
        co_await QueueWait(state->closers);
    }
}

/// Who a client is, for log lines: its address, or "a client" when there is none.
std::string client_name(StreamWriter& writer) {
    const auto peer = writer.transport().peername();
    return peer ? peer->to_string() : std::string("a client");
}

/// Runs one client's handler, then closes its connection however the handler ended. A client
/// that resets or vanishes mid-conversation is a normal end for a server, not a failure of the
/// handler: it is logged at debug level with the client's address, not reported as an
/// exception nobody retrieved.
Task<void> serve_client(ClientConnected handler, StreamReader reader, StreamWriter writer) {
    const std::string client = client_name(writer); // the transport may be gone at the end
    try {
        co_await handler(reader, writer);
    } catch (const ConnectionResetError& e) {
        log().debug("client {}: {}", client, e.what());
    } catch (...) {
        writer.close();
        throw;
    }
    writer.close();
}

/// The callback that spawns a client task per connection and tracks it in `clients`.
std::function<void(StreamReader, StreamWriter)> spawn_clients(Loop& loop, ClientConnected handler,
                                                              std::shared_ptr<ClientSet> clients) {
    return [&loop, handler = std::move(handler), clients](StreamReader r, StreamWriter w) {
        const std::uint64_t id = clients->next_id++;
        TaskHandle<void> task = loop.create_task(serve_client(handler, r, w));
        clients->tasks.emplace(id, task);
        clients->idle.clear();
        task.add_done_callback([weak = std::weak_ptr<ClientSet>(clients), id] {
            if (auto set = weak.lock()) {
                set->tasks.erase(id); // an exception nobody looked at is reported by the task
                if (set->tasks.empty()) {
                    set->idle.set();
                }
            }
        });
    };
}

} // namespace

ProtocolFactory
StreamConnection::factory(Loop& loop, std::size_t limit,
                          std::function<void(StreamReader, StreamWriter)> on_connect) {
    return [&loop, limit, on_connect = std::move(on_connect)] {
        return std::make_unique<StreamProtocol>(loop, limit, on_connect);
    };
}

std::pair<StreamReader, StreamWriter> StreamConnection::pair_of(Transport& transport) {
    auto& protocol = transport.protocol_as<StreamProtocol>();
    return {protocol.reader, StreamWriter(protocol.writer, transport.shared_from_this())};
}

} // namespace detail

void StreamWriter::write(ByteView data) const {
    transport_->write(data);
}

void StreamWriter::writelines(std::span<const ByteView> parts) const {
    transport_->writelines(parts);
}

Task<void> StreamWriter::drain() const {
    return detail::drain_writer(state_);
}

void StreamWriter::write_eof() const {
    transport_->write_eof();
}

bool StreamWriter::can_write_eof() const noexcept {
    return transport_->can_write_eof();
}

void StreamWriter::close() const {
    transport_->close();
}

bool StreamWriter::is_closing() const noexcept {
    return transport_->is_closing();
}

Task<void> StreamWriter::wait_closed() const {
    return detail::wait_writer_closed(state_);
}

Transport& StreamWriter::transport() const noexcept {
    return *transport_;
}

Task<StreamPair> open_connection(Loop& loop, std::string host, std::uint16_t port,
                                 ConnectOptions options, std::size_t limit) {
    auto transport =
        co_await create_connection(loop, detail::StreamConnection::factory(loop, limit, {}),
                                   std::move(host), port, std::move(options));
    co_return detail::StreamConnection::pair_of(*transport);
}

Task<StreamPair> open_unix_connection(Loop& loop, std::string path, std::size_t limit) {
    auto transport = co_await create_unix_connection(
        loop, detail::StreamConnection::factory(loop, limit, {}), std::move(path));
    co_return detail::StreamConnection::pair_of(*transport);
}

Task<StreamPair> open_serial_connection(Loop& loop, std::string path, SerialOptions options,
                                        std::size_t limit) {
    auto transport =
        create_serial_connection(loop, detail::StreamConnection::factory(loop, limit, {}),
                                 std::move(path), std::move(options));
    co_return detail::StreamConnection::pair_of(*transport.value()); // throws the open error
}

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
