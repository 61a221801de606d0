#pragma once
// Keyboard: where the monitor reads keys from (keyboard_posix.cpp, keyboard_win.cpp).

#include <memory>
#include <optional>
#include <string>

#include <ferry/transport.hpp>

namespace sample {

/// The keys' source: the terminal behind standard input in raw mode while this lives (every
/// key, Ctrl-C too, goes to the port; the terminal is restored after), or standard input as it
/// is (a pipe). Main thread only.
class Keyboard {
public:
    /// Opens it; never fails (take() then says there is nothing to read).
    Keyboard();
    ~Keyboard();
    Keyboard(const Keyboard&) = delete;
    Keyboard& operator=(const Keyboard&) = delete;

    /// The descriptor to read keys from on the loop (the caller owns it from now), or nothing
    /// with why() saying the reason.
    std::optional<ferry::NativeHandle> take();
    /// Why take() gave nothing.
    const std::string& why() const noexcept { return why_; }

private:
    struct Saved; // the terminal's settings to restore
    std::unique_ptr<Saved> saved_;
    std::optional<ferry::NativeHandle> keys_;
    std::string why_;
};

} // namespace sample
