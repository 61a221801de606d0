// The bridge: bulk transfers both ways with checksums between a pty and a TCP socket,
// back-pressure reaching the source, a bounded buffer with counted drops for a source that
// cannot pause, two peers that only read once they have written everything (socat's
// coupling), and how the end of input and of a connection crosses over.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../support/pty_pair.hpp"
#include "../support/test_support.hpp"
#include "../support/transfer.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

/// A peer the test plays on a raw non-blocking descriptor: sends `to_send` random bytes,
/// reads what arrives, and checksums both.
struct RawPeer {
    int fd = -1;
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
    ~RawPeer() {
        if (fd >= 0) {
            ::close(fd);
        }
    }

    void pump() {
        while (sent < to_send) {
            if (block_at == block.size()) {
                fill_random(block, random);
                block_at = 0;
            }
            const std::size_t want = std::min(block.size() - block_at, to_send - sent);
            const ssize_t n = ::write(fd, block.data() + block_at, want);
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
            const ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, budget));
            if (n > 0) {
                received_sum.add(buffer, static_cast<std::size_t>(n));
                received += static_cast<std::size_t>(n);
                budget -= static_cast<std::size_t>(n);
            } else {
                ended = n == 0 || (errno != EAGAIN && errno != EINTR);
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

/// Keeps the transport of the connection it is given (to bridge it).
class Catch : public Protocol {
public:
    explicit Catch(std::shared_ptr<Transport>* slot) : slot_(slot) {}
    void connection_made(Transport& transport) override { *slot_ = transport.shared_from_this(); }

private:
    std::shared_ptr<Transport>* slot_;
};

class BridgeTest : public LoopTest {
protected:
    /// A loopback TCP connection: ferry's accepted end (returned) and the test's raw client.
    /// `small_buffers`: 64 KiB socket buffers both ends (no autotuning to megabytes), so that
    /// a slow client is felt by the bridge at once.
    std::shared_ptr<Transport> tcp_pair(RawPeer& client, bool small_buffers = false) {
        std::shared_ptr<Transport> accepted;
        auto server = loop.run_until_complete(create_server(
            loop, [&] { return std::make_unique<Catch>(&accepted); }, "127.0.0.1", 0));
        client.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int small = 64 * 1024;
        if (small_buffers) {
            ::setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        }
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(server->port());
        EXPECT_EQ(::connect(client.fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
        ::fcntl(client.fd, F_SETFL, O_NONBLOCK);
        EXPECT_TRUE(run_until(loop, [&] { return accepted != nullptr; }));
        if (small_buffers && accepted) {
            ::setsockopt(static_cast<int>(accepted->native_handle()), SOL_SOCKET, SO_SNDBUF, &small,
                         sizeof small);
        }
        server->close();
        return accepted;
    }
    /// create_pty's device end (returned) and the test's raw program on its terminal end.
    std::shared_ptr<Transport> pty_pair(RawPeer& program) {
        std::shared_ptr<Transport> device;
        auto made = create_pty(loop, [&] { return std::make_unique<Catch>(&device); });
        EXPECT_TRUE(made.ok()) << made.message();
        program.fd = ::open(made.value()->path().c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK);
        termios settings{};
        ::tcgetattr(program.fd, &settings);
        settings.c_cc[VMIN] = 1; // an empty read says EAGAIN, not 0
        ::tcsetattr(program.fd, TCSANOW, &settings);
        return device;
    }
};

TEST_F(BridgeTest, SixtyFourMebibytesEachWayBetweenAPtyAndTcpArriveIntact) {
    RawPeer program(1);
    RawPeer client(2);
    program.to_send = client.to_send = 64u << 20;
    BridgeOptions options;
    auto joined = bridge(pty_pair(program), tcp_pair(client), options);
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
    EXPECT_EQ(stats.a_to_b.bytes_read, 64u << 20);
    EXPECT_EQ(stats.a_to_b.bytes_written, 64u << 20);
    EXPECT_EQ(stats.b_to_a.bytes_written, 64u << 20);
    EXPECT_EQ(stats.a_to_b.bytes_dropped + stats.b_to_a.bytes_dropped, 0u);
    // Bounded: the high mark plus what one read can add before the pause takes effect.
    EXPECT_LE(most_queued, options.high_water + 256 * 1024);
    joined->close();
    EXPECT_TRUE(run_until(loop, [&] { return !joined->is_open(); }));
}

TEST_F(BridgeTest, ASlowReaderPausesTheSourceAndLosesNothing) {
    RawPeer program(3);
    RawPeer client(4);
    program.to_send = 4u << 20;
    client.read_per_pump = 8 * 1024; // 8 KiB a millisecond at most
    BridgeOptions options;
    auto joined = bridge(pty_pair(program), tcp_pair(client, true), options);
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
    // A source that cannot pause (as a UART without flow control; here a port on a pty told
    // so, since a pty's writer would wait) into a client that reads nothing until the device
    // has finished.
    PtyPair device;
    device.set_master_nonblocking(true);
    RawPeer uart(5);
    uart.fd = ::dup(device.master());
    uart.to_send = 4u << 20;
    RawPeer client(6);
    client.read_per_pump = 0;
    std::shared_ptr<Transport> port;
    auto opened = create_serial_connection(
        loop, [&] { return std::make_unique<Catch>(&port); }, device.path());
    ASSERT_TRUE(opened.ok()) << opened.message();
    EXPECT_TRUE(dynamic_cast<SerialTransport&>(*port).pauses_sender()) << "a pty's writer waits";
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
    RawPeer program(7);
    RawPeer client(8);
    program.to_send = client.to_send = 4u << 20;
    program.read_only_after_sending = client.read_only_after_sending = true;
    BridgeOptions options;
    auto joined = bridge(pty_pair(program), tcp_pair(client), options);
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
    ASSERT_EQ(::write(left.fd, "last words", 10), 10);
    ::shutdown(left.fd, SHUT_WR);
    ASSERT_TRUE(pump_until(
        loop, {&right}, [&] { return right.ended; }, 10s))
        << "the EOF did not cross";
    EXPECT_EQ(right.received, 10u);
    EXPECT_TRUE(joined->is_open()) << "half-closed: the other way still flows";
    ASSERT_EQ(::write(right.fd, "reply", 5), 5);
    ::shutdown(right.fd, SHUT_WR);
    ASSERT_TRUE(pump_until(
        loop, {&left}, [&] { return left.ended; }, 10s));
    EXPECT_EQ(left.received, 5u);
    EXPECT_TRUE(run_until(loop, [&] { return closed_calls == 1; }));
    EXPECT_FALSE(closed_with);
    EXPECT_EQ(loop.run_until_complete(joined->wait_closed()), std::error_code());
}

TEST_F(BridgeTest, AResetOnOneSideClosesTheOtherAfterFlushingAndReportsTheError) {
    RawPeer device_program(11);
    RawPeer client(12);
    BridgeOptions options;
    auto joined = bridge(pty_pair(device_program), tcp_pair(client), options);
    ASSERT_EQ(::write(client.fd, "command", 7), 7);
    ASSERT_TRUE(pump_until(loop, {&device_program}, [&] { return device_program.received == 7; }));
    linger reset{1, 0};
    ::setsockopt(client.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(client.fd); // RST
    client.fd = -1;
    const std::error_code error = loop.run_until_complete(joined->wait_closed());
    EXPECT_TRUE(error) << "a reset is an error";
    EXPECT_FALSE(joined->is_open());
}

TEST_F(BridgeTest, ASerialSideHasNoHalfCloseSoTheEndOfTcpInputClosesItAfterFlushing) {
    PtyPair device;
    device.set_master_nonblocking(true);
    RawPeer uart(13);
    uart.fd = ::dup(device.master());
    device.close_master();
    RawPeer client(14);
    std::shared_ptr<Transport> port;
    ASSERT_TRUE(create_serial_connection(
                    loop, [&] { return std::make_unique<Catch>(&port); }, device.path())
                    .ok());
    auto joined = bridge(port, tcp_pair(client));
    const std::string command(100000, 'c'); // more than the tty takes at once
    ASSERT_EQ(::write(client.fd, command.data(), command.size()),
              static_cast<ssize_t>(command.size()));
    ::shutdown(client.fd, SHUT_WR);
    std::error_code closed_with = make_error_code(errc::closed);
    joined->on_closed([&](std::error_code error) { closed_with = error; });
    ASSERT_TRUE(pump_until(
        loop, {&uart}, [&] { return !joined->is_open(); }, 20s));
    EXPECT_FALSE(closed_with);
    uart.pump();
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
