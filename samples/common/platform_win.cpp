// The samples' platform parts on Windows.
#include "platform.hpp"

#include <windows.h>

#include <csignal>
#include <cstdlib>

namespace sample {
namespace {

/// A duplicate of the standard handle `which` when it is a pipe the loop can use.
std::optional<ferry::NativeHandle> duplicate_pipe(DWORD which) {
    const HANDLE standard = GetStdHandle(which);
    if (standard == nullptr || standard == INVALID_HANDLE_VALUE ||
        GetFileType(standard) != FILE_TYPE_PIPE) {
        return std::nullopt; // a console or a file: used directly
    }
    HANDLE copy = nullptr;
    const HANDLE process = GetCurrentProcess();
    if (!DuplicateHandle(process, standard, process, &copy, 0, FALSE, DUPLICATE_SAME_ACCESS)) {
        return std::nullopt;
    }
    return copy;
}

} // namespace

long process_id() {
    return static_cast<long>(GetCurrentProcessId());
}

void ignore_broken_pipe() {
    // Windows reports a closed pipe or socket as an error of the write itself.
}

void set_environment_default(const std::string& name, const std::string& value) {
    if (std::getenv(name.c_str()) == nullptr) {
        _putenv_s(name.c_str(), value.c_str());
    }
}

std::vector<int> stop_signals(bool with_hang_up) {
    // libuv delivers Ctrl-C as SIGINT and the console closing as SIGHUP (its own number, 1);
    // it accepts a SIGTERM watcher but nothing ever raises it.
    constexpr int console_closed = 1;
    std::vector<int> signals{SIGINT};
    if (with_hang_up) {
        signals.push_back(console_closed);
    }
    return signals;
}

int statistics_signal() {
    return SIGBREAK;
}

std::string statistics_signal_name() {
    return "Ctrl-Break";
}

std::string statistics_request_hint() {
    return "Ctrl-Break";
}

std::optional<ferry::NativeHandle> loop_writable_stdout() {
    return duplicate_pipe(STD_OUTPUT_HANDLE);
}

std::optional<ferry::NativeHandle> loop_readable_stdin() {
    return duplicate_pipe(STD_INPUT_HANDLE);
}

void close_native(ferry::NativeHandle handle) {
    CloseHandle(handle);
}

} // namespace sample
