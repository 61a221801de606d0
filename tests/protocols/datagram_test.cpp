// UDP from coroutines: DatagramEndpoint (recvfrom / sendto, a cancelled recvfrom losing
// nothing, errors in arrival order, the bounded queue, closing) and RequestClient over
// datagrams (connect_udp + DatagramCodec: one frame per datagram, lost datagrams retried).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/datagram_endpoint.hpp>
#include <ferry/framing.hpp>
#include <ferry/request_client.hpp>
#include <ferry/sleep.hpp>
#include <ferry/udp.hpp>

#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;
using test::run_until;

using DatagramEndpointTest = LoopTest;

DatagramOptions on_loopback() {
    DatagramOptions options;
    options.local_host = "127.0.0.1";
    return options;
}

std::string text_of(const Bytes& bytes) {
    return ByteView(bytes).to_string();
}

/// Answers each datagram with "re: " + it, `count` times, then returns.
Task<void> answer(DatagramEndpoint server, int count) {
    for (int i = 0; i < count; ++i) {
        Datagram request = co_await server.recvfrom();
        server.sendto(ByteView("re: " + text_of(request.data)), request.from);
    }
}

TEST_F(DatagramEndpointTest, RequestAndResponseFromTasks) {
    auto body = [](Loop& loop) -> Task<std::vector<std::string>> {
        auto opening_server = DatagramEndpoint::open(loop, on_loopback());
        DatagramEndpoint server = co_await std::move(opening_server);
        auto answering = loop.create_task(answer(server, 3));
        DatagramOptions connected;
        connected.remote_host = "127.0.0.1";
        connected.remote_port = server.sockname()->port();
        auto opening_client = DatagramEndpoint::open(loop, connected);
        DatagramEndpoint client = co_await std::move(opening_client);
        std::vector<std::string> answers;
        for (const char* question : {"one", "two", "three"}) {
            client.sendto(ByteView(question));
            Datagram reply = co_await client.recvfrom();
            EXPECT_EQ(reply.from, *server.sockname());
            answers.push_back(text_of(reply.data));
        }
        co_await answering;
        co_await client.drain(); // nothing queued: at once
        client.close();
        co_await client.wait_closed();
        co_return answers;
    };
    EXPECT_EQ(loop.run_until_complete(body(loop)),
              (std::vector<std::string>{"re: one", "re: two", "re: three"}));
}

TEST_F(DatagramEndpointTest, ACancelledRecvfromLosesNoDatagram) {
    auto opening = DatagramEndpoint::open(loop, on_loopback());
    DatagramEndpoint endpoint = loop.run_until_complete(std::move(opening));
    auto waiting = loop.create_task(endpoint.recvfrom());
    run_until(
        loop, [] { return false; }, 20ms);
    waiting.cancel();
    ASSERT_TRUE(run_until(loop, [&] { return waiting.done(); }));
    EXPECT_TRUE(waiting.cancelled());

    endpoint.sendto(ByteView("after the cancel"), *endpoint.sockname()); // to itself
    auto next = loop.run_until_complete(endpoint.recvfrom());
    EXPECT_EQ(text_of(next.data), "after the cancel");
}

TEST_F(DatagramEndpointTest, ErrorsComeInArrivalOrderThenClosedAfterClose) {
    DatagramOptions small = on_loopback();
    small.max_datagram_size = 10;
    auto opening = DatagramEndpoint::open(loop, small);
    DatagramEndpoint endpoint = loop.run_until_complete(std::move(opening));
    const SocketAddress self = *endpoint.sockname();
    endpoint.sendto(ByteView("short"), self);
    endpoint.sendto(ByteView("much too long"), self);
    endpoint.sendto(ByteView("short too"), self);
    EXPECT_EQ(text_of(loop.run_until_complete(endpoint.recvfrom()).data), "short");
    try {
        loop.run_until_complete(endpoint.recvfrom());
        ADD_FAILURE() << "the truncated datagram was not reported";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), make_error_code(errc::datagram_truncated)) << error.what();
    }
    EXPECT_EQ(text_of(loop.run_until_complete(endpoint.recvfrom()).data), "short too");

    auto waiting = loop.create_task(endpoint.recvfrom());
    run_until(
        loop, [] { return false; }, 10ms);
    endpoint.close();
    ASSERT_TRUE(run_until(loop, [&] { return waiting.done(); }));
    try {
        waiting.result();
        ADD_FAILURE() << "recvfrom returned after close";
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), make_error_code(errc::closed)) << error.what();
    }
    EXPECT_THROW(loop.run_until_complete(endpoint.recvfrom()), Error) << "and every later one";
}

TEST_F(DatagramEndpointTest, AFullQueueStopsReadingAndTakingResumesIt) {
    auto opening = DatagramEndpoint::open(loop, on_loopback(), 4);
    DatagramEndpoint endpoint = loop.run_until_complete(std::move(opening));
    for (int i = 0; i < 10; ++i) {
        endpoint.sendto(ByteView(std::to_string(i)), *endpoint.sockname());
    }
    run_until(
        loop, [&] { return !endpoint.transport().is_reading(); }, 2s);
    EXPECT_FALSE(endpoint.transport().is_reading()) << "4 queued: the OS holds the rest";
    std::string got;
    for (int i = 0; i < 10; ++i) {
        got += text_of(loop.run_until_complete(endpoint.recvfrom()).data);
    }
    EXPECT_EQ(got, "0123456789") << "nothing lost while reading was stopped";
    EXPECT_TRUE(endpoint.transport().is_reading());
}

TEST_F(DatagramEndpointTest, TheLastHandleGoingClosesTheEndpoint) {
    std::shared_ptr<DatagramTransport> transport;
    {
        auto opening = DatagramEndpoint::open(loop, on_loopback());
        DatagramEndpoint endpoint = loop.run_until_complete(std::move(opening));
        transport = endpoint.transport().shared_from_this();
    }
    EXPECT_TRUE(transport->is_closing());
}

// ---- RequestClient over UDP -----------------------------------------------------------

using Client = RequestClient<DatagramCodec>;

/// A device on UDP answering "echo X" with X, and ignoring the first `deaf` requests.
Task<void> device(DatagramEndpoint endpoint, int deaf) {
    for (;;) {
        Datagram request = co_await endpoint.recvfrom();
        if (deaf-- > 0) {
            continue; // as if the datagram was lost
        }
        const std::string text = text_of(request.data);
        endpoint.sendto(ByteView(text.substr(5)), request.from);
    }
}

TEST_F(DatagramEndpointTest, RequestClientOverDatagramsOneFramePerDatagramWithRetries) {
    auto opening = DatagramEndpoint::open(loop, on_loopback());
    DatagramEndpoint server = loop.run_until_complete(std::move(opening));
    auto serving = loop.create_task(device(server, 1));

    Client* client = nullptr;
    RequestOptions options;
    options.timeout = 50ms;
    options.retries = 2;
    auto connecting = connect_udp(
        loop,
        [&] {
            auto made = std::make_unique<Client>(DatagramCodec(), options);
            client = made.get();
            return made;
        },
        "127.0.0.1", server.sockname()->port());
    auto transport = loop.run_until_complete(std::move(connecting));
    auto body = [](Client& c) -> Task<std::vector<std::string>> {
        std::vector<std::string> answers;
        answers.push_back(text_of(co_await c.request(ByteView("echo first").to_bytes())));
        answers.push_back(text_of(co_await c.request(ByteView("echo second").to_bytes())));
        co_return answers;
    };
    EXPECT_EQ(loop.run_until_complete(body(*client)),
              (std::vector<std::string>{"first", "second"}));
    EXPECT_EQ(client->retries_sent(), 1u) << "the first request's datagram was ignored once";
    transport->close();
    serving.cancel();
    run_until(loop, [&] { return serving.done(); });
}

} // namespace
} // namespace ferry
