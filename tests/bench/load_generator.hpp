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
    std::uint64_t round_trips = 0; // in the measured seconds
    std::uint64_t bytes_echoed = 0;
    /// Every round trip from the first connection to the last, warm-up included (what a
    /// server's whole-run instruction count is divided by).
    std::uint64_t all_round_trips = 0;
};

/// How clients speak to the server: plaintext, or TLS 1.3 with TLS_AES_128_GCM_SHA256 only
/// (OpenSSL over memory BIOs; the server's certificate is not verified).
enum class Wire {
    plaintext,
    tls13_aes128gcm,
};

/// Runs `connections` clients against 127.0.0.1:`port`. Once every client is connected (and,
/// over TLS, has finished its handshake):
/// `warmup` seconds unmeasured, then `seconds` measured, calling `mark(true)` when measurement
/// starts and `mark(false)` when it ends (the caller samples the server's CPU time there).
/// Throws std::runtime_error if a connection fails.
LoadResult run_load(std::uint16_t port, LoadMode mode, int connections, std::size_t message_size,
                    double warmup, double seconds, const std::function<void(bool)>& mark,
                    Wire wire = Wire::plaintext);

/// Opens `connections` clients, has each echo one 64-byte message (so the server has set up
/// everything a live connection needs), calls `while_idle()` with all of them open and quiet,
/// then closes them.
void hold_idle(std::uint16_t port, int connections, const std::function<void()>& while_idle,
               Wire wire = Wire::plaintext);

} // namespace bench
