#pragma once
// What every echo_bench server shares: it listens on 127.0.0.1:0, prints its port as one line
// on stdout, and serves until SIGTERM. Each is its own executable, so its memory at start and
// per connection is its own (a forked child would carry the benchmark's pages).

#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace bench {

/// The high-water mark of every server: stop reading while more than this much echo is queued.
inline constexpr std::size_t echo_high_water = 64 * 1024;
/// The listen backlog: 2000 clients connect at once.
inline constexpr int echo_backlog = 4096;

/// Tells echo_bench the port (one line on stdout).
inline void announce_port(unsigned short port) {
    std::printf("%u\n", port);
    if (std::fflush(stdout) != 0) {
        std::abort();
    }
}

} // namespace bench
