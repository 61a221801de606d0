#pragma once
// What the samples do differently on POSIX and Windows (platform_posix.cpp, platform_win.cpp).

#include <optional>
#include <string>
#include <vector>

#include <ferry/transport.hpp>

namespace sample {

/// This process's id, for names of temporary files.
long process_id();

/// Makes writing to a closed pipe or socket an error instead of a fatal SIGPIPE (Windows has
/// no such signal).
void ignore_broken_pipe();

/// Sets the environment variable `name` to `value` unless it is set already.
void set_environment_default(const std::string& name, const std::string& value);

/// The signals that ask a sample to stop: SIGINT and SIGTERM (and SIGHUP where asked) on
/// POSIX; Ctrl-C and the console closing on Windows, which has no SIGTERM to deliver.
std::vector<int> stop_signals(bool with_hang_up = false);

/// The signal that asks for statistics now: SIGUSR1 on POSIX, Ctrl-Break (SIGBREAK) on Windows.
int statistics_signal();
/// How help texts name it ("SIGUSR1", "Ctrl-Break").
std::string statistics_signal_name();
/// How a user sends it to this process ("kill -USR1 1234", "Ctrl-Break").
std::string statistics_request_hint();

/// A descriptor for standard output that the loop may write without blocking: a pipe or socket,
/// opened afresh so that the non-blocking mode the loop sets stays this process's own. Nothing
/// when standard output is to be written directly (a terminal or console, a file, /dev/null).
std::optional<ferry::NativeHandle> loop_writable_stdout();

/// A descriptor for reading standard input on the loop (a duplicate), or nothing when the loop
/// cannot wait on it (a regular file; on Windows also a console).
std::optional<ferry::NativeHandle> loop_readable_stdin();

/// Closes a descriptor or handle the sample owns.
void close_native(ferry::NativeHandle handle);

} // namespace sample
