// Runs a command and prints its output line by line as it comes, with a time limit — the
// asyncio.create_subprocess_exec example, in ferry. Past the limit the child is asked to end
// (SIGTERM), then killed if it has not within 2 s.
//   run_lines [--timeout SECONDS] -- PROGRAM [ARGS...]
//   run_lines demo                 a child that finishes, then one that overruns its limit
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <ferry/ferry.hpp>

#include "cli_errors.hpp"
#include "console.hpp"

namespace {

using namespace std::chrono_literals;
using ferry::Task;

/// Prints each line of the child's stdout (stderr joins it) prefixed with its pid.
Task<void> print_lines(ferry::StreamReader out, sample::Console& console, int pid) {
    for (;;) {
        ferry::Bytes line = co_await out.readline();
        if (line.empty()) {
            co_return; // the child's output ended
        }
        std::string text = ferry::ByteView(line).to_string();
        if (text.back() == '\n') {
            text.pop_back();
        }
        console.line("[" + std::to_string(pid) + "] " + text);
    }
}

/// True once `child` exited, false if it still runs after `limit`.
Task<bool> exits_within(const ferry::Process& child, std::chrono::milliseconds limit) {
    try {
        auto waiting = ferry::wait_for(child.wait(), limit); // waits in this task, no other
        co_await std::move(waiting);
        co_return true;
    } catch (const ferry::TimeoutError&) {
        co_return false;
    }
}

/// Runs `argv` for at most `limit`; returns its exit status (minus the signal that ended it).
Task<int> run(ferry::Loop& loop, sample::Console& console, std::vector<std::string> argv,
              std::chrono::milliseconds limit) {
    ferry::SubprocessOptions options;
    options.in = ferry::Stdio::devnull;
    options.err = ferry::Stdio::to_stdout;
    auto starting = ferry::create_subprocess_exec(loop, argv, options);
    ferry::Process child = co_await std::move(starting);
    console.line("started " + argv[0] + " as process " + std::to_string(child.pid()));
    auto printing = loop.create_task(print_lines(*child.out, console, child.pid()));
    auto finishing = exits_within(child, limit);
    if (!co_await std::move(finishing)) {
        console.line("no exit within " + std::to_string(limit.count()) + " ms: SIGTERM");
        child.terminate();
        auto ending = exits_within(child, 2s);
        if (!co_await std::move(ending)) {
            console.line("still running 2 s later: SIGKILL");
            child.kill();
            co_await child.wait();
        }
    }
    co_await printing; // what the child wrote before it ended, to the last line
    const int status = *child.returncode();
    console.line("process " + std::to_string(child.pid()) + " exited with " +
                 std::to_string(status));
    co_return status;
}

Task<int> demo(ferry::Loop& loop, sample::Console& console) {
    auto first = run(loop, console,
                     {"/bin/sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.05; done"}, 5s);
    const int finished = co_await std::move(first);
    auto second = run(loop, console, {"/bin/sh", "-c", "echo working; exec sleep 30"}, 300ms);
    const int overran = co_await std::move(second);
    const bool ok = finished == 0 && overran == -SIGTERM;
    console.line(ok ? std::string("demo: ok") : "demo: FAILED");
    co_return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"ferry sample: run a command, print its output line by line, with a time limit"};
    double seconds = 10;
    std::vector<std::string> command;
    app.add_option("--timeout", seconds, "seconds the command may run")
        ->check(CLI::Range(0.001, 86400.0));
    app.add_option("command", command, "the program and its arguments (after --)");
    auto* demo_mode = app.add_subcommand("demo", "a child that finishes, then one that overruns");
    CLI11_PARSE(app, argc, argv);
    if (!*demo_mode && command.empty()) {
        std::fprintf(stderr, "run_lines: no command (run_lines -- PROGRAM [ARGS...], or demo)\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    ferry::Loop loop;
    sample::Console console(loop);
    try {
        if (*demo_mode) {
            return loop.run_until_complete(demo(loop, console));
        }
        const auto limit = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
        const int status = loop.run_until_complete(run(loop, console, command, limit));
        return status < 0 ? 128 - status : status; // as a shell reports a signal
    } catch (const std::exception& e) {
        std::fprintf(stderr, "run_lines: %s\n", e.what());
        return 1;
    }
}
