// Write-buffer limits with asyncio's semantics: the defaults and how low follows high.
#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::connect_to;
using test::LoopTest;
using test::Recording;
using test::recording_factory;
using test::RecordingProtocol;
using test::run_until;
using test::start_server;

TEST_F(LoopTest, DefaultWaterMarksAreAsyncios) {
    auto server = start_server(loop, [] { return std::make_unique<Protocol>(); });
    auto side = std::make_shared<Recording>();
    auto client = connect_to(loop, recording_factory(side), "127.0.0.1", server->port());
    EXPECT_EQ(client->write_buffer_limits().high, 64u * 1024);
    EXPECT_EQ(client->write_buffer_limits().low, 16u * 1024);
    client->set_write_buffer_limits(1000);
    EXPECT_EQ(client->write_buffer_limits().low, 250u);
    client->set_write_buffer_limits(std::nullopt, 100);
    EXPECT_EQ(client->write_buffer_limits().high, 400u);
    EXPECT_THROW(client->set_write_buffer_limits(10, 20), Error);
    client->close();
    server->close();
    EXPECT_TRUE(run_until(loop, [&] { return side->has_lost(); }));
}

// Pausing above the high mark and resuming at or below the low one, and 64 MiB through a slow
// reader with a bounded queue, are contract tests now, run over every transport
// (contract_test.cpp).

} // namespace
} // namespace ferry
