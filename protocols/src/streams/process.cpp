// Process: a child's pipes as StreamReaders and a StreamWriter (asyncio.subprocess).
#include <ferry/process.hpp>

#include <ferry/sync.hpp>
#include <ferry/wait.hpp>

#include "streams/stream_state.hpp"

namespace ferry::detail {
namespace {

/// What the child's protocol feeds and the Process handles read: shared by both, pointing at
/// neither (the transport owns the protocol, the handles own the transport: no cycle).
struct ProcessPipes {
    ProcessPipes(Loop& loop, std::size_t limit)
        : out(loop, limit), err(loop, limit), writer(std::make_shared<WriterState>()) {}
    StreamReader out;
    StreamReader err;
    std::shared_ptr<WriterState> writer;
    Event exited;
};

/// Feeds the readers, tracks the stdin writer, signals the exit (asyncio's
/// SubprocessStreamProtocol).
class ProcessProtocol final : public SubprocessProtocol {
public:
    explicit ProcessProtocol(std::shared_ptr<ProcessPipes> pipes) : pipes_(std::move(pipes)) {}

    void connection_made(SubprocessTransport& transport) override {
        pipes_->out.set_transport(transport.pipe_transport(1));
        pipes_->err.set_transport(transport.pipe_transport(2));
        pipes_->writer->transport = transport.pipe_transport(0);
    }
    void pipe_data_received(int fd, ByteView data) override {
        (fd == 1 ? pipes_->out : pipes_->err).feed_data(data);
    }
    void pipe_connection_lost(int fd, std::error_code error) override {
        if (fd == 0) {
            WriterState& writer = *pipes_->writer;
            writer.transport = nullptr;
            writer.lost = true;
            writer.lost_error = error;
            writer.drainers.wake_all();
            writer.closers.wake_all();
            return;
        }
        StreamReader& reader = fd == 1 ? pipes_->out : pipes_->err;
        if (error) {
            reader.set_exception(std::make_exception_ptr(ConnectionResetError(
                error, "child's pipe " + std::to_string(fd) + " lost: " + error.message())));
        } else {
            reader.feed_eof();
        }
        reader.set_transport(nullptr);
    }
    void process_exited() override { pipes_->exited.set(); }
    void pause_writing() override { pipes_->writer->paused = true; }
    void resume_writing() override {
        pipes_->writer->paused = false;
        pipes_->writer->drainers.wake_all();
    }

private:
    std::shared_ptr<ProcessPipes> pipes_;
};

Task<Bytes> nothing_read() {
    co_return Bytes();
}

Task<Bytes> read_to_end(StreamReader reader) {
    co_return co_await reader.read(-1);
}

Task<void> feed_and_close(std::optional<StreamWriter> writer, Bytes input) {
    if (!writer) {
        co_return;
    }
    if (!input.empty()) {
        writer->write(input);
        try {
            co_await writer->drain();
        } catch (const ConnectionResetError&) {
            // The child stopped reading (it exited, or closed its stdin): not an error, as in
            // asyncio; what it did read, it read.
        }
    }
    writer->close();
}

} // namespace

/// What a Process handle shares: the transport and the pipes' shared state.
struct ProcessState {
    std::shared_ptr<SubprocessTransport> transport;
    std::shared_ptr<ProcessPipes> pipes;
};

namespace {

template <class Spawn>
Process start_process(Loop& loop, const SubprocessOptions& options, std::size_t limit,
                      Spawn&& spawn) {
    auto pipes = std::make_shared<ProcessPipes>(loop, limit);
    Result<std::shared_ptr<SubprocessTransport>> started =
        spawn([pipes] { return std::make_unique<ProcessProtocol>(pipes); });
    std::shared_ptr<SubprocessTransport> transport = std::move(started).value(); // or throw
    Transport* input = transport->pipe_transport(0);
    Process process(std::make_shared<ProcessState>(ProcessState{transport, pipes}));
    if (options.in == Stdio::pipe && input != nullptr) {
        process.in = StreamConnection::writer_for(pipes->writer, input->shared_from_this());
    }
    if (options.out == Stdio::pipe) {
        process.out = pipes->out;
    }
    if (options.err == Stdio::pipe) {
        process.err = pipes->err;
    }
    return process;
}

Task<int> wait_for_exit(std::shared_ptr<ProcessState> state) {
    co_await state->pipes->exited.wait();
    co_return state->transport->returncode().value_or(-1);
}

Task<ProcessOutput> communicate_with(Process process, Bytes input) {
    Task<void> feeding = feed_and_close(process.in, std::move(input));
    Task<Bytes> reading_out = process.out ? read_to_end(*process.out) : nothing_read();
    Task<Bytes> reading_err = process.err ? read_to_end(*process.err) : nothing_read();
    auto all = gather(std::move(feeding), std::move(reading_out), std::move(reading_err));
    auto [fed, out, err] = co_await std::move(all);
    (void)fed;
    auto exit = process.wait();
    co_await std::move(exit);
    co_return ProcessOutput{std::move(out), std::move(err)};
}

} // namespace
} // namespace ferry::detail

namespace ferry {

Process::Process(std::shared_ptr<detail::ProcessState> state) : state_(std::move(state)) {}

int Process::pid() const noexcept {
    return state_->transport->pid();
}

std::optional<int> Process::returncode() const noexcept {
    return state_->transport->returncode();
}

Task<int> Process::wait() const {
    return detail::wait_for_exit(state_);
}

Task<ProcessOutput> Process::communicate(Bytes input) const {
    return detail::communicate_with(*this, std::move(input));
}

void Process::send_signal(int signal) const {
    state_->transport->send_signal(signal);
}

void Process::terminate() const {
    state_->transport->terminate();
}

void Process::kill() const {
    state_->transport->kill();
}

SubprocessTransport& Process::transport() const noexcept {
    return *state_->transport;
}

namespace {

// The work is in plain functions: GCC 12 mishandles a lambda inside a co_return expression
// (the coroutine's by-value parameters were destroyed twice).
Process start_exec(Loop& loop, const std::vector<std::string>& argv,
                   const SubprocessOptions& options, std::size_t limit) {
    return detail::start_process(loop, options, limit, [&](SubprocessProtocolFactory factory) {
        return subprocess_exec(loop, std::move(factory), argv, options);
    });
}

Process start_shell(Loop& loop, const std::string& command, const SubprocessOptions& options,
                    std::size_t limit) {
    return detail::start_process(loop, options, limit, [&](SubprocessProtocolFactory factory) {
        return subprocess_shell(loop, std::move(factory), command, options);
    });
}

} // namespace

Task<Process> create_subprocess_exec(Loop& loop, std::vector<std::string> argv,
                                     SubprocessOptions options, std::size_t limit) {
    co_return start_exec(loop, argv, options, limit);
}

Task<Process> create_subprocess_shell(Loop& loop, std::string command, SubprocessOptions options,
                                      std::size_t limit) {
    co_return start_shell(loop, command, options, limit);
}

} // namespace ferry
