#pragma once
// Collecting a child killed while its loop closes (killed_child_posix.cpp,
// killed_child_win.cpp). Private to ferry::transports.

#include <optional>

namespace ferry::detail {

/// Waits (at most 2 s) for process `pid`, just sent `signal`, to end, and reaps it on POSIX
/// (its libuv handle is closed, so libuv no longer would). Its returncode as asyncio reports
/// it, or nothing if it did not end in time.
std::optional<int> collect_killed_child(int pid, int signal) noexcept;

} // namespace ferry::detail
