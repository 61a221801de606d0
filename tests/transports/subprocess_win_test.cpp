// Child processes on Windows (under Wine in CI): cmd.exe as the child, its output, exit code,
// the streams form, a kill, and the start errors.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include <uv.h> // SIGKILL, which Windows headers lack

#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;
using test::run_until;

struct Heard {
    std::string out;
    int exited = 0;
    int lost = 0;
};

class HearingChild : public SubprocessProtocol {
public:
    explicit HearingChild(std::shared_ptr<Heard> heard) : heard_(std::move(heard)) {}
    void pipe_data_received(int fd, ByteView data) override {
        if (fd == 1) {
            heard_->out += std::string(data.as_string_view());
        }
    }
    void process_exited() override { ++heard_->exited; }
    void connection_lost(std::error_code) override { ++heard_->lost; }

private:
    std::shared_ptr<Heard> heard_;
};

class WindowsSubprocessTest : public LoopTest {
protected:
    SubprocessProtocolFactory factory() {
        return [heard = heard] { return std::make_unique<HearingChild>(heard); };
    }
    std::shared_ptr<Heard> heard = std::make_shared<Heard>();
};

TEST_F(WindowsSubprocessTest, AShellCommandsOutputAndExitCodeArrive) {
    auto child = subprocess_shell(loop, factory(), "echo hello from cmd& exit 3");
    ASSERT_TRUE(child.ok()) << child.message();
    ASSERT_TRUE(run_until(
        loop, [&] { return heard->lost == 1; }, 30s));
    EXPECT_NE(heard->out.find("hello from cmd"), std::string::npos) << heard->out;
    EXPECT_EQ(child.value()->returncode(), 3);
    EXPECT_EQ(heard->exited, 1);
}

TEST_F(WindowsSubprocessTest, AKilledChildReportsMinusTheSignal) {
    // cmd.exe with its stdin a pipe waits for commands until killed.
    auto child = subprocess_exec(loop, factory(), {"cmd.exe"});
    ASSERT_TRUE(child.ok()) << child.message();
    run_until(
        loop, [] { return false; }, 200ms);
    EXPECT_EQ(child.value()->returncode(), std::nullopt);
    child.value()->kill();
    ASSERT_TRUE(run_until(
        loop, [&] { return heard->lost == 1; }, 30s));
    EXPECT_EQ(child.value()->returncode(), -SIGKILL);
}

TEST_F(WindowsSubprocessTest, TheStreamsFormFeedsStdinAndCollectsOutput) {
    auto run = [](Loop& loop) -> Task<std::string> {
        std::vector<std::string> argv{"cmd.exe", "/d", "/q"};
        auto starting = create_subprocess_exec(loop, argv);
        Process child = co_await std::move(starting);
        auto communicating = child.communicate(
            ByteView(std::string_view("echo fed through stdin\r\nexit 0\r\n")).to_bytes());
        ProcessOutput output = co_await std::move(communicating);
        EXPECT_EQ(child.returncode(), 0);
        co_return std::string(ByteView(output.out).as_string_view());
    };
    EXPECT_NE(loop.run_until_complete(run(loop)).find("fed through stdin"), std::string::npos);
}

TEST_F(WindowsSubprocessTest, AMissingProgramIsNamed) {
    auto missing = subprocess_exec(loop, factory(), {"avrdudee.exe"});
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.message().find("no such program: avrdudee.exe"), std::string::npos)
        << missing.message();
}

} // namespace
} // namespace ferry
