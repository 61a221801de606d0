// The interruptible TIOCMIWAIT behind SerialTransport::wait_modem_change.
#include "serial/serial_modem_wait_posix.hpp"

#include <cerrno>
#include <csignal>

#include "serial/serial_device_posix.hpp"

namespace ferry::detail {
namespace {

using namespace std::chrono_literals;

/// SIGURG: ignored by default, so a process that never uses out-of-band socket data loses
/// nothing; Go's runtime uses it to interrupt threads for the same reason.
constexpr int interrupt_signal = SIGURG;

void install_interrupt_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action {};
        action.sa_handler = [](int) {};
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0; // no SA_RESTART: a blocked ioctl returns EINTR
        sigaction(interrupt_signal, &action, nullptr);
    });
}

void signal_until_finished(Loop& loop, std::shared_ptr<ModemWait> wait) {
    if (wait->finished.load()) {
        return;
    }
    {
        std::lock_guard lock(wait->thread_mutex);
        if (wait->has_thread) {
            pthread_kill(wait->thread, interrupt_signal);
        }
    }
    loop.call_later(5ms, [&loop, wait] { signal_until_finished(loop, wait); });
}

} // namespace

int run_modem_wait(ModemWait& wait) noexcept {
    install_interrupt_handler();
    {
        std::lock_guard lock(wait.thread_mutex);
        wait.thread = pthread_self();
        wait.has_thread = true;
    }
    int result = ECANCELED;
    while (!wait.stop.load()) {
        result = wait_modem_lines(wait.fd, wait.watch);
        if (result != EINTR) {
            break;
        }
        result = ECANCELED;
    }
    {
        std::lock_guard lock(wait.thread_mutex);
        wait.has_thread = false;
    }
    wait.finished.store(true);
    return result;
}

void interrupt_modem_wait(Loop& loop, std::shared_ptr<ModemWait> wait) {
    if (wait->stop.exchange(true)) {
        return; // already interrupting
    }
    install_interrupt_handler(); // before the first signal, even if the job has not run yet
    signal_until_finished(loop, std::move(wait));
}

} // namespace ferry::detail
