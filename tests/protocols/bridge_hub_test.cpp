// BridgeHub: one device and its clients over socket pairs — fan-out, input to the device, a
// stalled client dropped in shared mode, back-pressure to the device otherwise, clients held
// while the device is away, idle clients closed, read-only clients.
#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../support/test_support.hpp"
#include "../support/wired.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

/// A transport on one end of a socket pair; the test holds the other. `buffer_size` > 0
/// makes the buffers between them small.
Wired wire(Loop& loop, int buffer_size = 0) {
    return wire_socket(
        loop, [] { return std::make_unique<Protocol>(); }, buffer_size);
}

/// Reads what `peer` has within `timeout`, running the loop; stops at `want` bytes.
std::string drain(Loop& loop, Peer& peer, std::size_t want,
                  std::chrono::milliseconds timeout = 5s) {
    return peer_read(loop, peer, want, timeout);
}

/// True once `peer` reads end of data (or reset) within `timeout`.
bool ended(Loop& loop, Peer& peer, std::chrono::milliseconds timeout = 5s) {
    std::string ignored;
    return peer_sees_end(loop, peer, ignored, timeout);
}

class BridgeHubTest : public LoopTest {};

TEST_F(BridgeHubTest, DeviceOutputReachesEveryClientAndClientInputReachesTheDevice) {
    auto hub = make_bridge_hub(loop);
    Wired device = wire(loop);
    Wired one = wire(loop);
    Wired two = wire(loop);
    hub->set_device(device.transport);
    hub->add_client(one.transport, "one");
    hub->add_client(two.transport, "two");
    ASSERT_TRUE(device.peer.write("reading 1\n"));
    EXPECT_EQ(drain(loop, one.peer, 10), "reading 1\n");
    EXPECT_EQ(drain(loop, two.peer, 10), "reading 1\n");
    ASSERT_TRUE(one.peer.write("cmd-a\n"));
    EXPECT_EQ(drain(loop, device.peer, 6), "cmd-a\n");
    ASSERT_TRUE(two.peer.write("cmd-b\n"));
    EXPECT_EQ(drain(loop, device.peer, 6), "cmd-b\n");
    const HubStats stats = hub->stats();
    EXPECT_EQ(stats.device_bytes_read, 10u);
    EXPECT_EQ(stats.client_bytes_written, 20u);
    EXPECT_EQ(stats.device_bytes_written, 12u);
    EXPECT_EQ(stats.clients, 2u);
    EXPECT_EQ(stats.connects, 2u);
    hub->close_clients();
    EXPECT_TRUE(ended(loop, one.peer));
    EXPECT_TRUE(ended(loop, two.peer));
    EXPECT_TRUE(run_until(loop, [&] { return hub->client_count() == 0; }));
    EXPECT_EQ(hub->stats().disconnects, 2u);
    hub->close_device();
    EXPECT_TRUE(ended(loop, device.peer));
}

TEST_F(BridgeHubTest, SharedModeDropsAStalledClientAndTheOthersGetEverything) {
    HubOptions options;
    options.client_flow = ClientFlow::drop_stalled_client;
    options.max_buffer = 256 * 1024;
    // Shared: the hub (and its events) outlive the test body until the loop closes.
    auto left = std::make_shared<std::vector<std::string>>();
    HubEvents events;
    events.client_left = [left](const std::string& name, std::size_t) { left->push_back(name); };
    auto hub = make_bridge_hub(loop, options, events);
    Wired device = wire(loop);
    Wired reader = wire(loop);
    Wired stalled = wire(loop, 8192);
    hub->set_device(device.transport);
    hub->add_client(reader.transport, "reader");
    hub->add_client(stalled.transport, "stalled");
    const std::string block(64 * 1024, 'x');
    std::size_t sent = 0;
    std::size_t received = 0;
    char buffer[65536];
    ASSERT_TRUE(run_until(
        loop,
        [&] {
            if (sent < (4u << 20)) {
                const std::ptrdiff_t n = device.peer.write_some(block);
                sent += n > 0 ? static_cast<std::size_t>(n) : 0;
            }
            for (std::ptrdiff_t n; (n = reader.peer.read_some(buffer, sizeof buffer)) > 0;) {
                received += static_cast<std::size_t>(n);
            }
            loop.call_later(1ms, [] {});
            return received == (4u << 20);
        },
        30s))
        << "the reading client got " << received;
    EXPECT_EQ(*left, std::vector<std::string>{"stalled"});
    EXPECT_EQ(hub->stats().clients_dropped, 1u);
    EXPECT_EQ(hub->client_count(), 1u);
}

TEST_F(BridgeHubTest, BackpressureModePausesTheDeviceWhileItsClientIsFull) {
    auto hub = make_bridge_hub(loop);
    Wired device = wire(loop);
    Wired slow = wire(loop, 8192);
    hub->set_device(device.transport);
    hub->add_client(slow.transport, "slow");
    const std::string block(64 * 1024, 'y');
    // Nobody reads the client: the hub must stop reading the device, so the device's own
    // socket fills and its writes would block.
    std::size_t sent = 0;
    run_until(
        loop,
        [&] {
            const std::ptrdiff_t n = device.peer.write_some(block);
            sent += n > 0 ? static_cast<std::size_t>(n) : 0;
            loop.call_later(1ms, [] {});
            return false;
        },
        300ms);
    EXPECT_FALSE(device.transport->is_reading()) << "the device was not paused";
    EXPECT_LE(slow.transport->write_buffer_size(), 64 * 1024 + 256 * 1024);
    const std::string got = drain(loop, slow.peer, sent, 20s);
    EXPECT_EQ(got.size(), sent) << "back-pressure loses nothing";
    EXPECT_EQ(hub->stats().device_bytes_dropped, 0u);
}

TEST_F(BridgeHubTest, ClientsArePausedWhileTheDeviceIsAwayAndGoOnWithTheNextOne) {
    auto losses = std::make_shared<int>(0);
    HubEvents events;
    events.device_lost = [losses](std::error_code) { ++*losses; };
    auto hub = make_bridge_hub(loop, {}, events);
    Wired client = wire(loop);
    hub->add_client(client.transport, "client");
    EXPECT_FALSE(client.transport->is_reading()) << "no device yet: the client waits";
    {
        Wired first = wire(loop);
        hub->set_device(first.transport);
        EXPECT_TRUE(client.transport->is_reading());
        ASSERT_TRUE(first.peer.write("before"));
        EXPECT_EQ(drain(loop, client.peer, 6), "before");
    } // the device's peer closes: unplugged
    ASSERT_TRUE(run_until(loop, [&] { return *losses == 1; }));
    EXPECT_FALSE(hub->has_device());
    EXPECT_FALSE(client.transport->is_reading());
    ASSERT_TRUE(client.peer.write("held")); // waits in the socket, not dropped
    Wired second = wire(loop);
    hub->set_device(second.transport);
    EXPECT_EQ(drain(loop, second.peer, 4), "held");
    ASSERT_TRUE(second.peer.write("after"));
    EXPECT_EQ(drain(loop, client.peer, 5), "after");
    EXPECT_EQ(hub->stats().device_opens, 2u);
    EXPECT_EQ(hub->stats().client_bytes_dropped, 0u);
    EXPECT_THROW(hub->set_device(second.transport), Error) << "one device at a time";
}

TEST_F(BridgeHubTest, AnIdleClientIsClosedAndTrafficPostponesIt) {
    HubOptions options;
    options.client_idle_timeout = 150ms;
    auto hub = make_bridge_hub(loop, options);
    Wired device = wire(loop);
    Wired client = wire(loop);
    hub->set_device(device.transport);
    hub->add_client(client.transport, "client");
    const auto start = loop.time();
    for (int i = 0; i < 4; ++i) { // activity every 60 ms keeps it open
        run_until(
            loop, [] { return false; }, 60ms);
        ASSERT_TRUE(client.peer.write("k"));
    }
    EXPECT_EQ(hub->client_count(), 1u);
    EXPECT_TRUE(ended(loop, client.peer));
    EXPECT_GE(loop.time() - start, 240ms + 150ms - 20ms);
    EXPECT_TRUE(run_until(loop, [&] { return hub->client_count() == 0; }));
}

TEST_F(BridgeHubTest, ReadOnlyClientsInputIsDiscardedAndCounted) {
    HubOptions options;
    options.read_only = true;
    auto hub = make_bridge_hub(loop, options);
    Wired device = wire(loop);
    Wired client = wire(loop);
    hub->set_device(device.transport);
    hub->add_client(client.transport, "client");
    ASSERT_TRUE(client.peer.write("ignored"));
    EXPECT_TRUE(run_until(loop, [&] { return hub->stats().client_bytes_dropped == 7; }));
    EXPECT_EQ(drain(loop, device.peer, 1, 50ms), "");
    ASSERT_TRUE(device.peer.write("out"));
    EXPECT_EQ(drain(loop, client.peer, 3), "out");
}

TEST_F(BridgeHubTest, AClientThatWritesBeforeTheDeviceIsAttachedLosesNothing) {
    auto hub = make_bridge_hub(loop);
    Wired client = wire(loop);
    client.transport->pause_reading(); // as an admission step leaves it
    hub->add_client(client.transport, "early");
    ASSERT_TRUE(client.peer.write("sent at once"));
    EXPECT_FALSE(run_until(
        loop, [&] { return hub->stats().client_bytes_read > 0; }, 50ms));
    Wired device = wire(loop);
    hub->set_device(device.transport); // a device that took a while to open (RFC 2217, TCP)
    EXPECT_EQ(drain(loop, device.peer, 12), "sent at once");
    EXPECT_EQ(hub->stats().client_bytes_dropped, 0u);
    hub->abort();
}

} // namespace
} // namespace ferry::test
