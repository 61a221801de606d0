// Keyboard on Windows: standard input when it is a pipe. A console is not read yet: the loop
// waits on pipes, and console input needs its own reader (ReadConsoleInput).
#include "keyboard.hpp"

#include <windows.h>

#include <utility>

#include "platform.hpp"

namespace sample {

struct Keyboard::Saved {};

Keyboard::Keyboard() {
    keys_ = loop_readable_stdin();
    if (!keys_) {
        why_ = "keys are read from a pipe on Windows (e.g. type keys.txt | serial_monitor COM3); "
               "a console is not read yet";
    }
}

Keyboard::~Keyboard() {
    if (keys_) {
        close_native(*keys_); // never taken
    }
}

std::optional<ferry::NativeHandle> Keyboard::take() {
    return std::exchange(keys_, std::nullopt);
}

} // namespace sample
