// Keyboard on POSIX: the terminal behind stdin, reopened and put in raw mode.
#include "keyboard.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <utility>

namespace sample {

struct Keyboard::Saved {
    termios settings{};
};

Keyboard::Keyboard() {
    if (::isatty(STDIN_FILENO) == 0) {
        const int fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0); // a pipe or a file
        if (fd >= 0) {
            keys_ = fd;
        } else {
            why_ = "standard input is closed";
        }
        return;
    }
    // The terminal behind stdin, reopened: a separate open file description, so the
    // non-blocking mode the loop sets on it never leaks to the shell's stdin.
    const char* name = ::ttyname(STDIN_FILENO);
    const int fd = name != nullptr ? ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
    if (fd < 0) {
        why_ = "the terminal could not be reopened";
        return;
    }
    keys_ = fd;
    saved_ = std::make_unique<Saved>();
    ::tcgetattr(STDIN_FILENO, &saved_->settings);
    termios raw = saved_->settings;
    ::cfmakeraw(&raw);
    raw.c_oflag |= OPOST | ONLCR; // keep "\n" starting a new line on screen
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
}

Keyboard::~Keyboard() {
    if (saved_) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_->settings);
    }
    if (keys_) {
        ::close(*keys_); // never taken
    }
}

std::optional<ferry::NativeHandle> Keyboard::take() {
    return std::exchange(keys_, std::nullopt);
}

} // namespace sample
