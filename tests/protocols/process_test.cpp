// Child processes with streams (create_subprocess_exec / _shell): real children, read line by
// line, communicate() with 16 MiB each way, bounded readers, exits and start errors.
#include <csignal>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;

class ProcessTest : public LoopTest {};

Bytes pattern(std::size_t size) {
    Bytes bytes(size);
    for (std::size_t i = 0; i < size; ++i) {
        bytes[i] = static_cast<std::byte>((i * 7 + i / 4099) & 0xFF);
    }
    return bytes;
}

TEST_F(ProcessTest, OutputIsReadLineByLineAsItComes) {
    auto lines = [](Loop& loop) -> Task<std::vector<std::string>> {
        // Bound to a local, not awaited in place: GCC 12 destroys class temporaries in a
        // co_await operand twice (docs/design.md, compiler notes).
        auto starting = create_subprocess_shell(
            loop, "for i in 1 2 3; do echo \"line $i\"; sleep 0.02; done; exit 4");
        Process child = co_await std::move(starting);
        std::vector<std::string> seen;
        for (;;) {
            Bytes line = co_await child.out->readline();
            if (line.empty()) {
                break;
            }
            seen.push_back(std::string(ByteView(line).as_string_view()));
        }
        const int code = co_await child.wait();
        seen.push_back("exit " + std::to_string(code));
        co_return seen;
    };
    EXPECT_EQ(loop.run_until_complete(lines(loop)),
              (std::vector<std::string>{"line 1\n", "line 2\n", "line 3\n", "exit 4"}));
}

TEST_F(ProcessTest, CommunicateSixteenMebibytesEachWayWithoutDeadlock) {
    // The child copies its input to stdout and to stderr: 16 MiB in, 16 MiB out each way, far
    // more than any pipe holds, so reading only one stream at a time would deadlock.
    constexpr std::size_t size = 16 * 1024 * 1024;
    auto run = [](Loop& loop, Bytes input) -> Task<ProcessOutput> {
        // (Not `tee /dev/stderr`: the pipes are socket pairs, which /dev/stderr cannot open.)
        std::vector<std::string> argv{
            "/usr/bin/python3", "-c",
            "import sys\n"
            "while True:\n"
            "    block = sys.stdin.buffer.read1(65536)\n"
            "    if not block: break\n"
            "    sys.stdout.buffer.write(block); sys.stdout.buffer.flush()\n"
            "    sys.stderr.buffer.write(block); sys.stderr.buffer.flush()\n"};
        auto starting = create_subprocess_exec(loop, argv);
        Process child = co_await std::move(starting);
        auto communicating = child.communicate(std::move(input));
        ProcessOutput output = co_await std::move(communicating);
        EXPECT_EQ(child.returncode(), 0);
        co_return output;
    };
    const Bytes input = pattern(size);
    ProcessOutput output = loop.run_until_complete(run(loop, input));
    EXPECT_EQ(output.out.size(), size);
    EXPECT_TRUE(output.out == input) << "stdout differs";
    EXPECT_TRUE(output.err == input) << "stderr differs";
}

// GCC 12 miscompiled the default SubprocessOptions argument inside a co_await while the struct
// was an aggregate (its std::string member freed a pointer into another object): awaiting the
// call directly, as users write it, must work.
TEST_F(ProcessTest, AwaitingTheFactoryDirectlyWithItsDefaultOptionsWorks) {
    auto run = [](Loop& l) -> Task<int> {
        Process child = co_await create_subprocess_shell(l, "exit 3");
        co_return co_await child.wait();
    };
    EXPECT_EQ(loop.run_until_complete(run(loop)), 3);
}

TEST_F(ProcessTest, CommunicateWithAChildThatReadsNothingIsNoError) {
    auto run = [](Loop& loop) -> Task<ProcessOutput> {
        std::vector<std::string> argv{"/bin/sh", "-c", "echo ignored"};
        auto starting = create_subprocess_exec(loop, argv);
        Process child = co_await std::move(starting);
        auto communicating = child.communicate(pattern(4 * 1024 * 1024));
        co_return co_await std::move(communicating);
    };
    ProcessOutput output = loop.run_until_complete(run(loop));
    EXPECT_EQ(std::string(ByteView(output.out).as_string_view()), "ignored\n");
}

TEST_F(ProcessTest, AnUnreadFloodStaysWithinTheReadersBoundAndIsDeliveredWhole) {
    constexpr std::size_t limit = 64 * 1024;
    constexpr std::size_t total = 8 * 1024 * 1024;
    auto run = [&](Loop& loop) -> Task<std::size_t> {
        SubprocessOptions options;
        options.in = Stdio::devnull;
        std::vector<std::string> argv{"head", "-c", std::to_string(total), "/dev/zero"};
        auto starting = create_subprocess_exec(loop, argv, options, limit);
        Process child = co_await std::move(starting);
        co_await sleep(300ms); // not reading: the pipe is paused once 2 x limit are buffered
        // One read may land on top of the bound before the pause (up to the loop's 256 KiB).
        EXPECT_LE(child.out->buffered(), 2 * limit + 256 * 1024);
        EXPECT_EQ(child.returncode(), std::nullopt) << "the child waits on its full pipe";
        std::size_t received = 0;
        for (;;) {
            Bytes block = co_await child.out->read(64 * 1024);
            if (block.empty()) {
                break;
            }
            received += block.size();
        }
        EXPECT_EQ(co_await child.wait(), 0);
        co_return received;
    };
    EXPECT_EQ(loop.run_until_complete(run(loop)), total);
}

TEST_F(ProcessTest, WaitIsCancellableAndTheChildRunsOnUntilKilled) {
    auto run = [](Loop& loop) -> Task<int> {
        std::vector<std::string> argv{"sleep", "30"};
        auto starting = create_subprocess_exec(loop, argv);
        Process child = co_await std::move(starting);
        bool timed_out = false;
        try {
            auto waiting = wait_for(child.wait(), 100ms);
            co_await std::move(waiting);
        } catch (const TimeoutError&) {
            timed_out = true;
        }
        EXPECT_TRUE(timed_out);
        EXPECT_EQ(child.returncode(), std::nullopt);
        child.kill();
        co_return co_await child.wait();
    };
    EXPECT_EQ(loop.run_until_complete(run(loop)), -SIGKILL);
}

TEST_F(ProcessTest, StartErrorsAreThrownWithTheirReason) {
    auto run = [](Loop& loop) -> Task<std::string> {
        try {
            std::vector<std::string> argv{"avrdudee", "-v"};
            auto starting = create_subprocess_exec(loop, argv);
            Process child = co_await std::move(starting);
            (void)child;
        } catch (const Error& error) {
            co_return error.what();
        }
        co_return "";
    };
    EXPECT_NE(loop.run_until_complete(run(loop)).find("no such program: avrdudee"),
              std::string::npos);
}

TEST_F(ProcessTest, OnlyPipesGetStreamsAndStderrCanJoinStdout) {
    auto run = [](Loop& loop) -> Task<std::string> {
        SubprocessOptions options;
        options.in = Stdio::devnull;
        options.err = Stdio::to_stdout;
        auto starting = create_subprocess_shell(loop, "echo out; echo err >&2", options);
        Process child = co_await std::move(starting);
        EXPECT_FALSE(child.in.has_value());
        EXPECT_FALSE(child.err.has_value());
        auto communicating = child.communicate();
        ProcessOutput output = co_await std::move(communicating);
        co_return std::string(ByteView(output.out).as_string_view());
    };
    EXPECT_EQ(loop.run_until_complete(run(loop)), "out\nerr\n");
}

} // namespace
} // namespace ferry
