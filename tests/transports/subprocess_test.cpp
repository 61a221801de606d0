// Child processes: real children (/bin/sh, cat, head, sleep), their pipes, exits and signals,
// and the order of events asyncio guarantees.
#include <algorithm>
#include <array>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../support/temp_dir.hpp"
#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;
using test::run_until;

/// Everything a child's protocol heard, in order.
struct ChildEvents {
    std::vector<std::string> order; // "made", "exited", "pipe 1 lost", "lost"
    std::string out;
    std::string err;
    std::size_t out_deliveries = 0;
    std::array<std::error_code, 3> pipe_errors;
    int exited = 0;
    int lost = 0;
    SubprocessTransport* transport = nullptr;
    std::function<void(int, ByteView)> on_data; // extra reaction to data, if any
    bool finished() const { return lost > 0; }
};

class RecordingChild : public SubprocessProtocol {
public:
    explicit RecordingChild(std::shared_ptr<ChildEvents> events) : events_(std::move(events)) {}
    void connection_made(SubprocessTransport& transport) override {
        events_->transport = &transport;
        events_->order.push_back("made");
    }
    void pipe_data_received(int fd, ByteView data) override {
        (fd == 1 ? events_->out : events_->err) += std::string(data.as_string_view());
        events_->out_deliveries += fd == 1 ? 1 : 0;
        if (events_->on_data) {
            events_->on_data(fd, data);
        }
    }
    void pipe_connection_lost(int fd, std::error_code error) override {
        events_->pipe_errors[static_cast<std::size_t>(fd)] = error;
        events_->order.push_back("pipe " + std::to_string(fd) + " lost");
    }
    void process_exited() override {
        ++events_->exited;
        events_->order.push_back("exited");
    }
    void connection_lost(std::error_code error) override {
        EXPECT_FALSE(error) << error.message();
        ++events_->lost;
        events_->order.push_back("lost");
    }

private:
    std::shared_ptr<ChildEvents> events_;
};

class SubprocessTest : public LoopTest {
protected:
    std::shared_ptr<SubprocessTransport> exec(std::vector<std::string> argv,
                                              SubprocessOptions options = {}) {
        auto result = subprocess_exec(
            loop, [this] { return std::make_unique<RecordingChild>(events); }, std::move(argv),
            std::move(options));
        EXPECT_TRUE(result.ok()) << result.message();
        return result.ok() ? result.value() : nullptr;
    }
    std::shared_ptr<SubprocessTransport> shell(std::string command,
                                               SubprocessOptions options = {}) {
        auto result = subprocess_shell(
            loop, [this] { return std::make_unique<RecordingChild>(events); }, std::move(command),
            std::move(options));
        EXPECT_TRUE(result.ok()) << result.message();
        return result.ok() ? result.value() : nullptr;
    }
    bool wait_finished(std::chrono::milliseconds timeout = 20s) {
        return run_until(
            loop, [&] { return events->finished(); }, timeout);
    }
    std::shared_ptr<ChildEvents> events = std::make_shared<ChildEvents>();
};

TEST_F(SubprocessTest, OutputAndErrorsArriveOnTheirPipesThenTheExitThenConnectionLostLast) {
    auto child = shell("printf 'to out'; printf 'to err' >&2; exit 3");
    ASSERT_TRUE(child);
    EXPECT_GT(child->pid(), 0);
    EXPECT_EQ(events->order, std::vector<std::string>{"made"}) << "connection_made on return";
    ASSERT_TRUE(wait_finished());
    EXPECT_EQ(events->out, "to out");
    EXPECT_EQ(events->err, "to err");
    EXPECT_EQ(child->returncode(), 3);
    EXPECT_EQ(events->exited, 1);
    EXPECT_EQ(events->lost, 1);
    EXPECT_EQ(events->order.front(), "made");
    EXPECT_EQ(events->order.back(), "lost");
    for (const char* event : {"pipe 0 lost", "pipe 1 lost", "pipe 2 lost", "exited"}) {
        EXPECT_EQ(std::count(events->order.begin(), events->order.end(), event), 1) << event;
    }
    for (const auto& error : events->pipe_errors) {
        EXPECT_FALSE(error) << error.message();
    }
    EXPECT_EQ(child->pipe_transport(1), nullptr) << "an ended pipe is no transport";
}

TEST_F(SubprocessTest, StdinGoesToTheChildAndItsEndIsTheChildsEndOfFile) {
    auto child = exec({"cat"});
    ASSERT_TRUE(child);
    Transport* in = child->pipe_transport(0);
    ASSERT_NE(in, nullptr);
    std::string sent;
    for (int i = 0; i < 1000; ++i) {
        sent += "line " + std::to_string(i) + "\n";
    }
    in->write(ByteView(sent));
    in->write_eof();
    ASSERT_TRUE(wait_finished());
    EXPECT_EQ(events->out, sent);
    EXPECT_EQ(child->returncode(), 0);
}

TEST_F(SubprocessTest, OutputInEveryChunkingArrivesWhole) {
    // The child writes in pieces of 1 to 4097 bytes with pauses between some of them.
    auto child = shell("i=1; while [ $i -le 200 ]; do head -c $((i * 37 % 4097 + 1)) /dev/zero "
                       "| tr '\\0' x; [ $((i % 50)) -eq 0 ] && sleep 0.01; i=$((i + 1)); done");
    ASSERT_TRUE(child);
    ASSERT_TRUE(wait_finished());
    std::size_t expected = 0;
    for (int i = 1; i <= 200; ++i) {
        expected += static_cast<std::size_t>(i * 37 % 4097 + 1);
    }
    EXPECT_EQ(events->out.size(), expected);
    EXPECT_EQ(events->out.find_first_not_of('x'), std::string::npos);
    EXPECT_EQ(child->returncode(), 0);
}

TEST_F(SubprocessTest, SignalsEndTheChildWithMinusTheSignalNumberAsAsyncioReports) {
    auto sleeper = exec({"sleep", "30"});
    ASSERT_TRUE(sleeper);
    EXPECT_EQ(sleeper->returncode(), std::nullopt);
    sleeper->terminate();
    ASSERT_TRUE(wait_finished());
    EXPECT_EQ(sleeper->returncode(), -SIGTERM);
    EXPECT_THROW(sleeper->kill(), Error) << "a signal to a child that has exited";
    try {
        sleeper->send_signal(SIGINT);
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("has exited"), std::string::npos) << error.what();
    }

    events = std::make_shared<ChildEvents>();
    auto second = exec({"sleep", "30"});
    ASSERT_TRUE(second);
    second->kill();
    ASSERT_TRUE(wait_finished());
    EXPECT_EQ(second->returncode(), -SIGKILL);
}

TEST_F(SubprocessTest, ClosingTheTransportOfARunningChildKillsItAsAsyncioDoes) {
    auto child = exec({"sleep", "30"});
    ASSERT_TRUE(child);
    child->close();
    EXPECT_TRUE(child->is_closing());
    child->close(); // idempotent
    ASSERT_TRUE(wait_finished(10s));
    EXPECT_EQ(child->returncode(), -SIGKILL);
    EXPECT_EQ(events->exited, 1);
    EXPECT_EQ(events->order.back(), "lost");
}

TEST_F(SubprocessTest, BadProgramsFailWithAClearErrorNamingThem) {
    auto missing =
        subprocess_exec(loop, [this] { return std::make_unique<RecordingChild>(events); },
                        {"avrdudee", "-p", "m328p"});
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.message().find("no such program: avrdudee"), std::string::npos)
        << missing.message();

    test::TempDir dir;
    const auto script = dir.path() / "tool.sh";
    std::ofstream(script) << "#!/bin/sh\necho hi\n";
    std::filesystem::permissions(script, std::filesystem::perms::owner_read |
                                             std::filesystem::perms::owner_write);
    auto not_executable = subprocess_exec(
        loop, [this] { return std::make_unique<RecordingChild>(events); }, {script.string()});
    ASSERT_FALSE(not_executable.ok());
    EXPECT_NE(not_executable.message().find("not executable: " + script.string()),
              std::string::npos)
        << not_executable.message();

    SubprocessOptions nowhere;
    nowhere.cwd = (dir.path() / "no-such-dir").string();
    auto bad_cwd = subprocess_exec(
        loop, [this] { return std::make_unique<RecordingChild>(events); }, {"true"}, nowhere);
    ASSERT_FALSE(bad_cwd.ok());
    EXPECT_NE(bad_cwd.message().find("no such working directory"), std::string::npos)
        << bad_cwd.message();

    auto empty =
        subprocess_exec(loop, [this] { return std::make_unique<RecordingChild>(events); }, {});
    ASSERT_FALSE(empty.ok());
    SubprocessOptions wrong;
    wrong.out = Stdio::to_stdout;
    auto misrouted = subprocess_exec(
        loop, [this] { return std::make_unique<RecordingChild>(events); }, {"true"}, wrong);
    ASSERT_FALSE(misrouted.ok());
    EXPECT_NE(misrouted.message().find("only stderr"), std::string::npos) << misrouted.message();
    EXPECT_TRUE(events->order.empty()) << "no protocol event for a child never started";

    // Through the shell a missing command is the shell's own report: exit code 127.
    auto through_shell = shell("avrdudee -p m328p");
    ASSERT_TRUE(through_shell);
    ASSERT_TRUE(wait_finished());
    EXPECT_EQ(through_shell->returncode(), 127);
    EXPECT_NE(events->err.find("avrdudee"), std::string::npos) << events->err;
}

TEST_F(SubprocessTest, EnvironmentWorkingDirectoryAndWhereEachStreamGoes) {
    test::TempDir dir;
    SubprocessOptions options;
    options.env = std::vector<std::string>{"FERRY_TEST_VALUE=from the test", "PATH=/usr/bin:/bin"};
    options.cwd = dir.path().string();
    options.err = Stdio::to_stdout;
    auto child = shell("echo \"$FERRY_TEST_VALUE\"; pwd; echo to-err >&2", options);
    ASSERT_TRUE(child);
    EXPECT_EQ(child->pipe_transport(2), nullptr) << "stderr is not a pipe of its own";
    ASSERT_TRUE(wait_finished());
    EXPECT_EQ(events->out,
              "from the test\n" + std::filesystem::canonical(dir.path()).string() + "\nto-err\n");
    EXPECT_EQ(events->err, "");

    events = std::make_shared<ChildEvents>();
    SubprocessOptions quiet;
    quiet.in = Stdio::devnull;
    quiet.err = Stdio::devnull;
    auto reader = shell("cat; echo \"cat ended: $?\"; echo lost >&2", quiet);
    ASSERT_TRUE(reader);
    EXPECT_EQ(reader->pipe_transport(0), nullptr);
    ASSERT_TRUE(wait_finished());
    EXPECT_EQ(events->out, "cat ended: 0\n") << "stdin from the null device ends at once";
    EXPECT_EQ(events->err, "");
}

TEST_F(SubprocessTest, AFloodWhileReadingIsPausedLosesNothingAndStaysBounded) {
    constexpr std::size_t total = 8 * 1024 * 1024;
    auto child = exec({"head", "-c", std::to_string(total), "/dev/zero"});
    ASSERT_TRUE(child);
    Transport* out = child->pipe_transport(1);
    ASSERT_NE(out, nullptr);
    out->pause_reading();
    run_until(
        loop, [] { return false; }, 300ms);
    EXPECT_EQ(events->out.size(), 0u) << "nothing delivered while paused";
    EXPECT_EQ(child->returncode(), std::nullopt) << "the child waits on the full pipe";
    out->resume_reading();
    ASSERT_TRUE(wait_finished());
    EXPECT_EQ(events->out.size(), total);
    EXPECT_EQ(events->out.find_first_not_of('\0'), std::string::npos);
    EXPECT_EQ(child->returncode(), 0);
}

TEST_F(SubprocessTest, AChildThatClosesStdinEarlyEndsThatPipeWithAnErrorAndStillExitsOnce) {
    auto child = shell("exec 0<&-; echo closed; sleep 0.1");
    ASSERT_TRUE(child);
    Transport* in = child->pipe_transport(0);
    ASSERT_NE(in, nullptr);
    ASSERT_TRUE(run_until(
        loop, [&] { return events->out == "closed\n"; }, 10s));
    const std::string block(256 * 1024, 'z');
    for (int i = 0; i < 8 && child->pipe_transport(0) != nullptr; ++i) {
        child->pipe_transport(0)->write(ByteView(block)); // into a pipe nobody reads
    }
    ASSERT_TRUE(wait_finished());
    EXPECT_TRUE(events->pipe_errors[0]) << "writing to a closed stdin is an error on pipe 0";
    EXPECT_EQ(events->exited, 1);
    EXPECT_EQ(child->returncode(), 0);
}

TEST_F(SubprocessTest, AChildThatDiesEarlyClosesItsPipesAndExitsOnce) {
    auto child = shell("kill -9 $$");
    ASSERT_TRUE(child);
    ASSERT_TRUE(wait_finished());
    EXPECT_EQ(child->returncode(), -SIGKILL);
    EXPECT_EQ(events->exited, 1);
    EXPECT_EQ(events->lost, 1);
}

TEST_F(SubprocessTest, TwoHundredChildrenStartAndAreReapedAtOnce) {
    constexpr int count = 200;
    std::vector<std::shared_ptr<ChildEvents>> all;
    std::vector<std::shared_ptr<SubprocessTransport>> children;
    for (int i = 0; i < count; ++i) {
        all.push_back(std::make_shared<ChildEvents>());
        SubprocessOptions options;
        options.in = Stdio::devnull;
        options.err = Stdio::devnull;
        auto result = subprocess_exec(
            loop, [events = all.back()] { return std::make_unique<RecordingChild>(events); },
            {"/bin/sh", "-c", "echo $0; exit $(($0 % 7))", std::to_string(i)}, options);
        ASSERT_TRUE(result.ok()) << result.message();
        children.push_back(result.value());
    }
    ASSERT_TRUE(run_until(
        loop,
        [&] { return std::all_of(all.begin(), all.end(), [](auto& e) { return e->finished(); }); },
        60s));
    for (int i = 0; i < count; ++i) {
        EXPECT_EQ(children[static_cast<std::size_t>(i)]->returncode(), i % 7) << i;
        EXPECT_EQ(all[static_cast<std::size_t>(i)]->out, std::to_string(i) + "\n");
    }
}

TEST_F(SubprocessTest, ClosingTheLoopKillsAChildStillRunningAndReapsIt) {
    auto child = exec({"sleep", "30"});
    ASSERT_TRUE(child);
    const int pid = child->pid();
    loop.close();
    EXPECT_TRUE(loop.is_closed());
    EXPECT_EQ(child->returncode(), -SIGKILL);
    EXPECT_EQ(events->exited, 1);
    EXPECT_EQ(events->lost, 1) << "connection_lost still comes, last";
    EXPECT_EQ(events->order.back(), "lost");
    EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(pid))) << "left a zombie";
}

} // namespace
} // namespace ferry
