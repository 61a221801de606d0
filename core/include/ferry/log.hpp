#pragma once
/// The `ferry` logger. Its level comes from the FERRY_LOG environment variable
/// (trace, debug, info, warn, error, critical, off; default warn).

#include <spdlog/spdlog.h>

namespace ferry {

namespace detail {
/// Builds the logger (once; log() calls it).
spdlog::logger& make_log();
} // namespace detail

/// The library's one logger, named "ferry", created on first use (not in spdlog's registry;
/// replace its sinks() to send its lines elsewhere). Thread-safe. Inline: the hot paths ask
/// it whether tracing is on for every read.
inline spdlog::logger& log() {
    static spdlog::logger& logger = detail::make_log();
    return logger;
}

} // namespace ferry
