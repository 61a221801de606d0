#pragma once
// An interruptible TIOCMIWAIT: the wait runs on an executor thread, and the loop thread can
// end it early (cancellation, port closing) by signalling that thread. Private.

#include <pthread.h>

#include <atomic>
#include <memory>
#include <mutex>

#include <ferry/loop.hpp>
#include <ferry/serial.hpp>

namespace ferry::detail {

/// One modem-line wait shared by the executor job and the loop thread.
struct ModemWait {
    ModemWait(int descriptor, ModemStatus lines) : fd(descriptor), watch(lines) {}
    const int fd;
    const ModemStatus watch;
    std::atomic<bool> stop{false};     // set by the loop thread to end the wait
    std::atomic<bool> finished{false}; // set by the job when it returns
    std::mutex thread_mutex;           // a signal is sent only while the job is inside the wait
    bool has_thread = false;
    pthread_t thread{};
};

/// Executor thread: waits for a change of the watched lines. Returns 0, an errno value, or
/// ECANCELED once interrupted.
int run_modem_wait(ModemWait& wait) noexcept;

/// Loop thread: ends the wait. The job is interrupted with SIGURG (its handler does nothing
/// and is installed without SA_RESTART, so the ioctl returns EINTR); the signal is repeated
/// every few milliseconds until the job has returned, which closes the race of a signal that
/// lands just before the job enters the ioctl.
void interrupt_modem_wait(Loop& loop, std::shared_ptr<ModemWait> wait);

} // namespace ferry::detail
