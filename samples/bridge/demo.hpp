#pragma once
// ferry-bridge --demo: a simulated sensor on a simulated serial device, to bridge without
// hardware.

#include <memory>
#include <string>

#include <ferry/ferry.hpp>

#include "virtual_serial_device.hpp"

namespace bridge_tool {

/// A sensor on a simulated serial device (a new pty; on Windows the second port of a COM
/// pair, see VirtualSerialDevice): a reading every `period`, and answers to "v" (version), "r"
/// (a reading now) and "help", each command ended by CR or LF. Keeps the device while it lives.
class DemoSensor {
public:
    /// Makes the device (reachable at `link`; on Windows at the pair's first port) and starts
    /// the sensor on its end. Throws ferry::Error if the device cannot be made.
    DemoSensor(ferry::Loop& loop, std::string link, std::chrono::milliseconds period);
    ~DemoSensor();
    DemoSensor(const DemoSensor&) = delete;
    DemoSensor& operator=(const DemoSensor&) = delete;

    /// The serial port a program opens.
    std::string port() const { return device_->port(); }
    /// Where the sensor itself sits (/dev/pts/N, or a COM port).
    std::string terminal() const { return device_->terminal(); }

private:
    std::unique_ptr<sample::VirtualSerialDevice> device_;
};

} // namespace bridge_tool
