// TLS records on the wire: fed in every chunk size, over a pty pair, 64 MiB each way under
// back-pressure, garbage after the handshake, a peer that vanishes mid-record, and STARTTLS on
// a connection that carried plaintext first; a server closing its clients, against Python's ssl.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <ferry/ferry.hpp>

#include "../support/test_pki.hpp"
#include "../support/test_support.hpp"
#include "../support/transfer.hpp"
#include "../support/wired.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<TlsContext> server_context() {
    TlsOptions o;
    o.cert_file = test_pki().server_cert;
    o.key_file = test_pki().server_key;
    return TlsContext::server(o);
}

std::shared_ptr<TlsContext> client_context() {
    TlsOptions o;
    o.ca_file = test_pki().ca_cert;
    return TlsContext::client(o);
}

TlsStartOptions to_localhost() {
    TlsStartOptions o;
    o.server_hostname = "localhost";
    return o;
}

const ProtocolFactory idle = [] { return std::make_unique<Protocol>(); };

/// A TLS client and server, each over a socket pair whose raw ends the test joins by hand:
/// every byte between them passes through pump(), in pieces of the size it is given.
class TlsWireTest : public LoopTest {
protected:
    void start(ProtocolFactory client_factory, ProtocolFactory server_factory) {
        Wired client_wire = wire_socket(loop, idle);
        Wired server_wire = wire_socket(loop, idle);
        client_raw = std::move(client_wire.peer);
        server_raw = std::move(server_wire.peer);
        start_tls(
            client_wire.transport, client_context(), to_localhost(), std::move(client_factory),
            [this](Result<std::shared_ptr<TlsTransport>> r) { client.emplace(std::move(r)); });
        start_tls(
            server_wire.transport, server_context(), {}, std::move(server_factory),
            [this](Result<std::shared_ptr<TlsTransport>> r) { server.emplace(std::move(r)); });
    }

    /// Moves what each raw end has read to the other, `chunk` bytes per write with a loop turn
    /// after each; returns the bytes moved.
    std::size_t pump(std::size_t chunk) {
        std::size_t moved = 0;
        for (auto [from, to] :
             {std::pair{&client_raw, &server_raw}, std::pair{&server_raw, &client_raw}}) {
            char buffer[65536];
            const std::ptrdiff_t n = from->read_some(buffer, sizeof buffer);
            for (std::ptrdiff_t at = 0; n > 0 && at < n;) {
                const std::size_t piece =
                    std::min<std::size_t>(chunk, static_cast<std::size_t>(n - at));
                EXPECT_TRUE(to->write(std::string_view(buffer + at, piece)));
                at += static_cast<std::ptrdiff_t>(piece);
                loop.run_once(false);
            }
            moved += n > 0 ? static_cast<std::size_t>(n) : 0;
        }
        loop.run_once(false);
        return moved;
    }

    /// Pumps until `done` or 20 s.
    bool pump_until(std::size_t chunk, const std::function<bool()>& done) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            if (pump(chunk) == 0) {
                // The loop does not watch the raw ends: look again shortly.
                std::this_thread::sleep_for(100us);
            }
        }
        return done();
    }

    Peer client_raw;
    Peer server_raw;
    std::optional<Result<std::shared_ptr<TlsTransport>>> client;
    std::optional<Result<std::shared_ptr<TlsTransport>>> server;
};

class Echo final : public Protocol {
    void connection_made(Transport& transport) override { transport_ = &transport; }
    void data_received(ByteView data) override { transport_->write(data); }
    Transport* transport_ = nullptr;
};

TEST_F(TlsWireTest, RecordsArriveInEveryChunkSize) {
    std::vector<std::size_t> sizes;
    for (std::size_t n = 1; n <= 64; ++n) {
        sizes.push_back(n);
    }
    for (std::size_t n : {100, 257, 1000, 1500, 4096, 16389, 65536}) {
        sizes.push_back(n);
    }
    for (const std::size_t chunk : sizes) {
        SCOPED_TRACE("chunk " + std::to_string(chunk));
        client.reset();
        server.reset();
        auto seen = std::make_shared<Recording>();
        start(recording_factory(seen), [] { return std::make_unique<Echo>(); });
        ASSERT_TRUE(pump_until(chunk, [&] { return client && server; }));
        ASSERT_TRUE(client->ok()) << client->message();
        ASSERT_TRUE(server->ok()) << server->message();
        const std::string message(3000, static_cast<char>('a' + chunk % 26));
        client->value()->write(message);
        ASSERT_TRUE(pump_until(chunk, [&] { return seen->data.size() == message.size(); }));
        EXPECT_EQ(seen->data, message);
        client->value()->abort();
        server->value()->abort();
        run_until(loop, [&] { return seen->has_lost(); });
    }
}

TEST_F(TlsWireTest, GarbageAfterTheHandshakeEndsTheConnectionAfterWhatCameBefore) {
    auto at_server = std::make_shared<Recording>();
    start(idle, recording_factory(at_server));
    ASSERT_TRUE(pump_until(65536, [&] { return client && server; }));
    ASSERT_TRUE(client->ok() && server->ok());
    client->value()->write("before the garbage");
    ASSERT_TRUE(pump_until(65536, [&] { return at_server->data.size() == 18; }));
    // An application-data record header with a body that does not decrypt.
    std::string garbage("\x17\x03\x03\x00\x20", 5);
    garbage += std::string(32, '\x5a');
    ASSERT_TRUE(server_raw.write(garbage));
    ASSERT_TRUE(run_until(loop, [&] { return at_server->has_lost(); }));
    EXPECT_EQ(at_server->data, "before the garbage");
    EXPECT_EQ(at_server->lost_error, make_error_code(errc::tls_protocol_error))
        << at_server->lost_error.message();
    client->value()->abort();
}

TEST_F(TlsWireTest, APeerThatVanishesMidRecordIsATruncation) {
    auto at_server = std::make_shared<Recording>();
    start(idle, recording_factory(at_server));
    ASSERT_TRUE(pump_until(65536, [&] { return client && server; }));
    ASSERT_TRUE(client->ok() && server->ok());
    client->value()->write("whole");
    ASSERT_TRUE(pump_until(65536, [&] { return at_server->data == "whole"; }));
    client->value()->write("this record is cut short");
    const std::string record = peer_read(loop, client_raw, 30, 2s);
    ASSERT_GE(record.size(), 30u);
    ASSERT_TRUE(server_raw.write(record.substr(0, 10))); // part of the record, then gone
    server_raw.shutdown_write();
    ASSERT_TRUE(run_until(loop, [&] { return at_server->has_lost(); }));
    EXPECT_EQ(at_server->data, "whole");
    EXPECT_EQ(at_server->lost_error, make_error_code(errc::tls_truncated))
        << at_server->lost_error.message();
    client->value()->abort();
}

TEST_F(TlsWireTest, APeerThatEndsBetweenRecordsWithoutCloseNotifyIsAnEnd) {
    auto at_server = std::make_shared<Recording>();
    start(idle, recording_factory(at_server));
    ASSERT_TRUE(pump_until(65536, [&] { return client && server; }));
    ASSERT_TRUE(client->ok() && server->ok());
    client->value()->write("last words");
    ASSERT_TRUE(pump_until(65536, [&] { return at_server->data == "last words"; }));
    server_raw.shutdown_write();
    ASSERT_TRUE(run_until(loop, [&] { return at_server->has_lost(); }));
    EXPECT_EQ(at_server->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));
    client->value()->abort();
}

TEST(TlsServerTest, CloseClientsEndsEachTlsConnectionWithCloseNotify) {
    // Python's ssl tells the two ends apart, with suppress_ragged_eofs=False and without the
    // OP_IGNORE_UNEXPECTED_EOF Debian's Python sets: close_notify reads as b'', a connection
    // closed underneath it as an SSLError (unexpected EOF).
    const char* script = "import socket, ssl, sys\n"
                         "ctx = ssl.create_default_context(cafile=sys.argv[1])\n"
                         "ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF\n"
                         "raw = socket.create_connection(('127.0.0.1', int(sys.argv[2])), 20)\n"
                         "tls = ctx.wrap_socket(raw, server_hostname='localhost',\n"
                         "                      suppress_ragged_eofs=False)\n"
                         "tls.sendall(b'hello')\n"
                         "try:\n"
                         "    while tls.recv(4096):\n"
                         "        pass\n"
                         "    print('close_notify', flush=True)\n"
                         "except ssl.SSLError as e:\n"
                         "    print('cut short:', e, flush=True)\n";
    Loop loop;
    auto at_server = std::make_shared<Recording>();
    ServerOptions options;
    options.tls = server_context();
    auto server = start_server(loop, recording_factory(at_server), "127.0.0.1", options);
    ::setenv("FERRY_TLS_PEER", script, 1);
    const std::string command = "/usr/bin/python3 -c \"$FERRY_TLS_PEER\" " + test_pki().ca_cert +
                                " " + std::to_string(server->port());
    FILE* peer = ::popen(command.c_str(), "r");
    ASSERT_NE(peer, nullptr);
    ASSERT_TRUE(run_until(loop, [&] { return at_server->data == "hello"; }));
    server->close_clients();
    ASSERT_TRUE(run_until(loop, [&] { return at_server->has_lost(); }));
    EXPECT_FALSE(at_server->lost_error) << at_server->lost_error.message();
    char line[256] = {};
    ASSERT_NE(std::fgets(line, sizeof line, peer), nullptr) << "the Python client said nothing";
    EXPECT_STREQ(line, "close_notify\n");
    EXPECT_EQ(::pclose(peer), 0);
    server->close();
}

// ---- over other transports ------------------------------------------------------------------

TEST(TlsOverPtyTest, TlsRunsOverASerialPortAndThePtyBehindIt) {
    Loop loop;
    auto device = create_pty(loop, idle);
    ASSERT_TRUE(device.ok()) << device.message();
    auto port = create_serial_connection(loop, idle, device.value()->path());
    ASSERT_TRUE(port.ok()) << port.message();
    auto at_port = std::make_shared<Recording>();
    std::optional<Result<std::shared_ptr<TlsTransport>>> client;
    std::optional<Result<std::shared_ptr<TlsTransport>>> server;
    start_tls(
        device.value(), server_context(), {}, [] { return std::make_unique<Echo>(); },
        [&](Result<std::shared_ptr<TlsTransport>> r) { server.emplace(std::move(r)); });
    start_tls(port.value(), client_context(), to_localhost(), recording_factory(at_port),
              [&](Result<std::shared_ptr<TlsTransport>> r) { client.emplace(std::move(r)); });
    ASSERT_TRUE(run_until(loop, [&] { return client && server; }));
    ASSERT_TRUE(client->ok()) << client->message();
    ASSERT_TRUE(server->ok()) << server->message();
    const std::string message(100000, 'p');
    client->value()->write(message);
    ASSERT_TRUE(run_until(loop, [&] { return at_port->data.size() == message.size(); }));
    EXPECT_EQ(at_port->data, message);
    EXPECT_EQ(client->value()->lower_transport().native_handle(), port.value()->native_handle());
    client->value()->close();
    ASSERT_TRUE(run_until(loop, [&] { return at_port->has_lost(); }));
    EXPECT_FALSE(at_port->lost_error) << at_port->lost_error.message();
    server->value()->abort();
    loop.close();
}

// ---- STARTTLS --------------------------------------------------------------------------------

/// A line protocol that says "STARTTLS", and upgrades its own connection when the server
/// answers "GO" — start_tls from inside data_received, keeping itself as the protocol.
class StartTlsClient final : public Protocol {
public:
    explicit StartTlsClient(std::shared_ptr<Recording> recording)
        : recording_(std::move(recording)) {}
    void connection_made(Transport& transport) override {
        transport_ = &transport;
        ++recording_->made;
        if (!upgraded_) {
            transport.write("STARTTLS\n");
        } else {
            transport.write("secret\n");
        }
    }
    void data_received(ByteView data) override {
        recording_->data.append(data.as_string_view());
        if (!upgraded_ && data.as_string_view() == "GO\n") {
            upgraded_ = true;
            start_tls(transport_->shared_from_this(), client_context(), to_localhost(), nullptr,
                      [recording = recording_](Result<std::shared_ptr<TlsTransport>> r) {
                          recording->events.push_back(r.ok() ? "tls" : "failed: " + r.message());
                      });
        }
    }
    void connection_lost(std::error_code error) override {
        ++recording_->lost;
        recording_->lost_error = error;
    }

private:
    std::shared_ptr<Recording> recording_;
    Transport* transport_ = nullptr;
    bool upgraded_ = false;
};

/// The server side: answers "GO" and upgrades with a factory of its own.
class StartTlsServer final : public Protocol {
public:
    explicit StartTlsServer(std::shared_ptr<Recording> secure) : secure_(std::move(secure)) {}
    void connection_made(Transport& transport) override { transport_ = &transport; }
    void data_received(ByteView data) override {
        if (data.as_string_view() == "STARTTLS\n") {
            transport_->write("GO\n");
            start_tls(transport_->shared_from_this(), server_context(), {},
                      recording_factory(secure_), [](auto) {});
        }
    }

private:
    std::shared_ptr<Recording> secure_;
    Transport* transport_ = nullptr;
};

TEST(StartTlsTest, AConnectionThatCarriedPlaintextIsUpgradedFromInsideItsCallbacks) {
    Loop loop;
    auto client_side = std::make_shared<Recording>();
    auto secure = std::make_shared<Recording>();
    auto [a, b] = wire_transports(
        loop, [client_side] { return std::make_unique<StartTlsClient>(client_side); },
        [secure] { return std::make_unique<StartTlsServer>(secure); });
    ASSERT_TRUE(run_until(loop, [&] { return secure->data == "secret\n"; }));
    EXPECT_EQ(client_side->events, std::vector<std::string>{"tls"});
    EXPECT_EQ(client_side->made, 2); // once plain, once over TLS
    EXPECT_EQ(client_side->data, "GO\n");
    EXPECT_EQ(secure->made, 1);
    auto* tls = dynamic_cast<TlsTransport*>(secure->transport);
    ASSERT_NE(tls, nullptr);
    EXPECT_EQ(&tls->lower_transport(), b.get());
    tls->close();
    ASSERT_TRUE(run_until(loop, [&] { return client_side->lost == 1 && secure->has_lost(); }));
    EXPECT_FALSE(client_side->lost_error) << client_side->lost_error.message();
    loop.close();
}

TEST(StartTlsTest, TheAwaitableFormUpgradesAndCancellingItAbortsTheConnection) {
    Loop loop;
    auto secure = std::make_shared<Recording>();
    auto [a, b] = wire_transports(loop, idle, idle);
    std::shared_ptr<TlsTransport> server_tls;
    start_tls(b, server_context(), {}, recording_factory(secure),
              [&](Result<std::shared_ptr<TlsTransport>> r) {
                  if (r.ok()) {
                      server_tls = r.value();
                  }
              });
    auto upgraded = loop.run_until_complete(start_tls(a, client_context(), to_localhost(), idle));
    ASSERT_TRUE(upgraded);
    EXPECT_EQ(upgraded->tls_version(), "TLSv1.3");
    upgraded->write("ping");
    ASSERT_TRUE(run_until(loop, [&] { return secure->data == "ping"; }));
    upgraded->abort();
    ASSERT_TRUE(run_until(loop, [&] { return secure->has_lost(); }));

    // Cancelled before the (silent) peer answers: the connection is aborted, not leaked.
    const auto second = wire_transports(loop, idle, idle); // captured below: no binding
    const auto& c = second.first;
    const auto& d = second.second;
    auto task = loop.create_task(start_tls(c, client_context(), to_localhost(), idle));
    loop.call_later(50ms, [&] { task.cancel(); });
    ASSERT_TRUE(run_until(
        loop, [&] { return task.done(); }, 5s));
    EXPECT_TRUE(task.cancelled());
    ASSERT_TRUE(run_until(
        loop, [&] { return c->is_closing(); }, 2s));
    d->abort();
    loop.close();
}

// ---- bulk --------------------------------------------------------------------------------

/// Echoes with flow control: stops reading while its own writes are backed up.
class FlowEcho final : public Protocol {
    void connection_made(Transport& transport) override { transport_ = &transport; }
    void data_received(ByteView data) override { transport_->write(data); }
    void pause_writing() override { transport_->pause_reading(); }
    void resume_writing() override { transport_->resume_reading(); }
    Transport* transport_ = nullptr;
};

/// Sends `total` random bytes as fast as the water marks allow and checks what comes back.
class BulkSender final : public Protocol {
public:
    struct Stats {
        std::size_t sent = 0;
        std::size_t received = 0;
        Checksum sent_checksum;
        Checksum received_checksum;
        int pauses = 0;
        bool done = false;
        bool lost = false;
    };
    BulkSender(Stats& stats, std::size_t total) : stats_(stats), total_(total), block_(65536, 0) {}
    void connection_made(Transport& transport) override {
        transport_ = &transport;
        send();
    }
    void data_received(ByteView data) override {
        stats_.received_checksum.add(data.data(), data.size());
        stats_.received += data.size();
        stats_.done = stats_.received >= total_;
    }
    void pause_writing() override {
        paused_ = true;
        ++stats_.pauses;
    }
    void resume_writing() override {
        paused_ = false;
        send();
    }
    void connection_lost(std::error_code) override { stats_.lost = true; }

private:
    void send() {
        while (!paused_ && stats_.sent < total_) {
            fill_random(block_, random_);
            stats_.sent_checksum.add(block_.data(), block_.size());
            stats_.sent += block_.size();
            transport_->write(block_);
        }
    }
    Stats& stats_;
    std::size_t total_;
    std::string block_;
    std::mt19937_64 random_{42};
    Transport* transport_ = nullptr;
    bool paused_ = false;
};

TEST(TlsBulkTest, SixtyFourMebibytesEachWayWithChecksumsUnderBackPressure) {
    Loop loop;
    ServerOptions server_options;
    server_options.tls = server_context();
    auto server = start_server(
        loop, [] { return std::make_unique<FlowEcho>(); }, "127.0.0.1", server_options);
    ASSERT_TRUE(server);
    ConnectOptions options;
    options.tls = client_context();
    BulkSender::Stats stats;
    auto client = connect_to(
        loop, [&stats] { return std::make_unique<BulkSender>(stats, 64u << 20); }, "127.0.0.1",
        server->port(), options);
    ASSERT_TRUE(client);
    ASSERT_TRUE(run_until(
        loop, [&] { return stats.done; }, 120s));
    EXPECT_EQ(stats.sent, 64u << 20);
    EXPECT_EQ(stats.received, 64u << 20);
    EXPECT_EQ(stats.received_checksum.value, stats.sent_checksum.value);
    EXPECT_GT(stats.pauses, 0);
    client->close();
    server->close();
    run_until(loop, [&] { return stats.lost; });
    loop.close();
}

} // namespace
} // namespace ferry::test

namespace ferry::test {
namespace {

// ---- streams, shutdown and truncated handshakes --------------------------------------------

Task<void> echo_lines(StreamReader reader, StreamWriter writer) {
    for (;;) {
        Bytes line = co_await reader.readline();
        if (line.empty()) {
            co_return;
        }
        writer.write(line);
        co_await writer.drain();
    }
}

TEST(TlsStreamsTest, OpenConnectionAndStartServerSpeakTls) {
    Loop loop;
    auto body = [](Loop& l) -> Task<std::vector<std::string>> {
        ServerOptions served;
        served.tls = server_context();
        auto server = co_await start_server(l, echo_lines, "127.0.0.1", 0, served);
        ConnectOptions options;
        options.tls = client_context();
        options.tls_options.server_hostname = "localhost";
        auto [reader, writer] = co_await open_connection(l, "127.0.0.1", server->port(), options);
        std::vector<std::string> got;
        for (const char* line : {"first\n", "second\n"}) {
            writer.write(line);
            co_await writer.drain();
            Bytes echoed = co_await reader.readline();
            got.push_back(ByteView(echoed).to_string());
        }
        EXPECT_NE(dynamic_cast<TlsTransport*>(&writer.transport()), nullptr);
        writer.close(); // close_notify: the handler's readline ends, its connection closes
        co_await writer.wait_closed();
        server->close();
        co_await server->wait_closed();
        co_return got;
    };
    EXPECT_EQ(loop.run_until_complete(body(loop)),
              (std::vector<std::string>{"first\n", "second\n"}));
    loop.close();
}

TEST_F(TlsWireTest, CloseGivesUpWaitingForThePeersCloseNotifyAfterTheShutdownTimeout) {
    auto at_client = std::make_shared<Recording>();
    Wired client_wire = wire_socket(loop, idle);
    Wired server_wire = wire_socket(loop, idle);
    client_raw = std::move(client_wire.peer);
    server_raw = std::move(server_wire.peer);
    TlsStartOptions quick = to_localhost();
    quick.shutdown_timeout = 200ms;
    start_tls(client_wire.transport, client_context(), quick, recording_factory(at_client),
              [this](Result<std::shared_ptr<TlsTransport>> r) { client.emplace(std::move(r)); });
    start_tls(server_wire.transport, server_context(), {}, idle,
              [this](Result<std::shared_ptr<TlsTransport>> r) { server.emplace(std::move(r)); });
    ASSERT_TRUE(pump_until(65536, [&] { return client && server; }));
    ASSERT_TRUE(client->ok() && server->ok());
    // The close_notify goes out, and nothing comes back: the pump has stopped.
    const auto closing = std::chrono::steady_clock::now();
    client->value()->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return at_client->has_lost(); }, 5s));
    EXPECT_GE(std::chrono::steady_clock::now() - closing, 150ms);
    EXPECT_FALSE(at_client->lost_error) << at_client->lost_error.message();
    EXPECT_GT(peer_read(loop, client_raw, 24, 1s).size(), 0u) << "close_notify was sent";
    server->value()->abort();
}

TEST(TlsHandshakeTest, AHandshakeCutShortIsRefusedWithTheReason) {
    Loop loop;
    Wired wired = wire_socket(loop, idle);
    std::optional<Result<std::shared_ptr<TlsTransport>>> result;
    start_tls(wired.transport, server_context(), {}, idle,
              [&](Result<std::shared_ptr<TlsTransport>> r) { result.emplace(std::move(r)); });
    // A ClientHello's record header promising 512 bytes, 20 of them, then the end.
    std::string partial("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    partial += std::string(9, '\x42');
    ASSERT_TRUE(wired.peer.write(partial));
    wired.peer.shutdown_write();
    ASSERT_TRUE(run_until(
        loop, [&] { return result.has_value(); }, 5s));
    ASSERT_FALSE(result->ok());
    EXPECT_EQ(result->code(), make_error_code(errc::tls_handshake_failed));
    EXPECT_NE(result->message().find("closed the connection during the handshake"),
              std::string::npos)
        << result->message();
    loop.close();
}

} // namespace
} // namespace ferry::test
