// The "ferry" spdlog logger and its FERRY_LOG level.
#include <ferry/log.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>

#include <spdlog/sinks/sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace ferry {
namespace {

/// Standard error, made on the first message: a program that never logs (most, at the default
/// level warn) then never builds a colour sink and its pattern formatter, nor spdlog's registry
/// and default logger (together ~0.2 MB resident at start, docs/benchmarks.md).
class DeferredStderrSink final : public spdlog::sinks::sink {
public:
    void log(const spdlog::details::log_msg& message) override { target().log(message); }
    void flush() override {
        if (made_) {
            target().flush();
        }
    }
    void set_pattern(const std::string& pattern) override { target().set_pattern(pattern); }
    void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
        target().set_formatter(std::move(formatter));
    }

private:
    spdlog::sinks::sink& target() {
        std::call_once(once_, [this] {
            sink_ = std::make_unique<spdlog::sinks::stderr_color_sink_mt>();
            made_ = true;
        });
        return *sink_;
    }
    std::once_flag once_;
    std::unique_ptr<spdlog::sinks::sink> sink_;
    std::atomic<bool> made_{false};
};

} // namespace

spdlog::logger& detail::make_log() {
    // Built once, thread-safe by static initialisation. Not put in spdlog's registry: touching
    // the registry builds its default logger. An application that wants ferry's lines
    // elsewhere replaces log().sinks().
    static const std::shared_ptr<spdlog::logger> logger = [] {
        auto created =
            std::make_shared<spdlog::logger>("ferry", std::make_shared<DeferredStderrSink>());
        const char* level = std::getenv("FERRY_LOG");
        created->set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::warn);
        made_log.store(created.get(), std::memory_order_release);
        return created;
    }();
    return *logger;
}

} // namespace ferry
