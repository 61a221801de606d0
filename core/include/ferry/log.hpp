#pragma once
/// The `ferry` logger. Its level comes from the FERRY_LOG environment variable
/// (trace, debug, info, warn, error, critical, off; default warn).

#include <atomic>

#include <spdlog/spdlog.h>

namespace ferry {

namespace detail {
/// Builds the logger (once, thread-safe; log() calls it until it is made).
spdlog::logger& make_log();
/// The logger once made, null before: log()'s fast path, one load (a function-local static
/// made log() an out-of-line call with a guard check, ~13 instructions per read).
inline constinit std::atomic<spdlog::logger*> made_log{nullptr};
} // namespace detail

/// The library's one logger, named "ferry", created on first use (not in spdlog's registry;
/// replace its sinks() to send its lines elsewhere). Thread-safe. Inline: the hot paths ask
/// it whether tracing is on for every read.
inline spdlog::logger& log() {
    if (spdlog::logger* made = detail::made_log.load(std::memory_order_acquire)) [[likely]] {
        return *made;
    }
    return detail::make_log();
}

} // namespace ferry
