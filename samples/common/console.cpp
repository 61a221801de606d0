// Console: stdout through a pipe transport when it is a pipe or socket, directly otherwise.
#include "console.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <ferry/pipe.hpp>
#include <ferry/protocol.hpp>

namespace sample {
namespace {

/// A descriptor for stdout the loop may make non-blocking, or -1 to write stdout directly.
int loop_writable_stdout() {
    struct stat st {};
    if (::fstat(STDOUT_FILENO, &st) != 0) {
        return -1;
    }
    if (S_ISFIFO(st.st_mode)) {
        // A fresh open of the same pipe: its own file description, so O_NONBLOCK set on it
        // does not change the descriptor other processes share.
        return ::open("/proc/self/fd/1", O_WRONLY | O_CLOEXEC);
    }
    if (S_ISSOCK(st.st_mode)) {
        return ::dup(STDOUT_FILENO);
    }
    return -1; // a terminal, a regular file, /dev/null: written directly
}

} // namespace

Console::Console(ferry::Loop& loop, std::size_t bound) : loop_(loop), bound_(bound) {
    const int fd = loop_writable_stdout();
    if (fd < 0) {
        return;
    }
    std::fflush(stdout); // what was printed before goes first
    auto pipe = ferry::connect_write_pipe(
        loop, [] { return std::make_unique<ferry::Protocol>(); }, fd);
    if (pipe.ok()) {
        pipe_ = pipe.value();
    } else {
        ::close(fd);
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
