// ChildProcess: spawning, the pipes' events passed on, and the order asyncio guarantees.
#include "subprocess/child_process.hpp"

#include <csignal>
#include <filesystem>
#include <utility>

#include <ferry/error.hpp>

#include "core/transport_core.hpp"
#include "subprocess/killed_child.hpp"

namespace ferry::detail {
namespace {

/// Closes a descriptor from uv_pipe() (a C runtime descriptor on Windows) synchronously.
void close_file(uv_file file) noexcept {
    if (file >= 0) {
        uv_fs_t request;
        uv_fs_close(nullptr, &request, file, nullptr);
        uv_fs_req_cleanup(&request);
    }
}

/// Why a program could not be started, in the words a user looks for.
std::string spawn_failure(int status, const std::string& program) {
    switch (status) {
    case UV_ENOENT:
        return "no such program: " + program;
    case UV_EACCES:
        return "not executable: " + program + " (permission denied)";
    default:
        return "cannot start " + program + ": " + uv_strerror(status);
    }
}

/// Fails when `cwd` is given and cannot be a working directory (the child's own chdir
/// failure would read as "no such program").
void check_working_directory(const std::string& cwd) {
    if (cwd.empty()) {
        return;
    }
    std::error_code error;
    const auto status = std::filesystem::status(cwd, error);
    if (!std::filesystem::exists(status)) {
        throw Error(uv_error(UV_ENOENT), "no such working directory: " + cwd);
    }
    if (!std::filesystem::is_directory(status)) {
        throw Error(uv_error(UV_ENOTDIR), "not a directory, so no working directory: " + cwd);
    }
}

} // namespace

/// What each pipe transport's protocol does: hands its events to the child.
class ChildProcess::PipeProtocol final : public Protocol {
public:
    PipeProtocol(ChildProcess& child, int fd) : child_(child), fd_(fd) {}
    void data_received(ByteView data) override { child_.pipe_data(fd_, data); }
    void connection_lost(std::error_code error) override { child_.pipe_lost(fd_, error); }
    void pause_writing() override { child_.stdin_paused(true); }
    void resume_writing() override { child_.stdin_paused(false); }

private:
    ChildProcess& child_;
    int fd_;
};

std::shared_ptr<ChildProcess> ChildProcess::spawn(Loop& loop,
                                                  const SubprocessProtocolFactory& factory,
                                                  const std::vector<std::string>& argv,
                                                  const SubprocessOptions& options,
                                                  bool verbatim_windows_arguments) {
    if (argv.empty() || argv[0].empty()) {
        throw Error(make_error_code(errc::invalid_argument), "subprocess: no program given");
    }
    if (options.in == Stdio::to_stdout || options.out == Stdio::to_stdout) {
        throw Error(make_error_code(errc::invalid_argument),
                    "subprocess: only stderr can go to stdout (SubprocessOptions::err)");
    }
    if (LoopAccess::is_shutting_down(loop)) {
        throw Error(make_error_code(errc::loop_closed), "the loop is closing");
    }
    check_working_directory(options.cwd);
    if (!factory) {
        throw Error(make_error_code(errc::invalid_argument), "subprocess: no protocol factory");
    }
    std::unique_ptr<SubprocessProtocol> protocol = factory();
    if (!protocol) {
        throw Error(make_error_code(errc::invalid_argument),
                    "subprocess: the protocol factory returned null");
    }

    auto child = std::make_shared<ChildProcess>(loop);
    // stderr into stdout's pipe: libuv cannot point one child descriptor at another, so both
    // get the write end of a pipe made here, and stdout's transport reads the other end.
    const bool shared_output = options.err == Stdio::to_stdout && options.out == Stdio::pipe;
    uv_file shared[2] = {-1, -1};
    auto discard_pipes = [&] {
        for (auto& pipe : child->pipes_) {
            if (pipe) {
                pipe->discard();
            }
        }
        close_file(shared[1]);
    };
    const Stdio modes[3] = {options.in, options.out, options.err};
    uv_stdio_container_t stdio[3]{};
    try {
        if (shared_output) {
            if (const int status = uv_pipe(shared, UV_NONBLOCK_PIPE, 0); status != 0) {
                throw Error(uv_error(status),
                            std::string("subprocess: cannot make a pipe: ") + uv_strerror(status));
            }
        }
        for (int fd = 0; fd < 3; ++fd) {
            switch (modes[fd]) {
            case Stdio::pipe:
                child->pipes_[fd] = StreamTransport::create(loop, StreamTransport::Kind::pipe);
                if (fd == 1 && shared_output) {
                    const uv_file read_end = std::exchange(shared[0], -1);
                    if (const int status = uv_pipe_open(child->pipes_[1]->pipe(), read_end);
                        status != 0) {
                        close_file(read_end);
                        throw Error(uv_error(status),
                                    std::string("subprocess: stdout pipe: ") + uv_strerror(status));
                    }
                    stdio[fd].flags = UV_INHERIT_FD;
                    stdio[fd].data.fd = shared[1];
                } else {
                    stdio[fd].flags = static_cast<uv_stdio_flags>(
                        UV_CREATE_PIPE | (fd == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE));
                    stdio[fd].data.stream = child->pipes_[fd]->stream();
                }
                break;
            case Stdio::inherit:
                stdio[fd].flags = UV_INHERIT_FD;
                stdio[fd].data.fd = fd;
                break;
            case Stdio::devnull:
                stdio[fd].flags = UV_IGNORE;
                break;
            case Stdio::to_stdout: // stderr only (checked above)
                if (options.out == Stdio::pipe) {
                    stdio[fd].flags = UV_INHERIT_FD;
                    stdio[fd].data.fd = shared[1];
                } else if (options.out == Stdio::inherit) {
                    stdio[fd].flags = UV_INHERIT_FD;
                    stdio[fd].data.fd = 1;
                } else {
                    stdio[fd].flags = UV_IGNORE;
                }
                break;
            }
        }
    } catch (...) {
        discard_pipes();
        close_file(shared[0]);
        throw;
    }

    const int status = child->launch(argv, options, stdio, verbatim_windows_arguments);
    if (status != 0) {
        discard_pipes();
        throw Error(uv_error(status), spawn_failure(status, argv[0]));
    }
    close_file(shared[1]); // the child has its copy
    child->start_pipes_and_protocol(std::move(protocol));
    return child;
}

ChildProcess::~ChildProcess() = default;

int ChildProcess::launch(const std::vector<std::string>& argv, const SubprocessOptions& options,
                         uv_stdio_container_t* stdio, bool verbatim_windows_arguments) {
    std::vector<char*> args;
    for (const std::string& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str())); // libuv does not write to them
    }
    args.push_back(nullptr);
    std::vector<char*> environment;
    if (options.env) {
        for (const std::string& entry : *options.env) {
            environment.push_back(const_cast<char*>(entry.c_str()));
        }
        environment.push_back(nullptr);
    }
    uv_process_options_t spawn_options{};
    spawn_options.exit_cb = [](uv_process_t* process, int64_t status, int signal) {
        static_cast<ChildProcess*>(process->data)->on_exit(status, signal);
    };
    spawn_options.file = args[0];
    spawn_options.args = args.data();
    spawn_options.env = options.env ? environment.data() : nullptr;
    spawn_options.cwd = options.cwd.empty() ? nullptr : options.cwd.c_str();
    spawn_options.stdio_count = 3;
    spawn_options.stdio = stdio;
    spawn_options.flags = UV_PROCESS_WINDOWS_HIDE;
    if (verbatim_windows_arguments) {
        spawn_options.flags |= UV_PROCESS_WINDOWS_VERBATIM_ARGUMENTS;
    }
    program_ = argv[0];
    process_.data = this;
    const int status = uv_spawn(LoopAccess::native(loop_), &process_, &spawn_options);
    // libuv initialises the handle even when spawning fails; it is closed either way, and
    // the object lives until its close callback.
    process_handle_open_ = true;
    self_ = shared_from_this();
    if (status != 0) {
        close_process_handle();
        return status;
    }
    pid_ = process_.pid;
    registered_ = true;
    LoopAccess::register_resource(loop_, *this);
    return 0;
}

std::shared_ptr<Transport> ChildProcess::spawn_joined(Loop& loop, const ProtocolFactory& factory,
                                                      const std::vector<std::string>& argv,
                                                      bool verbatim_windows_arguments) {
    if (argv.empty() || argv[0].empty()) {
        throw Error(make_error_code(errc::invalid_argument), "exec: no command given");
    }
    if (LoopAccess::is_shutting_down(loop)) {
        throw Error(make_error_code(errc::loop_closed), "the loop is closing");
    }
    std::unique_ptr<Protocol> protocol = make_protocol(factory);
    // The child reads to_child[0] and writes from_child[1]; the transport reads from_child[0]
    // and writes to_child[1].
    uv_file to_child[2] = {-1, -1};
    uv_file from_child[2] = {-1, -1};
    const auto close_all = [&] {
        for (uv_file* file : {&to_child[0], &to_child[1], &from_child[0], &from_child[1]}) {
            close_file(std::exchange(*file, -1));
        }
    };
    int status = uv_pipe(to_child, 0, UV_NONBLOCK_PIPE);
    if (status == 0) {
        status = uv_pipe(from_child, UV_NONBLOCK_PIPE, 0);
    }
    if (status != 0) {
        close_all();
        throw Error(uv_error(status),
                    std::string("exec: cannot make a pipe: ") + uv_strerror(status));
    }
    std::shared_ptr<StreamTransport> joined;
    try {
        joined = StreamTransport::create(loop, StreamTransport::Kind::pipe);
    } catch (...) {
        close_all();
        throw;
    }
    status = uv_pipe_open(joined->pipe(), from_child[0]);
    if (status == 0) {
        from_child[0] = -1; // the transport's now
        status = joined->set_separate_output(std::exchange(to_child[1], -1));
    }
    if (status != 0) {
        joined->discard();
        close_all();
        throw Error(uv_error(status), std::string("exec: ") + uv_strerror(status));
    }

    uv_stdio_container_t stdio[3]{};
    stdio[0].flags = UV_INHERIT_FD;
    stdio[0].data.fd = to_child[0];
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = from_child[1];
    stdio[2].flags = UV_INHERIT_FD; // the child's complaints go where this program's go
    stdio[2].data.fd = 2;
    auto child = std::make_shared<ChildProcess>(loop);
    status = child->launch(argv, SubprocessOptions{}, stdio, verbatim_windows_arguments);
    close_all(); // the child has its copies of its ends
    if (status != 0) {
        joined->discard();
        throw Error(uv_error(status), spawn_failure(status, argv[0]));
    }
    child->protocol_ = std::make_unique<SubprocessProtocol>(); // the transport's protocol hears all
    // When the transport is done with the child, so is everything else: ask it to end.
    joined->call_when_released([child] { child->end_after_grace(); });
    joined->start(std::move(protocol), TransportDirection::both);
    return joined;
}

bool ChildProcess::running() const noexcept {
    return !returncode_ && process_handle_open_ &&
           uv_is_closing(reinterpret_cast<const uv_handle_t*>(&process_)) == 0;
}

void ChildProcess::end_after_grace() noexcept {
    if (!running()) {
        return;
    }
    // Its stdin has ended, so a child that reads its input to the end exits by itself, after
    // passing on what it still holds (SIGTERM at once would drop that); one that does not is
    // asked to end after the grace period, as socat does with EXEC.
    const auto terminate = [this] {
        if (running()) {
            uv_process_kill(&process_, SIGTERM);
        }
    };
    try {
        grace_ = loop_.call_later(exit_grace, terminate); // cancelled on exit: `this` lives
    } catch (...) {
        terminate();
    }
}

void ChildProcess::start_pipes_and_protocol(std::unique_ptr<SubprocessProtocol> protocol) {
    protocol_ = std::move(protocol);
    for (int fd = 0; fd < 3; ++fd) {
        if (pipes_[fd]) {
            pipe_open_[fd] = true;
            pipes_[fd]->start(std::make_unique<PipeProtocol>(*this, fd),
                              fd == 0 ? TransportDirection::write_only
                                      : TransportDirection::read_only);
        }
    }
    bool made = true;
    call_protocol("exception in connection_made", [&] {
        made = false;
        protocol_->connection_made(*this);
        made = true;
    });
    if (!made) {
        close();
    }
}

Transport* ChildProcess::pipe_transport(int fd) const noexcept {
    return fd >= 0 && fd < 3 && pipe_open_[fd] ? pipes_[fd].get() : nullptr;
}

void ChildProcess::send_signal(int signal) {
    if (returncode_ || !process_handle_open_ ||
        uv_is_closing(reinterpret_cast<uv_handle_t*>(&process_)) != 0) {
        throw Error(uv_error(UV_ESRCH), "send_signal: process " + std::to_string(pid_) + " (" +
                                            program_ + ") has exited");
    }
    if (const int status = uv_process_kill(&process_, signal); status != 0) {
        throw Error(uv_error(status), "send_signal(" + std::to_string(signal) + ") to process " +
                                          std::to_string(pid_) + " (" + program_ +
                                          "): " + uv_strerror(status));
    }
}

void ChildProcess::terminate() {
    send_signal(SIGTERM);
}

void ChildProcess::kill() {
    send_signal(SIGKILL);
}

void ChildProcess::close() noexcept {
    if (closing_) {
        return;
    }
    closing_ = true;
    for (int fd = 0; fd < 3; ++fd) {
        if (pipe_open_[fd]) {
            pipes_[fd]->close(); // stdin sends what is queued first
        }
    }
    if (!returncode_ && process_handle_open_ &&
        uv_is_closing(reinterpret_cast<uv_handle_t*>(&process_)) == 0) {
        uv_process_kill(&process_, SIGKILL); // a race with its exit is harmless
    }
}

void ChildProcess::close_for_loop_shutdown() noexcept {
    // The loop closes every handle now, so the exit callback would never come: the child is
    // killed and collected here (no zombie is left), and reported as any exit is.
    closing_ = true;
    if (returncode_ || !process_handle_open_ ||
        uv_is_closing(reinterpret_cast<uv_handle_t*>(&process_)) != 0) {
        return;
    }
    const int status = uv_process_kill(&process_, SIGKILL);
    close_process_handle();
    if (status == 0 || status == UV_ESRCH) {
        returncode_ = collect_killed_child(pid_, SIGKILL);
    }
    if (returncode_) {
        call_protocol("exception in process_exited", [&] { protocol_->process_exited(); });
    }
}

void ChildProcess::pipe_data(int fd, ByteView data) {
    protocol_->pipe_data_received(fd, data); // what it throws, the pipe's transport reports
}

void ChildProcess::pipe_lost(int fd, std::error_code error) {
    pipe_open_[fd] = false;
    call_protocol("exception in pipe_connection_lost",
                  [&] { protocol_->pipe_connection_lost(fd, error); });
    finish_if_done();
}

void ChildProcess::stdin_paused(bool paused) {
    if (paused) {
        protocol_->pause_writing();
    } else {
        protocol_->resume_writing();
    }
}

void ChildProcess::on_exit(int64_t exit_status, int term_signal) noexcept {
    returncode_ = term_signal != 0 ? -term_signal : static_cast<int>(exit_status);
    grace_.cancel();
    close_process_handle();
    // Nobody reads the child's stdin any more: its pipe ends now (a write-only pipe would
    // never notice the other end closing), with EPIPE if bytes were still queued for it.
    if (pipe_open_[0]) {
        if (pipes_[0]->write_buffer_size() == 0) {
            pipes_[0]->close();
        } else {
            pipes_[0]->abort(uv_error(UV_EPIPE));
        }
    }
    call_protocol("exception in process_exited", [&] { protocol_->process_exited(); });
}

void ChildProcess::close_process_handle() noexcept {
    auto* handle = reinterpret_cast<uv_handle_t*>(&process_);
    if (!process_handle_open_ || uv_is_closing(handle) != 0) {
        return;
    }
    uv_close(handle, [](uv_handle_t* closed) {
        auto* child = static_cast<ChildProcess*>(closed->data);
        child->process_handle_open_ = false;
        child->finish_if_done();
    });
}

void ChildProcess::finish_if_done() noexcept {
    if (finished_ || process_handle_open_) {
        return;
    }
    for (const bool open : pipe_open_) {
        if (open) {
            return;
        }
    }
    finished_ = true;
    // The self-reference goes last: connection_lost may drop every other reference.
    std::shared_ptr<ChildProcess> keep_alive = std::move(self_);
    if (registered_) {
        LoopAccess::unregister_resource(loop_, *this);
    }
    if (protocol_) {
        call_protocol("exception in connection_lost",
                      [&] { protocol_->connection_lost(std::error_code()); });
    }
}

template <class Fn>
void ChildProcess::call_protocol(const char* where, Fn&& fn) noexcept {
    invoke_guarded(loop_, where, std::forward<Fn>(fn));
}

} // namespace ferry::detail
