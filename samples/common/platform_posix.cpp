// The samples' platform parts on POSIX.
#include "platform.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace sample {

long process_id() {
    return static_cast<long>(::getpid());
}

void ignore_broken_pipe() {
    ::signal(SIGPIPE, SIG_IGN);
}

void set_environment_default(const std::string& name, const std::string& value) {
    ::setenv(name.c_str(), value.c_str(), 0);
}

std::vector<int> stop_signals(bool with_hang_up) {
    std::vector<int> signals{SIGINT, SIGTERM};
    if (with_hang_up) {
        signals.push_back(SIGHUP);
    }
    return signals;
}

int statistics_signal() {
    return SIGUSR1;
}

std::string statistics_signal_name() {
    return "SIGUSR1";
}

std::string statistics_request_hint() {
    return "kill -USR1 " + std::to_string(process_id());
}

std::optional<ferry::NativeHandle> loop_writable_stdout() {
    struct stat st {};
    if (::fstat(STDOUT_FILENO, &st) != 0) {
        return std::nullopt;
    }
    int fd = -1;
    if (S_ISFIFO(st.st_mode)) {
        // A fresh open of the same pipe: its own file description, so O_NONBLOCK set on it
        // does not change the descriptor other processes share.
        fd = ::open("/proc/self/fd/1", O_WRONLY | O_CLOEXEC);
    } else if (S_ISSOCK(st.st_mode)) {
        fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
    }
    if (fd < 0) {
        return std::nullopt; // a terminal, a regular file, /dev/null: written directly
    }
    return fd;
}

std::optional<ferry::NativeHandle> loop_readable_stdin() {
    const int fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        return std::nullopt;
    }
    return fd;
}

void close_native(ferry::NativeHandle handle) {
    ::close(handle);
}

} // namespace sample
