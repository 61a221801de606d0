#pragma once
// One bridge of ferry-bridge: two endpoints, and how clients of a listening one are served.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <ferry/ferry.hpp>

#include "allowlist.hpp"
#include "trace.hpp"

namespace bridge_tool {

/// How the clients of a listening side share the device (ser2net's names).
enum class ClientMode {
    /// One client at a time; another gets "port already in use" and is closed.
    exclusive,
    /// A new client takes over; the old one gets EOF.
    kick_old,
    /// Every client gets the device's output, each with its own bounded buffer.
    shared,
};

/// Everything one bridge is configured with (command line or one line of a config file).
struct ServiceOptions {
    /// The two sides as given.
    std::string a_text;
    /// See a_text.
    std::string b_text;
    /// Client mode of a listening side.
    ClientMode mode = ClientMode::exclusive;
    /// Most clients at once in shared mode (0: no limit).
    std::size_t max_connections = 0;
    /// A client idle this long is closed (zero: never).
    std::chrono::seconds idle_timeout{0};
    /// Sent to each client when it connects, after escapes are expanded (see expand_banner).
    std::string banner;
    /// Sent to the device when it is opened for the first client, and before it is closed
    /// after the last (escapes \r \n \t \\ \xHH).
    std::string open_string;
    /// See open_string.
    std::string close_string;
    /// Keep the device open with no client (and open it at start) instead of opening it on
    /// the first connect and closing it after the last.
    bool keep_open = false;
    /// "log" or a file path: trace every relayed chunk as a hex dump. Empty: no trace.
    std::string trace;
    /// Clients allowed (CIDR ranges); empty: anyone who can reach the listening address.
    Allowlist allow;
    /// Clients' input is discarded.
    bool read_only = false;
    /// The most bytes queued for one client of a listening side, or (0) the default: 1 MiB
    /// there, 8 MiB per direction when two connecting sides are joined (see BridgeOptions).
    std::size_t max_buffer = 0;
    /// Reopen sides that fail or end, with backoff. Off: the first end is the end.
    bool reconnect = true;
};

/// Parses \r \n \t \\ \xHH escapes (open and close strings). Throws std::invalid_argument
/// naming a bad escape.
std::string unescape(const std::string& text);

/// Expands a banner's escapes: \d the device's description, \p the listening side's, \s the
/// device's settings ("115200 8N1"), \a the client's address, and those of unescape().
std::string expand_banner(const std::string& banner, const std::string& device,
                          const std::string& listener, const std::string& settings,
                          const std::string& client);

/// One running bridge. Made by start(); ends when stop() has closed everything, or (direct
/// bridges without reconnecting) when the bridge ends. Loop thread only.
class Service {
public:
    virtual ~Service() = default;
    /// Parses the endpoints and starts: listens (done when listening), opens the device
    /// (keep_open), or starts connecting both sides. Throws ferry::Error naming what is wrong
    /// (a bad description, two listening sides, a port in use).
    static ferry::Task<std::shared_ptr<Service>> start(ferry::Loop& loop, ServiceOptions options);
    /// Stops accepting, flushes what was accepted to each side, closes everything.
    virtual void stop() = 0;
    /// Closes everything at once (a stop that took too long).
    virtual void abort() = 0;
    /// True once everything is closed and nothing more will be opened.
    virtual bool finished() const noexcept = 0;
    /// Calls `callback` once finished.
    virtual void on_finished(std::function<void()> callback) = 0;
    /// The statistics in the shape of ser2net's showport, several lines.
    virtual std::string statistics() const = 0;
    /// The listening side's port (0 if none listens on TCP).
    virtual std::uint16_t port() const noexcept = 0;
    /// Why the service ended by itself (a device that cannot be opened, a side that ended
    /// without --reconnect); empty when it did not, or was stopped.
    virtual std::string failure() const = 0;
};

} // namespace bridge_tool
