// Console: stdout through a pipe transport when it is a pipe or socket, directly otherwise.
#include "console.hpp"

#include <cstdio>

#include <ferry/pipe.hpp>
#include <ferry/protocol.hpp>

#include "platform.hpp"

namespace sample {

Console::Console(ferry::Loop& loop, std::size_t bound) : loop_(loop), bound_(bound) {
    const std::optional<ferry::NativeHandle> handle = loop_writable_stdout();
    if (!handle) {
        return; // a terminal or a file: written directly
    }
    std::fflush(stdout); // what was printed before goes first
    auto pipe = ferry::connect_write_pipe(
        loop, [] { return std::make_unique<ferry::Protocol>(); }, *handle);
    if (pipe.ok()) {
        pipe_ = pipe.value();
    } else {
        close_native(*handle);
    }
}

Console::~Console() {
    if (!loop_.is_running() && !loop_.is_closed()) {
        flush();
    }
    if (pipe_) {
        pipe_->close();
    }
}

void Console::flush(std::chrono::milliseconds limit) {
    if (pipe_ && pipe_->write_buffer_size() > 0 && !loop_.is_running()) {
        bool out_of_time = false;
        ferry::CallbackHandle timer = loop_.call_later(limit, [&] { out_of_time = true; });
        while (!out_of_time && pipe_->write_buffer_size() > 0 && !pipe_->is_closing()) {
            loop_.run_once(true);
        }
        timer.cancel();
    }
    if (dropped_ != reported_dropped_) {
        std::fprintf(stderr, "%llu lines dropped: standard output was not being read\n",
                     static_cast<unsigned long long>(dropped_ - reported_dropped_));
        reported_dropped_ = dropped_;
    }
}

std::size_t Console::queued() const noexcept {
    return pipe_ ? pipe_->write_buffer_size() : 0;
}

void Console::line(const std::string& text) {
    if (pipe_ && pipe_->write_buffer_size() > bound_) {
        ++dropped_;
        return;
    }
    if (dropped_ != reported_dropped_) {
        write("... " + std::to_string(dropped_ - reported_dropped_) +
              " lines dropped: standard output was not being read");
        reported_dropped_ = dropped_;
    }
    write(text);
}

void Console::write(const std::string& text) {
    if (pipe_ && !pipe_->is_closing()) {
        pipe_->write(text + "\n");
        return;
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

} // namespace sample
