// Re-entrant use of the contract: write, close, abort, pause and stop from inside every
// callback; the last reference dropped in a callback; connection_lost exactly once on every
// path (peer reset, abort, close with queued writes, server close, loop destruction).
#include <sys/socket.h>

#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::connect_to;
using test::LoopTest;
using test::Recording;
using test::recording_factory;
using test::RecordingProtocol;
using test::run_until;
using test::start_server;

/// A loopback pair: a server whose accepted side is configured by `setup`, and a client.
class PairTest : public LoopTest {
protected:
    void connect_pair(std::function<void(RecordingProtocol&)> server_setup = {},
                      std::function<void(RecordingProtocol&)> client_setup = {}) {
        server = start_server(loop, recording_factory(server_side, std::move(server_setup)));
        ASSERT_TRUE(server);
        client = connect_to(loop, recording_factory(client_side, std::move(client_setup)),
                            "127.0.0.1", server->port());
        ASSERT_TRUE(client);
    }
    void TearDown() override {
        if (server) {
            server->close();
        }
        client.reset();
        LoopTest::TearDown();
        // Whatever path was taken, each side saw connection_lost at most once, and last.
        for (auto* side : {server_side.get(), client_side.get()}) {
            EXPECT_LE(side->lost, 1);
            if (side->lost == 1) {
                EXPECT_EQ(side->events.back(), "lost");
            }
        }
    }
    bool both_lost() { return server_side->has_lost() && client_side->has_lost(); }

    std::shared_ptr<Recording> server_side = std::make_shared<Recording>();
    std::shared_ptr<Recording> client_side = std::make_shared<Recording>();
    std::shared_ptr<Server> server;
    std::shared_ptr<Transport> client;
};

TEST_F(PairTest, CloseInsideConnectionMadeIsNotReentrant) {
    bool lost_during_close = false;
    connect_pair([&](RecordingProtocol& p) {
        p.on_made = [&](Transport& t) {
            t.close();
            lost_during_close = server_side->has_lost(); // must be scheduled, not called
            t.close();                                   // twice is fine
        };
    });
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
    EXPECT_FALSE(lost_during_close);
    EXPECT_EQ(server_side->events, (std::vector<std::string>{"made", "lost"}));
    EXPECT_EQ(client_side->events, (std::vector<std::string>{"made", "eof", "lost"}));
}

TEST_F(PairTest, WriteThenCloseInsideConnectionMadeFlushesFirst) {
    connect_pair([](RecordingProtocol& p) {
        p.on_made = [](Transport& t) {
            t.write(std::string(1 << 20, 'w'));
            t.close();
            t.write("dropped"); // after close: ignored with a debug line
        };
    });
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
    EXPECT_EQ(client_side->data, std::string(1 << 20, 'w'));
    EXPECT_FALSE(server_side->lost_error);
}

TEST_F(PairTest, AbortInsideConnectionMadeDropsTheQueue) {
    connect_pair([](RecordingProtocol& p) {
        p.on_made = [](Transport& t) {
            t.pause_reading();
            t.write(std::string(8 << 20, 'q')); // far more than the socket buffer takes
            t.abort();
            t.abort();
            t.close();
            EXPECT_EQ(t.is_reading(), false);
        };
    });
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
    EXPECT_LT(client_side->data.size(), std::size_t{8 << 20});
    EXPECT_FALSE(server_side->lost_error); // abort is a local, deliberate close
}

TEST_F(PairTest, CloseAndAbortInsideDataReceived) {
    connect_pair(
        [](RecordingProtocol& p) {
            p.on_data = [](Transport& t, ByteView data) {
                t.write(data);
                t.close();
                t.abort(); // abort after close still ends in one connection_lost
            };
        },
        {});
    client->write("one");
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
    EXPECT_EQ(server_side->lost, 1);
}

TEST_F(PairTest, PauseReadingInsideDataReceivedStopsDelivery) {
    connect_pair([](RecordingProtocol& p) {
        p.on_data = [](Transport& t, ByteView) { t.pause_reading(); };
    });
    client->write("first");
    EXPECT_TRUE(run_until(loop, [&] { return !server_side->data.empty(); }));
    const std::size_t seen = server_side->data.size();
    client->write("second");
    bool waited = false;
    loop.call_later(50ms, [&] { waited = true; });
    EXPECT_TRUE(run_until(loop, [&] { return waited; }));
    EXPECT_EQ(server_side->data.size(), seen);
    ASSERT_NE(server_side->transport, nullptr);
    EXPECT_FALSE(server_side->transport->is_reading());
    server_side->transport->resume_reading();
    EXPECT_TRUE(run_until(loop, [&] { return server_side->data == "firstsecond"; }));
    server_side->transport->resume_reading(); // paused again by the second delivery
    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
}

TEST_F(PairTest, EofReceivedMayCloseOrAbort) {
    connect_pair([](RecordingProtocol& p) {
        p.on_eof = [](Transport& t) {
            t.abort();
            return true; // ignored: the transport is already closing
        };
    });
    client->write_eof();
    EXPECT_TRUE(run_until(loop, [&] { return server_side->has_lost(); }));
    EXPECT_EQ(server_side->events, (std::vector<std::string>{"made", "eof", "lost"}));
    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
}

TEST_F(PairTest, WritingInsideConnectionLostIsIgnored) {
    connect_pair({}, [](RecordingProtocol& p) {
        p.on_lost = [](Transport& t, std::error_code) {
            t.write("too late");
            t.close();
            t.abort();
            t.pause_reading();
            t.resume_reading();
        };
    });
    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
    EXPECT_EQ(client_side->lost, 1);
    EXPECT_EQ(server_side->data, "");
}

TEST_F(PairTest, DroppingTheLastReferenceInsideACallbackIsSafe) {
    connect_pair();
    std::weak_ptr<Transport> weak = client;
    auto& protocol = client->protocol_as<RecordingProtocol>();
    protocol.on_data = [&](Transport& t, ByteView) {
        client.reset();   // the loop still owns the transport
        t.write("still"); // so it is still usable
        t.close();
    };
    protocol.on_lost = [&](Transport&, std::error_code) { EXPECT_FALSE(weak.expired()); };
    server_side->transport->write("hi");
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
    EXPECT_TRUE(run_until(loop, [&] { return server_side->data == "still"; }));
    EXPECT_TRUE(weak.expired()); // released after connection_lost returned
}

TEST_F(PairTest, StoppingTheLoopInsideDataReceived) {
    connect_pair(
        [&](RecordingProtocol& p) { p.on_data = [&](Transport&, ByteView) { loop.stop(); }; });
    client->write("stop");
    loop.run(); // returns because data_received stopped it
    EXPECT_EQ(server_side->data, "stop");
    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
}

TEST_F(PairTest, WriteInsidePauseAndResumeWriting) {
    int writes_in_pause = 0;
    connect_pair({}, [&](RecordingProtocol& p) {
        p.on_pause = [&](Transport& t) {
            t.write("more"); // allowed; the protocol is merely asked to slow down
            ++writes_in_pause;
        };
        p.on_resume = [&](Transport& t) { t.write("-resumed"); };
    });
    server_side->transport->pause_reading();
    const std::string chunk(16 << 20, 'p'); // more than loopback's socket buffers take
    client->write(chunk);
    EXPECT_EQ(client_side->pauses, 1);
    EXPECT_EQ(writes_in_pause, 1);
    server_side->transport->resume_reading();
    const std::size_t expected = chunk.size() + 4 + 8;
    EXPECT_TRUE(run_until(loop, [&] { return server_side->data.size() >= expected; }));
    EXPECT_EQ(server_side->data.substr(chunk.size()), "more-resumed");
    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
}

TEST_F(PairTest, ExceptionInDataReceivedAbortsWithCallbackThrew) {
    std::vector<std::string> reports;
    loop.set_exception_handler([&](const ExceptionContext& c) { reports.push_back(c.message); });
    connect_pair([](RecordingProtocol& p) {
        p.on_data = [](Transport&, ByteView) { throw std::runtime_error("parser bug"); };
    });
    client->write("boom");
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
    EXPECT_EQ(server_side->lost_error, errc::callback_threw);
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0], "exception in data_received");
}

TEST_F(PairTest, PeerResetArrivesAsConnectionReset) {
    connect_pair();
    // SO_LINGER {on, 0} makes close() send RST instead of FIN.
    linger hard{1, 0};
    setsockopt(server_side->transport->native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    server_side->transport->abort();
    EXPECT_TRUE(run_until(loop, [&] { return both_lost(); }));
    EXPECT_EQ(client_side->lost_error, std::errc::connection_reset);
    EXPECT_FALSE(server_side->lost_error);
}

TEST_F(PairTest, ServerCloseKeepsClientsThenCloseClientsEndsThem) {
    connect_pair();
    bool closed = false;
    server->close();
    server->close();
    server->wait_closed([&] { closed = true; });
    client->write("still served");
    EXPECT_TRUE(run_until(loop, [&] { return server_side->data == "still served"; }));
    EXPECT_FALSE(closed); // a client is still connected
    server->close_clients();
    EXPECT_TRUE(run_until(loop, [&] { return both_lost() && closed; }));
    EXPECT_EQ(server->client_count(), 0u);
    bool again = false;
    server->wait_closed([&] { again = true; }); // already closed: runs on the next iteration
    EXPECT_TRUE(run_until(loop, [&] { return again; }));
}

TEST_F(PairTest, AbortClientsDropsQueuedData) {
    connect_pair([](RecordingProtocol& p) {
        p.on_made = [](Transport& t) { t.write(std::string(8 << 20, 'a')); };
    });
    client->pause_reading();
    server->abort_clients();
    EXPECT_TRUE(run_until(loop, [&] { return server_side->has_lost(); }));
    EXPECT_FALSE(server_side->lost_error);
    client->abort();
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
}

TEST(LoopDestructionTest, OpenTransportsAndServersAreClosedExactlyOnce) {
    auto server_side = std::make_shared<Recording>();
    auto client_side = std::make_shared<Recording>();
    std::weak_ptr<Transport> weak_client;
    {
        Loop loop;
        auto server = start_server(loop, recording_factory(server_side));
        auto client = connect_to(loop, recording_factory(client_side), "127.0.0.1", server->port());
        client->write(std::string(4 << 20, 'd')); // leave writes queued too
        EXPECT_TRUE(run_until(loop, [&] { return server_side->made == 1; }));
        weak_client = client;
        // Users still hold references: the loop closes the transports anyway.
        loop.close();
        EXPECT_EQ(server_side->lost, 1);
        EXPECT_EQ(client_side->lost, 1);
        EXPECT_FALSE(server->is_serving());
        EXPECT_TRUE(client->is_closing());
        client->write("after close"); // ignored, no crash
    }
    EXPECT_TRUE(weak_client.expired());
}

TEST(LoopDestructionTest, PendingConnectIsReportedWhenTheLoopCloses) {
    std::optional<Result<std::shared_ptr<Transport>>> result;
    {
        Loop loop;
        auto server = start_server(loop, [] { return std::make_unique<Protocol>(); });
        create_connection(
            loop, [] { return std::make_unique<Protocol>(); }, "127.0.0.1", server->port(), {},
            [&](auto r) { result.emplace(std::move(r)); });
        // Destroyed before the connect completes: the callback reports loop_closed.
    }
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->code(), errc::loop_closed);
}

} // namespace
} // namespace ferry
