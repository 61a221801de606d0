#pragma once
// ChildProcess: SubprocessTransport over libuv's uv_process_t, each pipe a StreamTransport on
// the shared transport core. Private to ferry::transports.

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <uv.h>

#include <ferry/detail/loop_access.hpp>
#include <ferry/subprocess.hpp>

#include "stream/stream_transport.hpp"

namespace ferry::detail {

/// A spawned child: its process handle, up to three pipe transports whose protocols forward
/// to the user's SubprocessProtocol, and the bookkeeping that makes connection_lost come once,
/// last, after the exit and every pipe's end. Holds itself while the process handle or a
/// pipe is open; the loop closing kills a child still running.
class ChildProcess final : public SubprocessTransport,
                           public LoopResource,
                           public std::enable_shared_from_this<ChildProcess> {
public:
    /// Spawns `argv` (a shell command when `verbatim_windows_arguments`, see subprocess_shell)
    /// and starts its pipes and the protocol. Throws ferry::Error naming what failed.
    static std::shared_ptr<ChildProcess> spawn(Loop& loop, const SubprocessProtocolFactory& factory,
                                               const std::vector<std::string>& argv,
                                               const SubprocessOptions& options,
                                               bool verbatim_windows_arguments);
    /// Spawns `argv` with its stdin and stdout as one pipe transport whose protocol comes
    /// from `factory` (connect_command); stderr is inherited. The child is sent SIGTERM when
    /// the transport is released. Throws ferry::Error naming what failed.
    static std::shared_ptr<Transport> spawn_joined(Loop& loop, const ProtocolFactory& factory,
                                                   const std::vector<std::string>& argv,
                                                   bool verbatim_windows_arguments);
    explicit ChildProcess(Loop& loop) : loop_(loop) {} // spawn()
    ~ChildProcess() override;

    int pid() const noexcept override { return pid_; }
    std::optional<int> returncode() const noexcept override { return returncode_; }
    Transport* pipe_transport(int fd) const noexcept override;
    void send_signal(int signal) override;
    void terminate() override;
    void kill() override;
    void close() noexcept override;
    bool is_closing() const noexcept override { return closing_; }
    void close_for_loop_shutdown() noexcept override;

    /// Pipe `fd` delivered bytes (from its protocol).
    void pipe_data(int fd, ByteView data);
    /// Pipe `fd` ended (its connection_lost).
    void pipe_lost(int fd, std::error_code error);
    /// The stdin pipe's flow control, passed on.
    void stdin_paused(bool paused);

private:
    class PipeProtocol;
    /// uv_spawn with `stdio`; on success the child is registered with the loop and holds
    /// itself. Returns libuv's status.
    int launch(const std::vector<std::string>& argv, const SubprocessOptions& options,
               uv_stdio_container_t* stdio, bool verbatim_windows_arguments);
    /// Its joined transport is done with the child: SIGTERM if it still runs after exit_grace.
    void end_after_grace() noexcept;
    /// Started, and neither exited nor being closed.
    bool running() const noexcept;
    void start_pipes_and_protocol(std::unique_ptr<SubprocessProtocol> protocol);
    void on_exit(int64_t exit_status, int term_signal) noexcept;
    void close_process_handle() noexcept;
    void finish_if_done() noexcept;
    template <class Fn>
    void call_protocol(const char* where, Fn&& fn) noexcept;

    /// How long a joined child may take to end by itself once its input has ended.
    static constexpr std::chrono::seconds exit_grace{2};

    Loop& loop_;
    uv_process_t process_{};
    CallbackHandle grace_; // the SIGTERM of end_after_grace, while pending
    std::unique_ptr<SubprocessProtocol> protocol_;
    std::array<std::shared_ptr<StreamTransport>, 3> pipes_;
    std::array<bool, 3> pipe_open_{}; // started and its connection_lost not yet come
    std::string program_;
    int pid_ = 0;
    std::optional<int> returncode_;
    bool process_handle_open_ = false;
    bool closing_ = false;
    bool finished_ = false;
    bool registered_ = false;            // with the loop, once spawned
    std::shared_ptr<ChildProcess> self_; // the loop's ownership while anything is open
};

} // namespace ferry::detail
