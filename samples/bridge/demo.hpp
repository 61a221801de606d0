#pragma once
// ferry-bridge --demo: a simulated sensor on a pseudo-terminal, to bridge without hardware.

#include <memory>
#include <string>

#include <ferry/ferry.hpp>

namespace bridge_tool {

/// A sensor on a new pty: a reading every `period`, and answers to "v" (version), "r" (a
/// reading now) and "help", each command ended by CR or LF. Keeps the pty open while it lives.
class DemoSensor {
public:
    /// Makes the pty (reachable at `link`) and starts the sensor on its device end. Throws
    /// ferry::Error if the pty cannot be made.
    DemoSensor(ferry::Loop& loop, std::string link, std::chrono::milliseconds period);
    ~DemoSensor();
    DemoSensor(const DemoSensor&) = delete;
    DemoSensor& operator=(const DemoSensor&) = delete;

    /// The serial port a program opens: the link.
    const std::string& port() const noexcept { return link_; }
    /// The pty's own name (/dev/pts/N).
    std::string terminal() const { return pty_->path(); }

private:
    std::string link_;
    std::shared_ptr<ferry::SerialTransport> pty_;
};

} // namespace bridge_tool
