#pragma once
/// Reconnector: keeps a connection up, reconnecting with exponential backoff and jitter after a
/// failed attempt or a lost connection (Twisted's ReconnectingClientFactory), for any transport.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>

#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/serial.hpp>
#include <ferry/tcp.hpp>

namespace ferry {

class Transport;

/// How long to wait between attempts. Defaults are Twisted's.
struct ReconnectOptions {
    /// The wait before the first retry.
    std::chrono::milliseconds initial_delay{1000};
    /// Each further wait is the previous one times this (Twisted: e).
    double factor = 2.7182818284590451;
    /// No wait (before jitter) is longer than this.
    std::chrono::milliseconds max_delay{std::chrono::hours(1)};
    /// Each wait is drawn from a normal distribution around it with this relative standard
    /// deviation (0 = exact), so many clients do not retry in lockstep.
    double jitter = 0.11962656472;
    /// Give up after this many consecutive failed retries; empty = never give up.
    std::optional<unsigned> max_retries{};
    /// Which failed attempts are worth retrying: an attempt failing with an error for which
    /// this returns false gives up at once (gave_up), whatever max_retries says. Empty: every
    /// error is retried (Twisted). For serial ports, serial_error_may_clear. Lost connections
    /// are always retried: a port that was open can come back.
    std::function<bool(std::error_code)> retryable{};
};

/// The delays of one backoff sequence, as pure arithmetic (no loop): what Reconnector uses.
class Backoff {
public:
    /// A sequence starting at options.initial_delay. Throws ferry::Error on invalid options
    /// (negative delays, factor < 1, negative jitter).
    explicit Backoff(const ReconnectOptions& options, std::uint64_t seed = std::random_device{}());
    /// Counts a failed attempt and returns how long to wait before the next one, or nothing
    /// when max_retries is used up.
    std::optional<std::chrono::milliseconds> next();
    /// Back to the initial delay and zero retries (after a successful connection).
    void reset() noexcept;
    /// Consecutive retries counted since the last reset.
    unsigned retries() const noexcept { return retries_; }

private:
    ReconnectOptions options_;
    double delay_ms_;
    unsigned retries_ = 0;
    std::mt19937_64 random_;
};

/// Starts one connection attempt: makes the transport with `factory`, reports it (or the error)
/// to `done`, synchronously or later. create_connection, create_serial_connection and friends
/// fit with a small lambda; serial_connector and tcp_connector make the common ones.
using ConnectFunction = std::function<void(ProtocolFactory factory, TransportCallback done)>;

/// What a Reconnector tells its owner (each optional; loop thread).
struct ReconnectEvents {
    /// A connection is up (after the protocol's connection_made).
    std::function<void(Transport&)> connected;
    /// An attempt failed or the connection was lost (`error`, empty for a clean close; `reason`
    /// says it for people, e.g. "no such serial port: /dev/ttyUSB0 (is the device plugged
    /// in?)"); the next attempt starts after `delay`.
    std::function<void(std::error_code error, const std::string& reason,
                       std::chrono::milliseconds delay)>
        retrying;
    /// max_retries is used up, or an attempt failed with an error `retryable` refuses; `error`
    /// and `reason` are the last failure. Nothing more is tried.
    std::function<void(std::error_code error, const std::string& reason)> gave_up;
};

/// Keeps one connection up: connects, and after a failed attempt or a lost connection
/// waits (Backoff) and connects again with a fresh protocol from the factory. A successful
/// connection resets the backoff. The user's protocol sees an ordinary connection each time.
/// Loop thread only. Dropping the last reference stops further attempts (as stop_trying) but
/// leaves a live connection to its protocol; close it through transport() first if wanted.
class Reconnector : public std::enable_shared_from_this<Reconnector> {
public:
    /// Makes the first attempt on the next loop iteration (no event runs inside start()).
    /// Throws ferry::Error on invalid options.
    static std::shared_ptr<Reconnector> start(Loop& loop, ConnectFunction connect,
                                              ProtocolFactory factory,
                                              ReconnectOptions options = {},
                                              ReconnectEvents events = {});
    /// Use start(): the object must be owned by a shared_ptr.
    Reconnector(Loop& loop, ConnectFunction connect, ProtocolFactory factory,
                ReconnectOptions options, ReconnectEvents events);
    ~Reconnector();
    Reconnector(const Reconnector&) = delete;
    Reconnector& operator=(const Reconnector&) = delete;

    /// No more attempts (Twisted's stopTrying): cancels a pending retry and abandons an attempt
    /// in progress (aborting its transport if it connects later). A live connection stays up.
    void stop_trying() noexcept;
    /// If waiting for a retry, attempts now (e.g. a PortWatcher saw the device come back).
    void retry_now();
    /// The live connection's transport, or null while not connected.
    std::shared_ptr<Transport> transport() const;
    /// True while a connection is up.
    bool is_connected() const noexcept { return transport_ != nullptr; }
    /// True until stop_trying() or giving up.
    bool is_trying() const noexcept { return trying_; }
    /// Consecutive retries since the last successful connection.
    unsigned retries() const noexcept { return backoff_.retries(); }

private:
    void attempt();
    void on_attempt_done(std::uint64_t attempt_id, Result<std::shared_ptr<Transport>> result);
    void on_connection_lost(std::uint64_t attempt_id, std::error_code error);
    void schedule_retry(std::error_code error, const std::string& reason);
    void give_up(std::error_code error, const std::string& reason);

    Loop& loop_;
    ConnectFunction connect_;
    ProtocolFactory factory_;
    std::function<bool(std::error_code)> retryable_;
    ReconnectEvents events_;
    Backoff backoff_;
    std::shared_ptr<Transport> transport_;
    /// Numbers attempts; each protocol wrapper and completion callback carries its own.
    std::uint64_t last_attempt_ = 0;
    /// The attempt in progress (0: none, or abandoned by stop_trying).
    std::uint64_t pending_attempt_ = 0;
    /// The attempt whose connection is up (0: none).
    std::uint64_t connected_attempt_ = 0;
    bool trying_ = true;
    std::optional<CallbackHandle> retry_timer_;
};

/// A ConnectFunction opening a serial port (create_serial_connection) each time.
ConnectFunction serial_connector(Loop& loop, std::string path, SerialOptions options = {});

/// A ConnectFunction connecting to host:port over TCP (create_connection) each time.
ConnectFunction tcp_connector(Loop& loop, std::string host, std::uint16_t port,
                              ConnectOptions options = {});

} // namespace ferry
