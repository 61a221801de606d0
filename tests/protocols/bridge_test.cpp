// The bridge: bulk transfers both ways with checksums between a serial port (a pty, or a COM
// port of the Wine pair) and a TCP socket, back-pressure reaching the source, a bounded buffer
// with counted drops for a source that cannot pause, two peers that only read once they have
// written everything (socat's coupling), and how the end of input and of a connection crosses
// over.
#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../support/test_support.hpp"
#include "../support/transfer.hpp"
#include "../support/wired.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

/// A peer the test plays on a raw non-blocking descriptor: sends `to_send` random bytes,
/// reads what arrives, and checksums both.
struct RawPeer {
    Peer peer;
    std::size_t to_send = 0;
    std::size_t read_per_pump = SIZE_MAX; // a slow reader takes little each time
    bool read_only_after_sending = false; // socat's coupling: no reading while writing
    std::mt19937_64 random;
    std::string block = std::string(64 * 1024, '\0');
    std::size_t block_at = block.size();
    std::size_t sent = 0;
    std::size_t received = 0;
    Checksum sent_sum;
    Checksum received_sum;
    bool ended = false; // read 0 or an error

    explicit RawPeer(std::uint64_t seed) : random(seed) {}

    void pump() {
        while (sent < to_send) {
            if (block_at == block.size()) {
                fill_random(block, random);
                block_at = 0;
            }
            const std::size_t want = std::min(block.size() - block_at, to_send - sent);
            const std::ptrdiff_t n =
                peer.write_some(std::string_view(block).substr(block_at, want));
            if (n <= 0) {
                break;
            }
            sent_sum.add(block.data() + block_at, static_cast<std::size_t>(n));
            block_at += static_cast<std::size_t>(n);
            sent += static_cast<std::size_t>(n);
        }
        if (read_only_after_sending && sent < to_send) {
            return;
        }
        char buffer[65536];
        std::size_t budget = read_per_pump;
        while (budget > 0 && !ended) {
            const std::ptrdiff_t n = peer.read_some(buffer, std::min(sizeof buffer, budget));
            if (n > 0) {
                received_sum.add(buffer, static_cast<std::size_t>(n));
                received += static_cast<std::size_t>(n);
                budget -= static_cast<std::size_t>(n);
            } else {
                ended = n == 0;
                break;
            }
        }
    }
};

/// Runs the loop, pumping the peers every millisecond, until `done` or `timeout`.
bool pump_until(Loop& loop, std::vector<RawPeer*> peers, const std::function<bool()>& done,
                std::chrono::milliseconds timeout = 60s, const std::function<void()>& each = {}) {
    bool stop = false;
    std::function<void()> tick = [&] {
        for (RawPeer* peer : peers) {
            peer->pump();
        }
        if (each) {
            each();
        }
        if (!stop) {
            loop.call_later(1ms, tick);
        }
    };
    loop.call_soon(tick);
    const bool ok = run_until(loop, done, timeout);
    stop = true;
    run_until(
        loop, [] { return false; }, 5ms); // let the last tick run out
    return ok;
}

/// Skips the test, saying why, where no serial device can be simulated.
#define SKIP_WITHOUT_SIMULATED_DEVICE()                                                            \
    if (const std::string why = SimulatedDevice::unavailable(); !why.empty()) {                    \
        GTEST_SKIP() << why;                                                                       \
    }

class BridgeTest : public LoopTest {
protected:
    /// A loopback TCP connection: ferry's end (returned) and the test's raw client.
    /// `small_buffers`: 64 KiB socket buffers (no autotuning to megabytes), so that a slow
    /// client is felt by the bridge at once.
    std::shared_ptr<Transport> tcp_pair(RawPeer& client, bool small_buffers = false) {
        Wired wired = wire_tcp(
            loop, [] { return std::make_unique<Protocol>(); }, small_buffers ? 64 * 1024 : 0);
        client.peer = std::move(wired.peer);
        return wired.transport;
    }
    /// A serial port (returned) on a simulated device the test plays with `uart`.
    std::shared_ptr<Transport> serial_pair(RawPeer& uart) {
        SimulatedDevice device;
        auto opened = create_serial_connection(
            loop, [] { return std::make_unique<Protocol>(); }, device.path(), options_at_115200());
        EXPECT_TRUE(opened.ok()) << opened.message();
        uart.peer = std::move(device.peer());
        return opened.ok() ? opened.value() : nullptr;
    }
    static SerialOptions options_at_115200() {
        SerialOptions options;
        options.baud_rate = 115200;
        return options;
    }
    /// Bridge options for a serial side `a` whose sender waits: a pty's writer, or socat's
    /// behind the Wine COM pair (a COM port without flow control says it cannot pause).
    static BridgeOptions waiting_serial_side() {
        BridgeOptions options;
        options.a_pausing = Pausing::pause;
        return options;
    }
};

TEST_F(BridgeTest, BulkEachWayBetweenASerialPortAndTcpArrivesIntact) {
    SKIP_WITHOUT_SIMULATED_DEVICE();
    RawPeer program(1);
    RawPeer client(2);
    program.to_send = client.to_send = serial_bulk_bytes;
    const BridgeOptions options = waiting_serial_side();
    auto joined = bridge(serial_pair(program), tcp_pair(client), options);
    std::size_t most_queued = 0;
    ASSERT_TRUE(pump_until(
        loop, {&program, &client},
        [&] { return program.received == client.to_send && client.received == program.to_send; },
        120s,
        [&] {
            if (joined->is_open()) {
                most_queued = std::max({most_queued, joined->a().write_buffer_size(),
                                        joined->b().write_buffer_size()});
            }
        }))
        << "program got " << program.received << ", client got " << client.received;
    EXPECT_EQ(program.received_sum.value, client.sent_sum.value);
    EXPECT_EQ(client.received_sum.value, program.sent_sum.value);
    const BridgeStats stats = joined->stats();
    EXPECT_EQ(stats.a_to_b.bytes_read, serial_bulk_bytes);
    EXPECT_EQ(stats.a_to_b.bytes_written, serial_bulk_bytes);
    EXPECT_EQ(stats.b_to_a.bytes_written, serial_bulk_bytes);
    EXPECT_EQ(stats.a_to_b.bytes_dropped + stats.b_to_a.bytes_dropped, 0u);
    // Bounded: the high mark plus what one read can add before the pause takes effect.
    EXPECT_LE(most_queued, options.high_water + 256 * 1024);
    joined->close();
    EXPECT_TRUE(run_until(loop, [&] { return !joined->is_open(); }));
}

TEST_F(BridgeTest, ASlowReaderPausesTheSourceAndLosesNothing) {
    SKIP_WITHOUT_SIMULATED_DEVICE();
    RawPeer program(3);
    RawPeer client(4);
    program.to_send = 4u << 20;
    client.read_per_pump = 8 * 1024; // 8 KiB a millisecond at most
    const BridgeOptions options = waiting_serial_side();
    auto joined = bridge(serial_pair(program), tcp_pair(client, true), options);
    std::size_t most_queued = 0;
    ASSERT_TRUE(pump_until(
        loop, {&program, &client}, [&] { return client.received == program.to_send; }, 120s,
        [&] { most_queued = std::max(most_queued, joined->b().write_buffer_size()); }));
    EXPECT_EQ(client.received_sum.value, program.sent_sum.value);
    EXPECT_GT(joined->stats().a_to_b.pauses, 0u) << "the pty was never paused";
    EXPECT_EQ(joined->stats().a_to_b.bytes_dropped, 0u);
    EXPECT_LE(most_queued, options.high_water + 256 * 1024);
}

TEST_F(BridgeTest, ASourceThatCannotPauseIsBufferedUpToMaxBufferAndTheRestCounted) {
    // A source that cannot pause (as a UART without flow control; here a port on a simulated
    // device told so, since its writer would wait) into a client that reads nothing until the
    // device has finished.
    SKIP_WITHOUT_SIMULATED_DEVICE();
    RawPeer uart(5);
    uart.to_send = 4u << 20;
    RawPeer client(6);
    client.read_per_pump = 0;
    std::shared_ptr<Transport> port = serial_pair(uart);
    ASSERT_TRUE(port);
    BridgeOptions options;
    options.max_buffer = 512 * 1024;
    options.a_pausing = Pausing::never;
    auto joined = bridge(port, tcp_pair(client, true), options);
    std::size_t most_queued = 0;
    ASSERT_TRUE(pump_until(
        loop, {&uart, &client},
        [&] { return uart.sent == uart.to_send && joined->stats().a_to_b.bytes_read == uart.sent; },
        60s, [&] { most_queued = std::max(most_queued, joined->b().write_buffer_size()); }));
    const BridgeFlow flow = joined->stats().a_to_b;
    EXPECT_EQ(flow.pauses, 0u) << "a source that cannot pause is never paused";
    EXPECT_GT(flow.bytes_dropped, 0u);
    EXPECT_EQ(flow.bytes_written + flow.bytes_dropped, flow.bytes_read);
    EXPECT_LE(most_queued, options.max_buffer);
    // Everything the bridge accepted still arrives.
    client.read_per_pump = SIZE_MAX;
    ASSERT_TRUE(pump_until(loop, {&client}, [&] { return client.received == flow.bytes_written; }));
}

TEST_F(BridgeTest, PeersThatReadOnlyAfterWritingEverythingDoNotDeadlockIt) {
    // Like socat relaying in one loop: each peer blocks on its write and reads nothing
    // meanwhile. With plain back-pressure both directions would pause and wait forever.
    SKIP_WITHOUT_SIMULATED_DEVICE();
    if (const std::string why = SimulatedDevice::coupled_relay_reason(); !why.empty()) {
        GTEST_SKIP() << why;
    }
    RawPeer program(7);
    RawPeer client(8);
    program.to_send = client.to_send = 4u << 20;
    program.read_only_after_sending = client.read_only_after_sending = true;
    const BridgeOptions options = waiting_serial_side();
    auto joined = bridge(serial_pair(program), tcp_pair(client), options);
    ASSERT_TRUE(pump_until(
        loop, {&program, &client},
        [&] { return program.received == client.to_send && client.received == program.to_send; },
        60s))
        << "program got " << program.received << ", client got " << client.received;
    EXPECT_EQ(program.received_sum.value, client.sent_sum.value);
    EXPECT_EQ(client.received_sum.value, program.sent_sum.value);
    EXPECT_EQ(joined->stats().a_to_b.bytes_dropped + joined->stats().b_to_a.bytes_dropped, 0u);
}

TEST_F(BridgeTest, EndOfInputCrossesAsWriteEofAndTheBridgeEndsOnceBothSidesClose) {
    RawPeer left(9);
    RawPeer right(10);
    auto joined = bridge(tcp_pair(left), tcp_pair(right));
    int closed_calls = 0;
    std::error_code closed_with = make_error_code(errc::closed);
    joined->on_closed([&](std::error_code error) {
        ++closed_calls;
        closed_with = error;
    });
    ASSERT_TRUE(left.peer.write("last words"));
    left.peer.shutdown_write();
    ASSERT_TRUE(pump_until(
        loop, {&right}, [&] { return right.ended; }, 10s))
        << "the EOF did not cross";
    EXPECT_EQ(right.received, 10u);
    EXPECT_TRUE(joined->is_open()) << "half-closed: the other way still flows";
    ASSERT_TRUE(right.peer.write("reply"));
    right.peer.shutdown_write();
    ASSERT_TRUE(pump_until(
        loop, {&left}, [&] { return left.ended; }, 10s));
    EXPECT_EQ(left.received, 5u);
    EXPECT_TRUE(run_until(loop, [&] { return closed_calls == 1; }));
    EXPECT_FALSE(closed_with);
    EXPECT_EQ(loop.run_until_complete(joined->wait_closed()), std::error_code());
}

TEST_F(BridgeTest, AResetOnOneSideClosesTheOtherAfterFlushingAndReportsTheError) {
    SKIP_WITHOUT_SIMULATED_DEVICE();
    RawPeer device_program(11);
    RawPeer client(12);
    const BridgeOptions options = waiting_serial_side();
    auto joined = bridge(serial_pair(device_program), tcp_pair(client), options);
    ASSERT_TRUE(client.peer.write("command"));
    ASSERT_TRUE(pump_until(loop, {&device_program}, [&] { return device_program.received == 7; }));
    client.peer.reset();
    const std::error_code error = loop.run_until_complete(joined->wait_closed());
    EXPECT_TRUE(error) << "a reset is an error";
    EXPECT_FALSE(joined->is_open());
}

TEST_F(BridgeTest, ASerialSideHasNoHalfCloseSoTheEndOfTcpInputClosesItAfterFlushing) {
    SKIP_WITHOUT_SIMULATED_DEVICE();
    RawPeer uart(13);
    RawPeer client(14);
    std::shared_ptr<Transport> port = serial_pair(uart);
    ASSERT_TRUE(port);
    auto joined = bridge(port, tcp_pair(client));
    const std::string command(100000, 'c'); // more than the tty takes at once
    ASSERT_TRUE(client.peer.write(command));
    client.peer.shutdown_write();
    std::error_code closed_with = make_error_code(errc::closed);
    joined->on_closed([&](std::error_code error) { closed_with = error; });
    ASSERT_TRUE(pump_until(
        loop, {&uart}, [&] { return !joined->is_open(); }, 20s));
    EXPECT_FALSE(closed_with);
    // Whatever is still on its way (under Wine: in socat, between the two COM ports) arrives;
    // a port closed before it was flushed would have lost it.
    pump_until(
        loop, {&uart}, [&] { return uart.received == command.size(); }, 5s);
    EXPECT_EQ(uart.received, command.size()) << "the port was closed before it was flushed";
}

TEST_F(BridgeTest, BadArgumentsAreRefusedClearly) {
    RawPeer one(15);
    RawPeer two(16);
    auto a = tcp_pair(one);
    auto b = tcp_pair(two);
    EXPECT_THROW(bridge(a, a), Error);
    BridgeOptions inverted;
    inverted.low_water = 10;
    inverted.high_water = 5;
    EXPECT_THROW(bridge(a, b, inverted), Error);
    b->close();
    try {
        bridge(a, b);
        ADD_FAILURE() << "a closing side must be refused";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("side b is already closing"), std::string::npos);
    }
    a->close();
    run_until(
        loop, [] { return false; }, 10ms);
}

} // namespace
} // namespace ferry::test
