// UDP on 127.0.0.1 and ::1: datagram endpoints (echo, order, connected endpoints, truncation,
// ICMP port unreachable, broadcast and multicast where the kernel allows, closing), a
// connected socket as a Transport (connect_udp, accept_udp), and a Python asyncio peer.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;
using test::Recording;
using test::recording_factory;
using test::RecordingProtocol;
using test::run_until;

/// What a datagram protocol heard.
struct DatagramEvents {
    std::vector<std::string> datagrams;
    std::vector<SocketAddress> senders;
    std::vector<std::string> errors; // what()
    std::vector<std::error_code> error_codes;
    int made = 0;
    int lost = 0;
    std::error_code lost_error;
    DatagramTransport* transport = nullptr;
    bool echo = false; // send each datagram back to its sender
};

class RecordingDatagrams final : public DatagramProtocol {
public:
    explicit RecordingDatagrams(std::shared_ptr<DatagramEvents> events)
        : events_(std::move(events)) {}
    void connection_made(DatagramTransport& transport) override {
        ++events_->made;
        events_->transport = &transport;
    }
    void datagram_received(ByteView data, const SocketAddress& from) override {
        events_->datagrams.emplace_back(data.as_string_view());
        events_->senders.push_back(from);
        if (events_->echo) {
            events_->transport->sendto(data, from);
        }
    }
    void error_received(const Error& error) override {
        events_->errors.emplace_back(error.what());
        events_->error_codes.push_back(error.code());
    }
    void connection_lost(std::error_code error) override {
        ++events_->lost;
        events_->lost_error = error;
    }

private:
    std::shared_ptr<DatagramEvents> events_;
};

class UdpTest : public LoopTest {
protected:
    std::shared_ptr<DatagramTransport> open(std::shared_ptr<DatagramEvents> events,
                                            DatagramOptions options) {
        auto opening = create_datagram_endpoint(
            loop, [events] { return std::make_unique<RecordingDatagrams>(events); },
            std::move(options));
        return loop.run_until_complete(std::move(opening));
    }
    /// A port nothing listens on (bound, then released).
    static std::uint16_t closed_port() {
        const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
        socklen_t length = sizeof address;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
        ::close(fd);
        return ntohs(address.sin_port);
    }
};

DatagramOptions bound_to(const std::string& host) {
    DatagramOptions options;
    options.local_host = host;
    return options;
}

class UdpFamilyTest : public UdpTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(UdpFamilyTest, EchoInOrderWithSendersAddresses) {
    const std::string host = GetParam();
    auto server_events = std::make_shared<DatagramEvents>();
    server_events->echo = true;
    auto server = open(server_events, bound_to(host));
    ASSERT_EQ(server_events->made, 1) << "connection_made before the endpoint is returned";
    const SocketAddress server_address = *server->sockname();
    EXPECT_EQ(server_address.host(), host);
    EXPECT_NE(server_address.port(), 0);
    EXPECT_FALSE(server->peername());

    auto client_events = std::make_shared<DatagramEvents>();
    auto client = open(client_events, bound_to(host));
    for (int i = 0; i < 200; ++i) {
        client->sendto(ByteView("datagram " + std::to_string(i)), server_address);
    }
    client->sendto(ByteView(""), server_address); // an empty datagram is a datagram
    ASSERT_TRUE(run_until(loop, [&] { return client_events->datagrams.size() == 201; }));
    for (int i = 0; i < 200; ++i) {
        EXPECT_EQ(client_events->datagrams[i], "datagram " + std::to_string(i)) << "order";
    }
    EXPECT_EQ(client_events->datagrams.back(), "");
    EXPECT_EQ(client_events->senders.front(), server_address);
    EXPECT_EQ(server_events->senders.front(), *client->sockname());
    EXPECT_EQ(client->write_buffer_size(), 0u);

    client->close();
    server->abort();
    EXPECT_TRUE(run_until(loop, [&] { return client_events->lost && server_events->lost; }));
    EXPECT_EQ(client_events->lost, 1);
    EXPECT_FALSE(client_events->lost_error);
    EXPECT_FALSE(server_events->lost_error);
    EXPECT_TRUE(client_events->errors.empty()) << client_events->errors.front();
}

INSTANTIATE_TEST_SUITE_P(Loopback, UdpFamilyTest, ::testing::Values("127.0.0.1", "::1"));

TEST_F(UdpTest, AConnectedEndpointHearsOnlyItsPeer) {
    auto server_events = std::make_shared<DatagramEvents>();
    auto server = open(server_events, bound_to("127.0.0.1"));
    auto stranger_events = std::make_shared<DatagramEvents>();
    auto stranger = open(stranger_events, bound_to("127.0.0.1"));

    auto client_events = std::make_shared<DatagramEvents>();
    DatagramOptions connected;
    connected.remote_host = "127.0.0.1";
    connected.remote_port = server->sockname()->port();
    auto client = open(client_events, connected);
    EXPECT_EQ(*client->peername(), *server->sockname());
    const SocketAddress client_address = *client->sockname();

    stranger->sendto(ByteView("not for you"), client_address);
    server->sendto(ByteView("from the peer"), client_address);
    client->sendto(ByteView("to the peer")); // no address needed
    ASSERT_TRUE(run_until(loop, [&] {
        return !client_events->datagrams.empty() && !server_events->datagrams.empty();
    }));
    run_until(
        loop, [] { return false; }, 100ms);
    EXPECT_EQ(client_events->datagrams, std::vector<std::string>{"from the peer"});
    EXPECT_EQ(server_events->datagrams, std::vector<std::string>{"to the peer"});
    EXPECT_THROW(client->sendto(ByteView("x"), *stranger->sockname()), Error)
        << "a connected endpoint sends only to its peer";
    EXPECT_THROW(server->sendto(ByteView("x")), Error) << "no destination";
    EXPECT_THROW(server->sendto(ByteView(std::string(65508, 'x')), client_address), Error)
        << "larger than UDP carries";
}

TEST_F(UdpTest, ADatagramLargerThanTheLimitIsReportedAndDroppedAndTheNextArrives) {
    auto server_events = std::make_shared<DatagramEvents>();
    DatagramOptions small = bound_to("127.0.0.1");
    small.max_datagram_size = 100;
    auto server = open(server_events, small);
    auto client = open(std::make_shared<DatagramEvents>(), bound_to("127.0.0.1"));
    client->sendto(ByteView(std::string(101, 'x')), *server->sockname());
    client->sendto(ByteView(std::string(100, 'y')), *server->sockname());
    ASSERT_TRUE(run_until(loop, [&] { return !server_events->datagrams.empty(); }));
    ASSERT_EQ(server_events->error_codes.size(), 1u);
    EXPECT_EQ(server_events->error_codes[0], make_error_code(errc::datagram_truncated));
    EXPECT_NE(server_events->errors[0].find("larger than 100 bytes"), std::string::npos)
        << server_events->errors[0];
    EXPECT_NE(server_events->errors[0].find(client->sockname()->to_string()), std::string::npos)
        << "names the sender: " << server_events->errors[0];
    EXPECT_EQ(server_events->datagrams, std::vector<std::string>{std::string(100, 'y')});
    EXPECT_FALSE(server->is_closing()) << "the endpoint lives on";
}

TEST_F(UdpTest, APortNobodyListensOnIsReportedThroughErrorReceived) {
    auto events = std::make_shared<DatagramEvents>();
    DatagramOptions connected;
    connected.remote_host = "127.0.0.1";
    connected.remote_port = closed_port();
    auto client = open(events, connected);
    client->sendto(ByteView("anyone?"));
    ASSERT_TRUE(run_until(loop, [&] {
        if (events->error_codes.empty()) {
            client->sendto(ByteView("anyone?")); // the report comes on a later call
        }
        return !events->error_codes.empty();
    }));
    EXPECT_EQ(events->error_codes[0], uv_error(UV_ECONNREFUSED)) << events->errors[0];
    EXPECT_FALSE(client->is_closing()) << "an ICMP report does not end the endpoint";
}

TEST_F(UdpTest, BadAddressesAndOptionsFailClearly) {
    auto events = std::make_shared<DatagramEvents>();
    DatagramOptions bad = bound_to("127.0.0.1");
    bad.max_datagram_size = 70000;
    EXPECT_THROW(open(events, bad), Error);
    try {
        DatagramOptions taken = bound_to("127.0.0.1");
        auto first = open(events, taken);
        taken.local_port = first->sockname()->port();
        open(events, taken);
        ADD_FAILURE() << "a second bind to the same port succeeded";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("cannot bind 127.0.0.1:"), std::string::npos)
            << error.what();
    }
    DatagramOptions unresolvable;
    unresolvable.remote_host = "no-such-host.invalid";
    unresolvable.remote_port = 9;
    EXPECT_THROW(open(events, unresolvable), Error);
    EXPECT_EQ(events->made, 1) << "only the endpoint that opened";
    EXPECT_EQ(events->lost, 0) << "one that failed to open reports nothing";
}

TEST_F(UdpTest, SocketOptionsAreSetAndReadBack) {
    auto endpoint = open(std::make_shared<DatagramEvents>(), bound_to("127.0.0.1"));
    endpoint->set_receive_buffer_size(64 * 1024);
    EXPECT_GE(endpoint->receive_buffer_size(), 64u * 1024);
    endpoint->set_send_buffer_size(32 * 1024);
    EXPECT_GE(endpoint->send_buffer_size(), 32u * 1024);
    EXPECT_NO_THROW(endpoint->set_ttl(7));
    EXPECT_NO_THROW(endpoint->set_broadcast(true));
    EXPECT_NO_THROW(endpoint->set_multicast_ttl(1));
    EXPECT_NO_THROW(endpoint->set_multicast_loop(true));
    EXPECT_THROW(endpoint->set_write_buffer_limits(10, 20), Error);
    endpoint->set_write_buffer_limits(1000);
    EXPECT_EQ(endpoint->write_buffer_limits().low, 250u);
    EXPECT_GE(endpoint->native_handle(), 0);
    try {
        endpoint->join_group("10.0.0.1"); // not a multicast address
        ADD_FAILURE() << "joined a unicast address";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("multicast group 10.0.0.1"), std::string::npos)
            << error.what();
    }
}

TEST_F(UdpTest, BroadcastNeedsItsOptionAndReachesLoopbackListeners) {
    auto listener_events = std::make_shared<DatagramEvents>();
    DatagramOptions any;
    any.local_host = "0.0.0.0";
    auto listener = open(listener_events, any);
    const SocketAddress broadcast =
        *SocketAddress::from_numeric("127.255.255.255", listener->sockname()->port());

    auto sender_events = std::make_shared<DatagramEvents>();
    auto sender = open(sender_events, bound_to("127.0.0.1"));
    sender->sendto(ByteView("refused"), broadcast);
    ASSERT_TRUE(run_until(loop, [&] { return !sender_events->error_codes.empty(); }));
    EXPECT_EQ(sender_events->error_codes[0], uv_error(UV_EACCES)) << sender_events->errors[0];

    sender->set_broadcast(true);
    sender->sendto(ByteView("to everyone"), broadcast);
    run_until(
        loop, [&] { return !listener_events->datagrams.empty(); }, 2s);
    if (listener_events->datagrams.empty()) {
        GTEST_SKIP() << "this kernel does not deliver 127.255.255.255 broadcasts on lo";
    }
    EXPECT_EQ(listener_events->datagrams[0], "to everyone");
}

TEST_F(UdpTest, MulticastOnLoopbackJoinsReceivesAndLeaves) {
    auto member_events = std::make_shared<DatagramEvents>();
    DatagramOptions any;
    any.local_host = "0.0.0.0";
    any.reuse_address = true;
    auto member = open(member_events, any);
    const std::string group = "239.255.77.1";
    try {
        member->join_group(group, "127.0.0.1");
    } catch (const Error& error) {
        GTEST_SKIP() << "multicast on loopback refused here: " << error.what();
    }
    auto sender_events = std::make_shared<DatagramEvents>();
    auto sender = open(sender_events, bound_to("127.0.0.1"));
    sender->set_multicast_interface("127.0.0.1");
    sender->set_multicast_loop(true);
    sender->set_multicast_ttl(1);
    const SocketAddress to_group = *SocketAddress::from_numeric(group, member->sockname()->port());
    sender->sendto(ByteView("to the group"), to_group);
    run_until(
        loop, [&] { return !member_events->datagrams.empty() || !sender_events->errors.empty(); },
        2s);
    if (member_events->datagrams.empty()) {
        GTEST_SKIP() << "no multicast delivery on lo here"
                     << (sender_events->errors.empty() ? "" : ": " + sender_events->errors[0]);
    }
    EXPECT_EQ(member_events->datagrams[0], "to the group");
    EXPECT_NO_THROW(member->leave_group(group, "127.0.0.1"));
    EXPECT_THROW(member->leave_group(group, "127.0.0.1"), Error) << "not a member any more";
}

TEST_F(UdpTest, PausedReadingDeliversNothingUntilResumed) {
    auto server_events = std::make_shared<DatagramEvents>();
    auto server = open(server_events, bound_to("127.0.0.1"));
    server->pause_reading();
    EXPECT_FALSE(server->is_reading());
    auto client = open(std::make_shared<DatagramEvents>(), bound_to("127.0.0.1"));
    client->sendto(ByteView("held by the OS"), *server->sockname());
    run_until(
        loop, [] { return false; }, 100ms);
    EXPECT_TRUE(server_events->datagrams.empty());
    server->resume_reading();
    EXPECT_TRUE(run_until(loop, [&] { return !server_events->datagrams.empty(); }));
    EXPECT_EQ(server_events->datagrams[0], "held by the OS");
}

TEST_F(UdpTest, ClosingTheLoopEndsAnOpenEndpointOnce) {
    auto events = std::make_shared<DatagramEvents>();
    auto endpoint = open(events, bound_to("127.0.0.1"));
    loop.close();
    EXPECT_EQ(events->lost, 1);
    endpoint->sendto(ByteView("ignored"), *SocketAddress::from_numeric("127.0.0.1", 9));
}

// ---- a connected socket as a Transport --------------------------------------------------

TEST_F(UdpTest, ConnectUdpIsATransportOneWriteOneDatagram) {
    auto server_events = std::make_shared<DatagramEvents>();
    server_events->echo = true;
    auto server = open(server_events, bound_to("127.0.0.1"));
    auto seen = std::make_shared<Recording>();
    std::vector<std::string> deliveries;
    auto connecting =
        connect_udp(loop,
                    recording_factory(seen,
                                      [&](RecordingProtocol& p) {
                                          p.on_data = [&](Transport&, ByteView data) {
                                              deliveries.emplace_back(data.as_string_view());
                                          };
                                      }),
                    "127.0.0.1", server->sockname()->port());
    auto client = loop.run_until_complete(std::move(connecting));
    EXPECT_FALSE(client->can_write_eof());
    EXPECT_EQ(*client->peername(), *server->sockname());
    client->write("one");
    client->write("two");
    const ByteView parts[] = {ByteView("three"), ByteView("four")};
    client->writelines(parts);
    ASSERT_TRUE(run_until(loop, [&] { return deliveries.size() == 4; }));
    EXPECT_EQ(server_events->datagrams, (std::vector<std::string>{"one", "two", "three", "four"}))
        << "writes are never joined";
    EXPECT_EQ(deliveries, server_events->datagrams);

    const std::string big(100000, 'b'); // more than a datagram: several, each as large as UDP
    client->write(big);
    ASSERT_TRUE(run_until(loop, [&] { return server_events->datagrams.size() == 6; }));
    EXPECT_EQ(server_events->datagrams[4].size(), 65507u);
    EXPECT_EQ(server_events->datagrams[5].size(), 100000u - 65507u);

    client->close();
    EXPECT_TRUE(run_until(loop, [&] { return seen->has_lost(); }));
    EXPECT_FALSE(seen->lost_error);
}

TEST_F(UdpTest, ConnectUdpToAClosedPortEndsWithConnectionRefused) {
    auto seen = std::make_shared<Recording>();
    auto connecting = connect_udp(loop, recording_factory(seen), "127.0.0.1", closed_port());
    auto client = loop.run_until_complete(std::move(connecting));
    client->write("anyone?");
    ASSERT_TRUE(run_until(loop, [&] {
        if (!seen->has_lost()) {
            client->write("anyone?");
        }
        return seen->has_lost();
    }));
    EXPECT_EQ(seen->lost_error, uv_error(UV_ECONNREFUSED)) << seen->lost_error.message();
}

TEST_F(UdpTest, AcceptUdpTakesTheFirstSenderAsItsPeer) {
    auto seen = std::make_shared<Recording>();
    std::optional<SocketAddress> bound;
    DatagramOptions options = bound_to("127.0.0.1");
    auto accepting =
        accept_udp(loop,
                   recording_factory(seen,
                                     [](RecordingProtocol& p) {
                                         p.on_data = [](Transport& t, ByteView data) {
                                             t.write("got " + std::string(data.as_string_view()));
                                         };
                                     }),
                   options, [&](const SocketAddress& address) { bound = address; });
    auto task = loop.create_task(std::move(accepting));
    ASSERT_TRUE(run_until(loop, [&] { return bound.has_value(); }));

    auto peer_events = std::make_shared<DatagramEvents>();
    auto peer = open(peer_events, bound_to("127.0.0.1"));
    peer->sendto(ByteView("first"), *bound);
    ASSERT_TRUE(run_until(loop, [&] { return task.done(); }));
    auto accepted = task.result();
    EXPECT_EQ(*accepted->peername(), *peer->sockname());
    peer->sendto(ByteView("second"), *bound);
    ASSERT_TRUE(run_until(loop, [&] { return peer_events->datagrams.size() == 2; }));
    EXPECT_EQ(peer_events->datagrams, (std::vector<std::string>{"got first", "got second"}));
    EXPECT_EQ(seen->data, "firstsecond");
    accepted->close();
}

TEST_F(UdpTest, AcceptUdpCancelledWhileWaitingLeavesNothingOpen) {
    std::optional<SocketAddress> bound;
    auto accepting =
        accept_udp(loop, recording_factory(std::make_shared<Recording>()), bound_to("127.0.0.1"),
                   [&](const SocketAddress& address) { bound = address; });
    auto task = loop.create_task(std::move(accepting));
    ASSERT_TRUE(run_until(loop, [&] { return bound.has_value(); }));
    task.cancel();
    ASSERT_TRUE(run_until(loop, [&] { return task.done(); }));
    EXPECT_TRUE(task.cancelled());
    // The port is free again once the handle closed.
    run_until(
        loop, [] { return false; }, 50ms);
    DatagramOptions again = bound_to("127.0.0.1");
    again.local_port = bound->port();
    EXPECT_NO_THROW(open(std::make_shared<DatagramEvents>(), again));
}

// ---- a peer ferry did not write: Python's asyncio -----------------------------------------

TEST_F(UdpTest, InteroperatesWithAPythonAsyncioDatagramPeer) {
    // The peer answers each datagram with "asyncio:" + it, and stops on "quit" (or after 20 s).
    const char* script = "import asyncio, sys\n"
                         "class Echo(asyncio.DatagramProtocol):\n"
                         "    def connection_made(self, t): self.t = t\n"
                         "    def datagram_received(self, data, addr):\n"
                         "        if data == b'quit': done.set_result(None); return\n"
                         "        self.t.sendto(b'asyncio:' + data, addr)\n"
                         "async def main():\n"
                         "    global done\n"
                         "    done = asyncio.get_running_loop().create_future()\n"
                         "    t, _ = await asyncio.get_running_loop().create_datagram_endpoint(\n"
                         "        Echo, local_addr=('127.0.0.1', 0))\n"
                         "    print(t.get_extra_info('sockname')[1], flush=True)\n"
                         "    await asyncio.wait_for(done, 20)\n"
                         "asyncio.run(main())\n";
    const std::string command = "/usr/bin/python3 -c \"$FERRY_UDP_PEER\"";
    ::setenv("FERRY_UDP_PEER", script, 1);
    FILE* peer = ::popen(command.c_str(), "r");
    ASSERT_NE(peer, nullptr);
    unsigned port = 0;
    ASSERT_EQ(std::fscanf(peer, "%u", &port), 1) << "the Python peer did not start";

    auto events = std::make_shared<DatagramEvents>();
    auto endpoint = open(events, bound_to("127.0.0.1"));
    const SocketAddress to =
        *SocketAddress::from_numeric("127.0.0.1", static_cast<std::uint16_t>(port));
    for (int i = 0; i < 50; ++i) {
        endpoint->sendto(ByteView("ping " + std::to_string(i)), to);
    }
    EXPECT_TRUE(run_until(loop, [&] { return events->datagrams.size() == 50; }));
    for (std::size_t i = 0; i < events->datagrams.size(); ++i) {
        EXPECT_EQ(events->datagrams[i], "asyncio:ping " + std::to_string(i));
    }
    endpoint->sendto(ByteView("quit"), to);
    run_until(
        loop, [] { return false; }, 50ms);
    EXPECT_EQ(::pclose(peer), 0);
}

} // namespace
} // namespace ferry
