// TCP transports and servers on 127.0.0.1 and ::1: round trips, callback order, extras,
// large and tiny writes, half-close, many connections, and every connect/bind failure.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

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
using test::wait_result;

/// Server side that echoes everything it receives.
ProtocolFactory echo_factory(std::shared_ptr<Recording> recording) {
    return recording_factory(recording, [](RecordingProtocol& p) {
        p.on_data = [](Transport& t, ByteView data) { t.write(data); };
    });
}

class TcpTest : public LoopTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(TcpTest, EchoRoundTripWithAddresses) {
    const std::string host = GetParam();
    auto server_side = std::make_shared<Recording>();
    auto server = start_server(loop, echo_factory(server_side), host);
    ASSERT_TRUE(server);
    ASSERT_NE(server->port(), 0);
    EXPECT_TRUE(server->is_serving());

    auto client_side = std::make_shared<Recording>();
    auto client = connect_to(loop, recording_factory(client_side), host, server->port());
    ASSERT_TRUE(client);
    EXPECT_EQ(client_side->made, 1); // connection_made ran before the caller got the transport
    EXPECT_EQ(client->peername()->port(), server->port());
    EXPECT_EQ(client->peername()->host(), host);
    EXPECT_EQ(client->sockname()->host(), host);
    EXPECT_GE(client->native_handle(), 0);

    client->write("hello, ferry");
    EXPECT_TRUE(run_until(loop, [&] { return client_side->data == "hello, ferry"; }));
    EXPECT_EQ(server_side->data, "hello, ferry");
    EXPECT_EQ(server->client_count(), 1u);

    client->close();
    EXPECT_TRUE(client->is_closing());
    EXPECT_TRUE(
        run_until(loop, [&] { return client_side->has_lost() && server_side->has_lost(); }));
    EXPECT_EQ(client_side->events, (std::vector<std::string>{"made", "data", "lost"}));
    EXPECT_EQ(server_side->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));
    EXPECT_FALSE(client_side->lost_error);
    EXPECT_FALSE(server_side->lost_error);
    EXPECT_EQ(client->native_handle(), -1);

    bool closed = false;
    server->close();
    server->wait_closed([&] { closed = true; });
    EXPECT_TRUE(run_until(loop, [&] { return closed; }));
    EXPECT_FALSE(server->is_serving());
}

INSTANTIATE_TEST_SUITE_P(Loopback, TcpTest, ::testing::Values("127.0.0.1", "::1"));

class TcpBehaviourTest : public LoopTest {
protected:
    void SetUp() override {
        server = start_server(loop, echo_factory(server_side));
        ASSERT_TRUE(server);
    }
    void TearDown() override {
        if (server) {
            server->close();
            server->abort_clients();
        }
        LoopTest::TearDown();
    }
    std::shared_ptr<Recording> server_side = std::make_shared<Recording>();
    std::shared_ptr<Server> server;
};

TEST_F(TcpBehaviourTest, SmallWritesGoOutAtOnceWithoutQueueing) {
    auto client_side = std::make_shared<Recording>();
    auto client = connect_to(loop, recording_factory(client_side), "127.0.0.1", server->port());
    client->write("x");
    EXPECT_EQ(client->write_buffer_size(), 0u);
    EXPECT_TRUE(run_until(loop, [&] { return client_side->data == "x"; }));
    client->abort();
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
}

TEST_F(TcpBehaviourTest, OneByteChunksArriveInOrder) {
    auto client_side = std::make_shared<Recording>();
    auto client = connect_to(loop, recording_factory(client_side), "127.0.0.1", server->port());
    std::string expected;
    for (int i = 0; i < 2000; ++i) {
        const char c = static_cast<char>('a' + i % 26);
        expected += c;
        client->write(ByteView(&c, 1));
    }
    EXPECT_TRUE(run_until(loop, [&] { return client_side->data.size() >= expected.size(); }));
    EXPECT_EQ(client_side->data, expected);
    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
}

TEST_F(TcpBehaviourTest, SixteenMebibyteSingleWriteArrivesComplete) {
    auto client_side = std::make_shared<Recording>();
    auto client = connect_to(loop, recording_factory(client_side), "127.0.0.1", server->port());
    std::string big(16 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<char>((i * 2654435761u) >> 13);
    }
    client->write(big);
    EXPECT_GT(client->write_buffer_size(), 0u); // the OS could not take 16 MiB at once
    EXPECT_EQ(client_side->pauses, 1);
    EXPECT_TRUE(run_until(loop, [&] { return client_side->data.size() >= big.size(); }));
    EXPECT_TRUE(client_side->data == big);
    EXPECT_EQ(client->write_buffer_size(), 0u);
    EXPECT_EQ(client_side->resumes, 1);
    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
}

TEST_F(TcpBehaviourTest, WritelinesGathersParts) {
    auto client_side = std::make_shared<Recording>();
    auto client = connect_to(loop, recording_factory(client_side), "127.0.0.1", server->port());
    const std::string big(300 * 1024, 'z');
    std::vector<ByteView> parts{ByteView("GET / "), ByteView("HTTP/1.0\r\n"), ByteView(big),
                                ByteView("\r\n")};
    client->writelines(parts);
    const std::string expected = "GET / HTTP/1.0\r\n" + big + "\r\n";
    EXPECT_TRUE(run_until(loop, [&] { return client_side->data.size() >= expected.size(); }));
    EXPECT_EQ(client_side->data, expected);
    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
}

TEST_F(TcpBehaviourTest, HalfCloseKeepsTheOtherDirectionOpen) {
    // A server that answers only once the client has finished sending (like a request
    // terminated by EOF), using eof_received returning true to stay half-open.
    auto half_side = std::make_shared<Recording>();
    auto half_server = start_server(loop, recording_factory(half_side, [](RecordingProtocol& p) {
                                        p.on_eof = [](Transport& t) {
                                            t.write("got it");
                                            t.close();
                                            return true;
                                        };
                                    }));
    auto client_side = std::make_shared<Recording>();
    auto client =
        connect_to(loop, recording_factory(client_side), "127.0.0.1", half_server->port());
    EXPECT_TRUE(client->can_write_eof());
    client->write("request body");
    client->write_eof();
    client->write("ignored after write_eof");
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
    EXPECT_EQ(half_side->data, "request body");
    EXPECT_EQ(client_side->data, "got it");
    EXPECT_EQ(client_side->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));
    EXPECT_EQ(half_side->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));
    half_server->close();
}

TEST_F(TcpBehaviourTest, ThousandConcurrentConnections) {
    // Two descriptors per connection live in this process (client and accepted socket).
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < 2200 && limit.rlim_max >= 2200) {
        limit.rlim_cur = 2200;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < 2200) {
        GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit.rlim_max << " is below 2200";
    }
    constexpr int count = 1000;
    std::vector<std::shared_ptr<Recording>> sides;
    std::vector<std::shared_ptr<Transport>> clients;
    int connected = 0;
    int failed = 0;
    for (int i = 0; i < count; ++i) {
        sides.push_back(std::make_shared<Recording>());
        create_connection(loop, recording_factory(sides.back()), "127.0.0.1", server->port(), {},
                          [&](Result<std::shared_ptr<Transport>> r) {
                              if (r) {
                                  ++connected;
                                  clients.push_back(r.value());
                                  r.value()->write("ping " + std::to_string(clients.size()));
                              } else {
                                  ++failed;
                                  ADD_FAILURE() << r.message();
                              }
                          });
    }
    EXPECT_TRUE(run_until(loop, [&] { return connected + failed == count; }));
    EXPECT_EQ(connected, count);
    auto all_echoed = [&] {
        for (auto& side : sides) {
            if (side->data.rfind("ping ", 0) != 0) {
                return false;
            }
        }
        return true;
    };
    EXPECT_TRUE(run_until(loop, all_echoed));
    EXPECT_EQ(server->client_count(), static_cast<std::size_t>(count));
    server->close_clients();
    auto all_lost = [&] {
        for (auto& side : sides) {
            if (!side->has_lost()) {
                return false;
            }
        }
        return true;
    };
    EXPECT_TRUE(run_until(loop, all_lost));
    EXPECT_EQ(server->client_count(), 0u);
}

TEST_F(TcpBehaviourTest, LocalBindAndOptions) {
    auto client_side = std::make_shared<Recording>();
    ConnectOptions options;
    options.local_host = "127.0.0.1";
    options.keepalive = std::chrono::seconds(30);
    options.nodelay = false;
    auto client =
        connect_to(loop, recording_factory(client_side), "127.0.0.1", server->port(), options);
    ASSERT_TRUE(client);
    EXPECT_EQ(client->sockname()->host(), "127.0.0.1");
    int nodelay = -1;
    socklen_t length = sizeof nodelay;
    getsockopt(client->native_handle(), IPPROTO_TCP, 1 /* TCP_NODELAY */, &nodelay, &length);
    EXPECT_EQ(nodelay, 0);
    int keepalive = 0;
    getsockopt(client->native_handle(), SOL_SOCKET, SO_KEEPALIVE, &keepalive, &length);
    EXPECT_EQ(keepalive, 1);
    client->abort();
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
}

TEST_F(TcpBehaviourTest, ServerOnAllInterfacesSharesOneEphemeralPort) {
    auto all = start_server(loop, echo_factory(std::make_shared<Recording>()), "");
    ASSERT_TRUE(all);
    auto sockets = all->sockets();
    ASSERT_GE(sockets.size(), 1u);
    for (const auto& address : sockets) {
        EXPECT_EQ(address.port(), all->port());
    }
    // Reachable through both loopback addresses.
    for (const char* host : {"127.0.0.1", "::1"}) {
        auto side = std::make_shared<Recording>();
        auto client = connect_to(loop, recording_factory(side), host, all->port());
        ASSERT_TRUE(client) << host;
        client->write("x");
        EXPECT_TRUE(run_until(loop, [&] { return side->data == "x"; }));
        client->close();
        EXPECT_TRUE(run_until(loop, [&] { return side->has_lost(); }));
    }
    all->close();
}

TEST_F(TcpBehaviourTest, ReusePortLetsTwoServersShareAPort) {
    ServerOptions options;
    options.reuse_port = true;
    auto first =
        start_server(loop, echo_factory(std::make_shared<Recording>()), "127.0.0.1", options);
    ASSERT_TRUE(first);
    auto second = wait_result<std::shared_ptr<Server>>(loop, [&](auto done) {
        create_server(loop, echo_factory(std::make_shared<Recording>()), "127.0.0.1", first->port(),
                      options, done);
    });
    EXPECT_TRUE(second.ok()) << second.message();
    first->close();
    if (second) {
        second.value()->close();
    }
}

TEST_F(TcpBehaviourTest, NameResolutionTriesEachAddress) {
    // "localhost" may resolve to ::1 and 127.0.0.1; the server listens only on 127.0.0.1, so
    // whichever comes first, the connection must end up on 127.0.0.1.
    auto side = std::make_shared<Recording>();
    auto client = connect_to(loop, recording_factory(side), "localhost", server->port());
    ASSERT_TRUE(client);
    EXPECT_EQ(client->peername()->host(), "127.0.0.1");
    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return side->has_lost(); }));
}

// --- Connect and bind failures: a clear error each time, no crash, no leak ---

TEST_F(LoopTest, ConnectToAClosedPortNamesHostPortAndReason) {
    // Find a port nobody listens on: bind, read the port, close.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    const std::uint16_t port = ntohs(address.sin_port);
    ::close(fd);

    bool factory_called = false;
    auto result = wait_result<std::shared_ptr<Transport>>(loop, [&](auto done) {
        create_connection(
            loop,
            [&]() -> std::unique_ptr<Protocol> {
                factory_called = true;
                return std::make_unique<Protocol>();
            },
            "127.0.0.1", port, {}, done);
    });
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.code(), std::errc::connection_refused);
    EXPECT_NE(result.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << result.message();
    EXPECT_NE(result.message().find("connection refused"), std::string::npos) << result.message();
    EXPECT_FALSE(factory_called);
}

TEST_F(LoopTest, UnresolvableNameFailsWithTheName) {
    auto result = wait_result<std::shared_ptr<Transport>>(loop, [&](auto done) {
        create_connection(
            loop, [] { return std::make_unique<Protocol>(); }, "no-such-host.invalid", 80, {},
            done);
    });
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.message().find("cannot resolve no-such-host.invalid:80"), std::string::npos)
        << result.message();
}

TEST_F(LoopTest, BindingABusyPortFailsClearly) {
    auto first = test::start_server(loop, [] { return std::make_unique<Protocol>(); });
    ASSERT_TRUE(first);
    auto second = wait_result<std::shared_ptr<Server>>(loop, [&](auto done) {
        create_server(
            loop, [] { return std::make_unique<Protocol>(); }, "127.0.0.1", first->port(), {},
            done);
    });
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.code(), std::errc::address_in_use);
    EXPECT_NE(second.message().find("cannot listen on 127.0.0.1:" + std::to_string(first->port())),
              std::string::npos)
        << second.message();
    first->close();
}

TEST_F(LoopTest, ConnectTimeoutFiresWhenTheServerNeverAnswers) {
    // A listener whose accept queue is full drops further SYNs, so connects hang.
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(listener, 0), 0);
    socklen_t length = sizeof address;
    getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
    const std::uint16_t port = ntohs(address.sin_port);
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
        fillers.push_back(fd);
    }
    ConnectOptions options;
    options.timeout = 200ms;
    const auto start = loop.time();
    auto result = wait_result<std::shared_ptr<Transport>>(loop, [&](auto done) {
        create_connection(
            loop, [] { return std::make_unique<Protocol>(); }, "127.0.0.1", port, options, done);
    });
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.code(), std::errc::timed_out);
    EXPECT_THROW(result.value(), TimeoutError);
    EXPECT_NE(result.message().find("timed out after 200 ms"), std::string::npos);
    EXPECT_GE((loop.time() - start).count(), 200);
    for (int fd : fillers) {
        ::close(fd);
    }
    ::close(listener);
}

TEST_F(LoopTest, AFactoryThatThrowsFailsTheConnectAndTheServerGoesOn) {
    auto server_side = std::make_shared<Recording>();
    bool throw_next = true;
    auto server = test::start_server(loop, [&]() -> std::unique_ptr<Protocol> {
        if (throw_next) {
            throw_next = false;
            throw std::runtime_error("factory failed");
        }
        return std::make_unique<RecordingProtocol>(server_side);
    });
    std::vector<std::string> reports;
    loop.set_exception_handler([&](const ExceptionContext& c) { reports.push_back(c.message); });
    // First client: the server's factory throws, so the accepted socket is closed.
    auto first_side = std::make_shared<Recording>();
    auto first = connect_to(loop, recording_factory(first_side), "127.0.0.1", server->port());
    EXPECT_TRUE(run_until(loop, [&] { return first_side->has_lost(); }));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0], "exception in server protocol factory");
    // Second client is served normally.
    auto second = connect_to(loop, recording_factory(std::make_shared<Recording>()), "127.0.0.1",
                             server->port());
    EXPECT_TRUE(run_until(loop, [&] { return server_side->made == 1; }));
    // A client-side factory that throws fails create_connection with that exception.
    auto result = wait_result<std::shared_ptr<Transport>>(loop, [&](auto done) {
        create_connection(
            loop, []() -> std::unique_ptr<Protocol> { throw std::runtime_error("no protocol"); },
            "127.0.0.1", server->port(), {}, done);
    });
    EXPECT_EQ(result.message(), "no protocol");
    second->close();
    server->close();
}

} // namespace
} // namespace ferry
