// Collecting a killed child on POSIX: waitpid, polled briefly (SIGKILL ends a process at once
// unless it sleeps in the kernel, which the bound covers).
#include "subprocess/killed_child.hpp"

#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

namespace ferry::detail {

std::optional<int> collect_killed_child(int pid, int signal) noexcept {
    (void)signal;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < give_up) {
        int status = 0;
        const pid_t reaped = waitpid(pid, &status, WNOHANG);
        if (reaped == pid) {
            return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
        }
        if (reaped < 0) {
            return std::nullopt; // not our child any more
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return std::nullopt;
}

} // namespace ferry::detail
