#pragma once
/// Child processes with streams (asyncio.create_subprocess_exec / _shell and
/// asyncio.subprocess.Process): write a child's stdin, read its stdout and stderr as
/// StreamReaders, wait for its exit, or communicate() all at once.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ferry/bytes.hpp>
#include <ferry/streams.hpp>
#include <ferry/subprocess.hpp>
#include <ferry/task.hpp>

namespace ferry {

namespace detail {
struct ProcessState;
} // namespace detail

/// What communicate() collected: everything the child wrote to stdout and to stderr.
struct ProcessOutput {
    /// The child's standard output (empty when it was not a pipe).
    Bytes out;
    /// The child's standard error (empty when it was not a pipe of its own).
    Bytes err;
};

/// A running (or finished) child and its streams. A handle: copies share the child. Loop
/// thread only.
class Process {
public:
    /// Writes to the child's standard input, when it is a pipe (SubprocessOptions::in).
    std::optional<StreamWriter> in;
    /// Reads the child's standard output, when it is a pipe.
    std::optional<StreamReader> out;
    /// Reads the child's standard error, when it is a pipe of its own.
    std::optional<StreamReader> err;

    /// The child's process id.
    int pid() const noexcept;
    /// The exit code, or minus the signal that ended the child; nothing while it runs.
    std::optional<int> returncode() const noexcept;
    /// Waits until the child exits and yields its returncode. Cancellable (the child runs on).
    /// With pipes that are not read, a child that writes much blocks and never exits: read
    /// them, or use communicate().
    Task<int> wait() const;
    /// Writes `input` to stdin and closes it, reads stdout and stderr to their ends (all at
    /// once, so no pipe fills while another is awaited: no deadlock with large input and
    /// output), waits for the exit, and yields what was read. A child that stops reading its
    /// input early is not an error.
    Task<ProcessOutput> communicate(Bytes input = {}) const;
    /// Sends `signal` (SIGINT, SIGTERM, SIGKILL); throws ferry::Error once the child exited.
    void send_signal(int signal) const;
    /// Sends SIGTERM.
    void terminate() const;
    /// Sends SIGKILL.
    void kill() const;
    /// The underlying transport (pipe transports, close()).
    SubprocessTransport& transport() const noexcept;

    /// Use create_subprocess_exec / create_subprocess_shell.
    explicit Process(std::shared_ptr<detail::ProcessState> state);

private:
    std::shared_ptr<detail::ProcessState> state_;
};

/// Starts `argv[0]` with arguments (asyncio.create_subprocess_exec); stdin, stdout and stderr
/// are pipes unless `options` says otherwise. `limit` bounds each reader's buffer. Throws the
/// start error ("no such program: NAME", "not executable: NAME").
Task<Process> create_subprocess_exec(Loop& loop, std::vector<std::string> argv,
                                     SubprocessOptions options = {},
                                     std::size_t limit = default_stream_limit);

/// Runs `command` through the shell (asyncio.create_subprocess_shell).
Task<Process> create_subprocess_shell(Loop& loop, std::string command,
                                      SubprocessOptions options = {},
                                      std::size_t limit = default_stream_limit);

} // namespace ferry
