#pragma once
/// The `ferry` logger. Its level comes from the FERRY_LOG environment variable
/// (trace, debug, info, warn, error, critical, off; default warn).

#include <spdlog/spdlog.h>

namespace ferry {

/// The library's one logger, named "ferry", created on first use (not in spdlog's registry;
/// replace its sinks() to send its lines elsewhere). Thread-safe.
spdlog::logger& log();

} // namespace ferry
