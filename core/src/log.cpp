// The "ferry" spdlog logger and its FERRY_LOG level.
#include <ferry/log.hpp>

#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace ferry {

spdlog::logger& log() {
    // Built once, thread-safe by static initialisation. A logger the application already
    // registered under "ferry" (its own sinks) wins over ours.
    static const std::shared_ptr<spdlog::logger> logger = [] {
        auto existing = spdlog::get("ferry");
        if (existing) {
            return existing;
        }
        auto created = spdlog::stderr_color_mt("ferry");
        const char* level = std::getenv("FERRY_LOG");
        created->set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::warn);
        return created;
    }();
    return *logger;
}

} // namespace ferry
