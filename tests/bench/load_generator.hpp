#pragma once
// The benchmark's load generator: raw libuv clients on 127.0.0.1, in the parent process, the
// same for every server.

#include <cstddef>
#include <cstdint>
#include <functional>

namespace bench {

/// How clients load the server.
enum class LoadMode {
    /// Each connection sends one message and waits for its echo before the next.
    ping_pong,
    /// Each connection writes 64 KiB at a time, keeps 256 KiB in flight and counts the echo.
    bulk,
};

/// What one measured phase produced.
struct LoadResult {
    double seconds = 0;
    std::uint64_t round_trips = 0;
    std::uint64_t bytes_echoed = 0;
};

/// Runs `connections` clients against 127.0.0.1:`port`. Once every client is connected:
/// `warmup` seconds unmeasured, then `seconds` measured, calling `mark(true)` when measurement
/// starts and `mark(false)` when it ends (the caller samples the server's CPU time there).
/// Throws std::runtime_error if a connection fails.
LoadResult run_load(std::uint16_t port, LoadMode mode, int connections, std::size_t message_size,
                    double warmup, double seconds, const std::function<void(bool)>& mark);

/// Opens `connections` clients, has each echo one 64-byte message (so the server has set up
/// everything a live connection needs), calls `while_idle()` with all of them open and quiet,
/// then closes them.
void hold_idle(std::uint16_t port, int connections, const std::function<void()>& while_idle);

} // namespace bench
