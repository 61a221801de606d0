#pragma once
// The benchmark's load generator: raw libuv clients on 127.0.0.1, in the parent process.

#include <cstddef>
#include <cstdint>
#include <functional>

namespace bench {

/// How clients load the server.
enum class LoadMode {
    /// Each connection sends one message and waits for its echo before the next.
    ping_pong,
    /// Each connection keeps a window of bytes in flight and counts what comes back.
    stream,
};

/// What one measured phase produced.
struct LoadResult {
    double seconds = 0;
    std::uint64_t round_trips = 0;
    std::uint64_t bytes_echoed = 0;
};

/// Runs `connections` clients against 127.0.0.1:`port`: `warmup` seconds unmeasured, then
/// `seconds` measured, calling `mark(true)` when measurement starts and `mark(false)` when it
/// ends (the caller samples the server's CPU time there).
LoadResult run_load(std::uint16_t port, LoadMode mode, int connections, std::size_t message_size,
                    double warmup, double seconds, const std::function<void(bool)>& mark);

} // namespace bench
