// Reading a Peer while a loop runs (platform-neutral).
#include "peer.hpp"

#include "test_support.hpp"

namespace ferry::test {

using namespace std::chrono_literals;

namespace {

/// Reads `peer` into `got`, running `loop` in between, until `want` bytes arrived or the
/// peer's descriptor ended. True when it ended; false when `want` was reached first or
/// `timeout` passed.
bool read_peer(Loop& loop, Peer& peer, std::string& got, std::size_t want,
               std::chrono::milliseconds timeout) {
    char buffer[65536];
    bool ended = false;
    run_until(
        loop,
        [&] {
            while (!ended && got.size() < want) {
                const std::ptrdiff_t n = peer.read_some(buffer, sizeof buffer);
                if (n > 0) {
                    got.append(buffer, static_cast<std::size_t>(n));
                } else if (n == 0) {
                    ended = true;
                } else {
                    loop.call_later(1ms, [] {}); // nothing yet: wake the loop to look again
                    return false;
                }
            }
            return true;
        },
        timeout);
    return ended;
}

} // namespace

std::string peer_read(Loop& loop, Peer& peer, std::size_t want, std::chrono::milliseconds timeout) {
    std::string got;
    read_peer(loop, peer, got, want, timeout);
    return got;
}

bool peer_sees_end(Loop& loop, Peer& peer, std::string& extra, std::chrono::milliseconds timeout) {
    return read_peer(loop, peer, extra, static_cast<std::size_t>(-1), timeout);
}

} // namespace ferry::test
