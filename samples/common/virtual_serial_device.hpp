#pragma once
// VirtualSerialDevice: a simulated serial device on a pseudo-terminal, for the samples' demos.

#include <filesystem>
#include <memory>
#include <string>

#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/transport.hpp>

namespace sample {

/// A device on a pseudo-terminal. The pty's slave is the serial port a program opens, reached
/// through a link with a stable name (as /dev/serial/by-id gives a real dongle); the master is
/// the device's own end, driven by a protocol on the same loop. Unplugging closes the master
/// (the port's user sees errc::device_removed) and removes the link; plugging in makes a fresh
/// pty under the same link name. Loop thread only.
/// Windows has no pseudo-terminals: there the device plays on the second port of a null-modem
/// pair named by FERRY_DEMO_COM_PAIR ("COM5,COM6": com0com's pair, or two ptys joined by socat
/// under Wine; FERRY_TEST_COM_PAIR too), `link` is not used, port() is the first port, and
/// unplugging closes the device's port (a null-modem pair tells the other side nothing).
class VirtualSerialDevice {
public:
    /// Plugs in a device whose behaviour `device` makes, reachable at `link`.
    VirtualSerialDevice(ferry::Loop& loop, std::filesystem::path link,
                        ferry::ProtocolFactory device);
    /// Unplugs.
    ~VirtualSerialDevice();
    VirtualSerialDevice(const VirtualSerialDevice&) = delete;
    VirtualSerialDevice& operator=(const VirtualSerialDevice&) = delete;

    /// The port's path (the link).
    std::string port() const { return link_.string(); }
    /// Where the device itself sits: the pty's name (/dev/pts/N), or the pair's second port.
    const std::string& terminal() const noexcept { return terminal_; }
    /// The device end while plugged in, else null.
    ferry::Transport* device() const { return device_.get(); }
    /// Pulls the cable: the master closes and the link goes away.
    void unplug();
    /// Plugs it back in: a new pty under the same link name, with a fresh device protocol.
    void plug_in();
    /// True between plug_in() and unplug().
    bool plugged_in() const { return device_ != nullptr; }

private:
    ferry::Loop& loop_;
    std::filesystem::path link_;
    ferry::ProtocolFactory factory_;
    std::shared_ptr<ferry::Transport> device_;
    std::string terminal_;
    int slave_ = -1; // POSIX: the pty's slave, held open while plugged in
};

} // namespace sample
