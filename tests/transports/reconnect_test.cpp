// Backoff arithmetic, and Reconnector keeping a connection up: a pty that comes back under the
// same link name, a TCP server that keeps closing, giving up, stopping, retrying at once.
#include <cmath>
#include <filesystem>
#include <numeric>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include <ferry/error.hpp>
#include <ferry/reconnect.hpp>
#include <ferry/server.hpp>
#include <ferry/transport.hpp>

#include "../support/pty_pair.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_support.hpp"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::LoopTest;
using test::PtyPair;
using test::Recording;
using test::recording_factory;
using test::run_until;
using test::TempDir;

ReconnectOptions exact(std::chrono::milliseconds initial, double factor,
                       std::chrono::milliseconds max, std::optional<unsigned> max_retries = {}) {
    ReconnectOptions options;
    options.initial_delay = initial;
    options.factor = factor;
    options.max_delay = max;
    options.jitter = 0;
    options.max_retries = max_retries;
    return options;
}

TEST(BackoffTest, GrowsByTheFactorUpToTheMaximum) {
    Backoff backoff(exact(100ms, 2.0, 1000ms));
    std::vector<std::int64_t> delays;
    for (int i = 0; i < 7; ++i) {
        delays.push_back(backoff.next().value().count());
    }
    EXPECT_EQ(delays, (std::vector<std::int64_t>{100, 200, 400, 800, 1000, 1000, 1000}));
    EXPECT_EQ(backoff.retries(), 7u);
    backoff.reset();
    EXPECT_EQ(backoff.retries(), 0u);
    EXPECT_EQ(backoff.next().value(), 100ms);
}

TEST(BackoffTest, StopsAfterMaxRetries) {
    Backoff backoff(exact(10ms, 1.5, 1000ms, 3));
    EXPECT_EQ(backoff.next().value(), 10ms);
    EXPECT_EQ(backoff.next().value(), 15ms);
    EXPECT_TRUE(backoff.next().has_value());
    EXPECT_FALSE(backoff.next().has_value());
    EXPECT_FALSE(backoff.next().has_value());
    backoff.reset();
    EXPECT_TRUE(backoff.next().has_value());
}

TEST(BackoffTest, JitterSpreadsDelaysAroundTheNominalOne) {
    ReconnectOptions options = exact(1000ms, 1.0, 1000ms);
    options.jitter = 0.1;
    Backoff backoff(options, 42);
    std::vector<double> delays;
    for (int i = 0; i < 4000; ++i) {
        delays.push_back(static_cast<double>(backoff.next().value().count()));
    }
    const double mean = std::accumulate(delays.begin(), delays.end(), 0.0) / delays.size();
    double variance = 0;
    for (double d : delays) {
        variance += (d - mean) * (d - mean);
    }
    const double deviation = std::sqrt(variance / delays.size());
    EXPECT_NEAR(mean, 1000.0, 10.0);
    EXPECT_NEAR(deviation, 100.0, 10.0);
    EXPECT_GE(*std::min_element(delays.begin(), delays.end()), 0.0);
    EXPECT_NE(*std::min_element(delays.begin(), delays.end()),
              *std::max_element(delays.begin(), delays.end()));
}

TEST(BackoffTest, DefaultsAreTwisted) {
    const ReconnectOptions defaults;
    EXPECT_EQ(defaults.initial_delay, 1000ms);
    EXPECT_DOUBLE_EQ(defaults.factor, 2.7182818284590451);
    EXPECT_EQ(defaults.max_delay, std::chrono::milliseconds(3600 * 1000));
    EXPECT_DOUBLE_EQ(defaults.jitter, 0.11962656472);
    EXPECT_FALSE(defaults.max_retries.has_value());
}

TEST(BackoffTest, InvalidOptionsAreNamed) {
    const auto message_of = [](const ReconnectOptions& options) -> std::string {
        try {
            Backoff backoff(options);
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), make_error_code(errc::invalid_argument));
            return e.what();
        }
        return "";
    };
    ReconnectOptions options;
    options.factor = 0.5;
    EXPECT_NE(message_of(options).find("factor"), std::string::npos);
    options = {};
    options.jitter = -1;
    EXPECT_NE(message_of(options).find("jitter"), std::string::npos);
    options = {};
    options.initial_delay = -1ms;
    EXPECT_NE(message_of(options).find("initial_delay"), std::string::npos);
    options = {};
    options.max_delay = 10ms;
    EXPECT_NE(message_of(options).find("max_delay"), std::string::npos);
}

/// What a Reconnector's events reported.
struct ReconnectLog {
    int connected = 0;
    std::vector<std::string> reasons;
    std::vector<std::chrono::milliseconds> delays;
    int gave_up = 0;
    std::string gave_up_reason;

    ReconnectEvents events() {
        ReconnectEvents e;
        e.connected = [this](Transport&) { ++connected; };
        e.retrying = [this](std::error_code, const std::string& reason,
                            std::chrono::milliseconds delay) {
            reasons.push_back(reason);
            delays.push_back(delay);
        };
        e.gave_up = [this](std::error_code, const std::string& reason) {
            ++gave_up;
            gave_up_reason = reason;
        };
        return e;
    }
};

/// Points `link` at `target` atomically (a new link renamed over the old one), as udev
/// re-creates /dev/serial/by-id links when a device comes back.
void point_link(const fs::path& link, const std::string& target) {
    const fs::path fresh = link.string() + ".new";
    fs::remove(fresh);
    fs::create_symlink(target, fresh);
    fs::rename(fresh, link);
}

using ReconnectorTest = LoopTest;

TEST_F(ReconnectorTest, ReopensAPtyThatComesBackUnderTheSameLinkName) {
    TempDir dev("ferry-dev");
    const fs::path link = dev / "usb-FTDI_FT232R_A50285BI-if00-port0";
    auto first = std::make_unique<PtyPair>();
    point_link(link, first->path());

    std::vector<std::shared_ptr<Recording>> connections;
    ProtocolFactory factory = [&connections] {
        connections.push_back(std::make_shared<Recording>());
        return recording_factory(connections.back())();
    };
    ReconnectLog log;
    auto reconnector = Reconnector::start(loop, serial_connector(loop, link.string()), factory,
                                          exact(10ms, 2.0, 40ms), log.events());
    EXPECT_EQ(log.connected, 0); // nothing happens inside start()
    ASSERT_TRUE(run_until(
        loop, [&] { return log.connected == 1; }, 2s));
    ASSERT_TRUE(reconnector->is_connected());

    // Unplugged: the first connection ends with device_removed, and retries fail while the
    // link is gone (as udev removes it; a link left pointing at the closed pty could meet
    // another test's pty under the reused number).
    first.reset();
    fs::remove(link);
    ASSERT_TRUE(run_until(
        loop, [&] { return log.reasons.size() >= 3; }, 2s));
    EXPECT_EQ(connections[0]->lost, 1);
    EXPECT_EQ(connections[0]->lost_error, make_error_code(errc::device_removed));
    EXPECT_FALSE(reconnector->is_connected());
    EXPECT_NE(log.reasons[0].find("device removed"), std::string::npos) << log.reasons[0];
    EXPECT_NE(log.reasons[1].find("no such serial port"), std::string::npos) << log.reasons[1];
    EXPECT_EQ(log.delays[0], 10ms);
    EXPECT_EQ(log.delays[1], 20ms);
    EXPECT_EQ(log.delays[2], 40ms);

    // Plugged back in: a new pty under the same name, and the reconnector finds it.
    PtyPair second;
    point_link(link, second.path());
    ASSERT_TRUE(run_until(
        loop, [&] { return log.connected == 2; }, 2s));
    EXPECT_TRUE(reconnector->is_connected());
    EXPECT_EQ(reconnector->retries(), 0u); // a connection resets the backoff
    ASSERT_EQ(connections.back()->made, 1);
    ASSERT_EQ(::write(second.master(), "back\n", 5), 5);
    ASSERT_TRUE(run_until(
        loop, [&] { return connections.back()->data == "back\n"; }, 2s));
    EXPECT_EQ(connections[0]->data, ""); // the first protocol saw nothing of the second device

    reconnector->stop_trying();
    reconnector->transport()->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return connections.back()->lost == 1; }, 2s));
    EXPECT_FALSE(reconnector->is_connected());
}

TEST_F(ReconnectorTest, GivesUpAfterMaxRetriesWithTheLastReason) {
    ReconnectLog log;
    auto recording = std::make_shared<Recording>();
    auto reconnector =
        Reconnector::start(loop, serial_connector(loop, "/dev/ferry-no-such-port"),
                           recording_factory(recording), exact(1ms, 1.0, 1ms, 3), log.events());
    ASSERT_TRUE(run_until(
        loop, [&] { return log.gave_up == 1; }, 2s));
    EXPECT_EQ(log.reasons.size(), 3u);
    EXPECT_NE(log.gave_up_reason.find("no such serial port: /dev/ferry-no-such-port"),
              std::string::npos)
        << log.gave_up_reason;
    EXPECT_FALSE(reconnector->is_trying());
    EXPECT_EQ(recording->made, 0);
    run_until(
        loop, [] { return false; }, 20ms);
    EXPECT_EQ(log.reasons.size(), 3u);
}

// With `retryable`, an error that cannot clear ends the attempts at once; one that can clear
// (the port not there yet) is still retried.
TEST_F(ReconnectorTest, AnErrorThatCannotClearGivesUpAtOnce) {
    for (const char* never : {"/dev/null", "/tmp"}) {
        ReconnectLog log;
        ReconnectOptions options = exact(1ms, 1.0, 1ms, std::nullopt);
        options.retryable = serial_error_may_clear;
        auto reconnector = Reconnector::start(loop, serial_connector(loop, never),
                                              recording_factory(std::make_shared<Recording>()),
                                              options, log.events());
        ASSERT_TRUE(run_until(
            loop, [&] { return log.gave_up == 1; }, 2s))
            << never;
        EXPECT_TRUE(log.reasons.empty()) << never << " was retried: " << log.reasons.front();
        EXPECT_FALSE(reconnector->is_trying());
    }
    ReconnectLog log;
    ReconnectOptions options = exact(1ms, 1.0, 1ms, 2);
    options.retryable = serial_error_may_clear;
    auto missing =
        Reconnector::start(loop, serial_connector(loop, "/dev/ferry-no-such-port"),
                           recording_factory(std::make_shared<Recording>()), options, log.events());
    ASSERT_TRUE(run_until(
        loop, [&] { return log.gave_up == 1; }, 2s));
    EXPECT_EQ(log.reasons.size(), 2u); // retried until max_retries
}

TEST_F(ReconnectorTest, ReconnectsToATcpServerThatKeepsClosing) {
    int accepted = 0;
    auto server_recording = std::make_shared<Recording>();
    auto server = test::start_server(loop, recording_factory(server_recording, [&](auto& p) {
                                         p.on_made = [&](Transport& t) {
                                             ++accepted;
                                             t.close();
                                         };
                                     }));
    ASSERT_TRUE(server);
    auto client = std::make_shared<Recording>();
    ReconnectLog log;
    auto reconnector =
        Reconnector::start(loop, tcp_connector(loop, "127.0.0.1", server->port()),
                           recording_factory(client), exact(1ms, 1.0, 1ms), log.events());
    ASSERT_TRUE(run_until(
        loop, [&] { return log.connected >= 3 && client->lost >= 3; }, 5s));
    reconnector->stop_trying();
    const int connected = log.connected;
    run_until(
        loop, [] { return false; }, 30ms);
    EXPECT_LE(log.connected, connected + 1); // at most the attempt already under way
    EXPECT_EQ(log.reasons.front(), "connection closed");
    server->close();
    reconnector.reset();
    run_until(
        loop, [] { return false; }, 20ms);
}

TEST_F(ReconnectorTest, RetryNowSkipsTheWait) {
    TempDir dev("ferry-dev");
    const fs::path link = dev / "ttyUSB0";
    ReconnectLog log;
    auto recording = std::make_shared<Recording>();
    auto reconnector =
        Reconnector::start(loop, serial_connector(loop, link.string()),
                           recording_factory(recording), exact(1h, 1.0, 1h), log.events());
    ASSERT_TRUE(run_until(
        loop, [&] { return log.reasons.size() == 1; }, 2s));
    EXPECT_EQ(log.delays[0], 1h);
    PtyPair pty;
    point_link(link, pty.path());
    reconnector->retry_now(); // e.g. a PortWatcher saw the device appear
    EXPECT_TRUE(reconnector->is_connected());
    EXPECT_EQ(recording->made, 1);
    reconnector->retry_now(); // connected: nothing to do
    EXPECT_EQ(recording->made, 1);
    reconnector->transport()->abort();
    reconnector.reset();
}

TEST_F(ReconnectorTest, StopTryingFromTheRetryingEventEndsAttempts) {
    int attempts = 0;
    std::shared_ptr<Reconnector> reconnector;
    ReconnectEvents events;
    events.retrying = [&](std::error_code, const std::string&, std::chrono::milliseconds) {
        reconnector->stop_trying();
    };
    ConnectFunction failing = [&](ProtocolFactory, TransportCallback done) {
        ++attempts;
        done(Result<std::shared_ptr<Transport>>::failure(make_error_code(errc::closed), "nope"));
    };
    reconnector = Reconnector::start(
        loop, failing, [] { return std::make_unique<Protocol>(); }, exact(1ms, 1.0, 1ms), events);
    run_until(
        loop, [] { return false; }, 30ms);
    EXPECT_EQ(attempts, 1);
    EXPECT_FALSE(reconnector->is_trying());
}

TEST_F(ReconnectorTest, AConnectFunctionThatThrowsCountsAsAFailedAttempt) {
    int attempts = 0;
    ReconnectLog log;
    ConnectFunction throwing = [&](ProtocolFactory, TransportCallback) {
        ++attempts;
        throw Error(make_error_code(errc::invalid_argument), "bad endpoint");
    };
    auto reconnector = Reconnector::start(
        loop, throwing, [] { return std::make_unique<Protocol>(); }, exact(1ms, 1.0, 1ms, 2),
        log.events());
    ASSERT_TRUE(run_until(
        loop, [&] { return log.gave_up == 1; }, 2s));
    EXPECT_EQ(attempts, 3);
    EXPECT_EQ(log.gave_up_reason, "bad endpoint");
}

TEST_F(ReconnectorTest, DroppingItWhileWaitingStopsAttempts) {
    int attempts = 0;
    ConnectFunction failing = [&](ProtocolFactory, TransportCallback done) {
        ++attempts;
        done(Result<std::shared_ptr<Transport>>::failure(make_error_code(errc::closed), "nope"));
    };
    auto reconnector = Reconnector::start(
        loop, failing, [] { return std::make_unique<Protocol>(); }, exact(5ms, 1.0, 5ms));
    ASSERT_TRUE(run_until(
        loop, [&] { return attempts == 1; }, 2s));
    reconnector.reset();
    run_until(
        loop, [] { return false; }, 30ms);
    EXPECT_EQ(attempts, 1);
}

TEST_F(ReconnectorTest, ALateConnectionAfterStopTryingIsAborted) {
    // An attempt still under way when stop_trying() is called must not leave a connection.
    TransportCallback pending;
    ProtocolFactory pending_factory;
    ConnectFunction deferred = [&](ProtocolFactory factory, TransportCallback done) {
        pending_factory = std::move(factory);
        pending = std::move(done);
    };
    auto server_recording = std::make_shared<Recording>();
    auto server = test::start_server(loop, recording_factory(server_recording));
    ASSERT_TRUE(server);
    auto client = std::make_shared<Recording>();
    auto reconnector = Reconnector::start(loop, deferred, recording_factory(client));
    ASSERT_TRUE(run_until(
        loop, [&] { return pending != nullptr; }, 2s));
    reconnector->stop_trying();
    auto transport = test::connect_to(loop, pending_factory, "127.0.0.1", server->port());
    ASSERT_TRUE(transport);
    pending(transport);
    ASSERT_TRUE(run_until(
        loop, [&] { return client->lost == 1; }, 2s));
    EXPECT_FALSE(reconnector->is_connected());
    server->close();
}

/// Receives into its own memory; counts buffer_updated calls and keeps the last size hint.
class CountingBufferedProtocol : public BufferedProtocol {
public:
    CountingBufferedProtocol(int& updates, std::size_t& hint) : updates_(updates), hint_(hint) {}
    std::span<std::byte> get_buffer(std::size_t size_hint) override {
        hint_ = size_hint;
        return buffer_;
    }
    void buffer_updated(std::size_t) override { ++updates_; }

private:
    int& updates_;
    std::size_t& hint_;
    std::array<std::byte, 256> buffer_{};
};

TEST_F(ReconnectorTest, ABufferedProtocolStaysBuffered) {
    PtyPair pty;
    int updates = 0;
    std::size_t hint = 0;
    auto reconnector = Reconnector::start(loop, serial_connector(loop, pty.path()), [&] {
        return std::make_unique<CountingBufferedProtocol>(updates, hint);
    });
    ASSERT_TRUE(run_until(
        loop, [&] { return reconnector->is_connected(); }, 2s));
    ASSERT_EQ(::write(pty.master(), "abc", 3), 3);
    ASSERT_TRUE(run_until(
        loop, [&] { return updates > 0; }, 2s));
    // The transport asked for its whole read size: it read straight into the protocol's
    // memory (a copy through data_received would have asked for the 3 bytes received).
    EXPECT_GT(hint, 3u);
    reconnector->stop_trying();
    reconnector->transport()->abort();
}

} // namespace
} // namespace ferry
