// Collecting a killed child on Windows: nothing to reap; wait for the process to end, and
// report it as libuv's exit callback would (minus the signal that ended it).
#include "subprocess/killed_child.hpp"

#include <windows.h>

namespace ferry::detail {

std::optional<int> collect_killed_child(int pid, int signal) noexcept {
    const HANDLE process = OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
    if (process == nullptr) {
        return -signal; // already gone
    }
    const DWORD waited = WaitForSingleObject(process, 2000);
    CloseHandle(process);
    return waited == WAIT_OBJECT_0 ? std::optional<int>(-signal) : std::nullopt;
}

} // namespace ferry::detail
