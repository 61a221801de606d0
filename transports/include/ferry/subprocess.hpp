#pragma once
/// Child processes (asyncio's subprocess_exec / subprocess_shell): a SubprocessProtocol hears
/// each pipe's data, each pipe's end and the exit; each pipe is a full Transport.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <ferry/bytes.hpp>
#include <ferry/loop.hpp>
#include <ferry/result.hpp>
#include <ferry/transport.hpp>

namespace ferry {

class SubprocessTransport;

/// Where one of a child's standard streams goes.
enum class Stdio {
    pipe,      ///< a pipe to this process: a Transport (pipe_transport(fd))
    inherit,   ///< this process's own descriptor
    devnull,   ///< the null device (reads see end of file, writes vanish)
    to_stdout, ///< stderr only: the same place as stdout (asyncio's STDOUT)
};

/// How to start a child.
struct SubprocessOptions {
    // Not an aggregate (this constructor), on purpose: GCC 12 miscompiles aggregate
    // temporaries inside co_await expressions (see ConnectOptions).
    SubprocessOptions() = default;
    /// The child's standard input (fd 0).
    Stdio in = Stdio::pipe;
    /// The child's standard output (fd 1).
    Stdio out = Stdio::pipe;
    /// The child's standard error (fd 2).
    Stdio err = Stdio::pipe;
    /// The child's whole environment as "NAME=value" entries; when unset, this process's.
    std::optional<std::vector<std::string>> env;
    /// The child's working directory; empty: this process's.
    std::string cwd;
};

/// Receives a child's events (asyncio.SubprocessProtocol), on the loop thread, in this order:
/// connection_made once; pipe_data_received and pipe_connection_lost per pipe; process_exited
/// once, at any point after connection_made (pipes may still hold data then); connection_lost
/// once, last, after the exit and the end of every pipe.
class SubprocessProtocol {
public:
    virtual ~SubprocessProtocol() = default;
    /// The child runs and its pipes are open.
    virtual void connection_made(SubprocessTransport& transport) { (void)transport; }
    /// Bytes the child wrote to `fd` (1 or 2).
    virtual void pipe_data_received(int fd, ByteView data) {
        (void)fd;
        (void)data;
    }
    /// Pipe `fd` (0, 1 or 2) ended: empty code at end of data or when closed.
    virtual void pipe_connection_lost(int fd, std::error_code error) {
        (void)fd;
        (void)error;
    }
    /// The child exited; returncode() says how.
    virtual void process_exited() {}
    /// The child exited and every pipe ended. Last.
    virtual void connection_lost(std::error_code error) { (void)error; }
    /// The stdin pipe's buffer rose above its high-water mark: stop writing.
    virtual void pause_writing() {}
    /// The stdin pipe's buffer fell to its low-water mark: write again.
    virtual void resume_writing() {}
};

/// Makes the SubprocessProtocol for a child.
using SubprocessProtocolFactory = std::function<std::unique_ptr<SubprocessProtocol>()>;

/// A child process and its pipes (asyncio.SubprocessTransport). The loop owns it until
/// connection_lost; users hold shared_ptr. Closing the loop kills a child still running
/// (SIGKILL) and waits for its exit, so none is left behind unreaped. Loop thread only.
class SubprocessTransport {
public:
    virtual ~SubprocessTransport() = default;
    /// The child's process id.
    virtual int pid() const noexcept = 0;
    /// Once exited: the exit code, or minus the number of the signal that ended it (as
    /// asyncio: -9 after kill()); nothing while it runs.
    virtual std::optional<int> returncode() const noexcept = 0;
    /// The Transport of pipe `fd` (0: write to the child's stdin; 1, 2: its output, with
    /// pause_reading and water marks), or null when that stream is not a pipe or has ended.
    virtual Transport* pipe_transport(int fd) const noexcept = 0;
    /// Sends signal `signal` (SIGINT, SIGTERM, SIGKILL on every platform; on Windows each ends
    /// the process). Throws ferry::Error once the child has exited.
    virtual void send_signal(int signal) = 0;
    /// Asks the child to end: SIGTERM (on Windows it is ended at once).
    virtual void terminate() = 0;
    /// Ends the child: SIGKILL.
    virtual void kill() = 0;
    /// Closes the pipes (stdin after what is queued) and kills a child still running, as
    /// asyncio does; connection_lost follows. Idempotent.
    virtual void close() noexcept = 0;
    /// True once close() was called.
    virtual bool is_closing() const noexcept = 0;
};

/// Starts the program `argv[0]` (searched for in PATH when it has no slash) with the
/// arguments `argv[1...]`. connection_made has run on return. Fails with a clear error: "no
/// such program: avrdudee", "not executable: ./tool", a missing working directory.
Result<std::shared_ptr<SubprocessTransport>> subprocess_exec(Loop& loop,
                                                             SubprocessProtocolFactory factory,
                                                             std::vector<std::string> argv,
                                                             SubprocessOptions options = {});

/// Runs `command` through the shell (`/bin/sh -c`; `cmd.exe /d /s /c` on Windows). A command
/// the shell cannot find is exit code 127 (the shell's own report), not a failure here.
Result<std::shared_ptr<SubprocessTransport>> subprocess_shell(Loop& loop,
                                                              SubprocessProtocolFactory factory,
                                                              std::string command,
                                                              SubprocessOptions options = {});

/// Runs `command` through the shell with its stdin and stdout as one Transport (what the
/// `exec:` endpoint opens, as socat's EXEC): the protocol reads what the child writes and
/// writes what it reads; stderr is inherited. write_eof() closes the child's stdin; the end of
/// its stdout is eof_received. Closing the transport ends the child's stdin (after what is
/// queued); a child still running 2 s later gets SIGTERM (closing the loop kills it at once).
/// connection_made has run on return.
Result<std::shared_ptr<Transport>> connect_command(Loop& loop, ProtocolFactory factory,
                                                   std::string command);

} // namespace ferry
