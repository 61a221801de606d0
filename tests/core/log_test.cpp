// The "ferry" logger: its level, and sending its lines to sinks of the application's choosing.
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/details/os.h>
#include <spdlog/sinks/ostream_sink.h>

#include <ferry/log.hpp>

namespace {

TEST(Log, IsNamedFerryAndDefaultsToWarn) {
    EXPECT_EQ(ferry::log().name(), "ferry");
    if (std::getenv("FERRY_LOG") == nullptr) {
        EXPECT_EQ(ferry::log().level(), spdlog::level::warn);
    }
}

TEST(Log, LinesGoToTheSinksTheApplicationSets) {
    std::ostringstream captured;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(captured);
    sink->set_pattern("%n %l %v");
    auto saved = ferry::log().sinks();
    ferry::log().sinks() = {sink};
    const auto level = ferry::log().level();
    ferry::log().set_level(spdlog::level::info);
    ferry::log().info("port {} opened", "/dev/ttyUSB0");
    ferry::log().debug("below the level: not written");
    ferry::log().set_level(level);
    ferry::log().sinks() = saved;
    // spdlog ends lines the platform's way (\r\n on Windows).
    EXPECT_EQ(captured.str(), std::string("ferry info port /dev/ttyUSB0 opened") +
                                  spdlog::details::os::default_eol);
}

TEST(Log, TheDefaultSinkWritesToStandardError) {
    testing::internal::CaptureStderr();
    ferry::log().error("a line for standard error");
    ferry::log().flush();
    EXPECT_NE(testing::internal::GetCapturedStderr().find("a line for standard error"),
              std::string::npos);
}

} // namespace
