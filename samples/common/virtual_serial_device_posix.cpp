// VirtualSerialDevice: openpty, a link to the slave, and the master as a ferry transport.
#include "virtual_serial_device.hpp"

#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <ferry/error.hpp>
#include <ferry/pipe.hpp>

namespace sample {

VirtualSerialDevice::VirtualSerialDevice(ferry::Loop& loop, std::filesystem::path link,
                                         ferry::ProtocolFactory device)
    : loop_(loop), link_(std::move(link)), factory_(std::move(device)) {
    plug_in();
}

VirtualSerialDevice::~VirtualSerialDevice() {
    unplug();
}

void VirtualSerialDevice::plug_in() {
    if (plugged_in()) {
        return;
    }
    int master = -1;
    char name[128];
    if (::openpty(&master, &slave_, name, nullptr, nullptr) != 0) {
        throw ferry::Error(std::error_code(errno, std::generic_category()), "openpty failed");
    }
    // The device keeps the slave open too: a pty master whose slave was never opened, or was
    // closed, reads as EIO, and the device must live before and between the program's opens.
    termios raw{};
    ::tcgetattr(slave_, &raw);
    ::cfmakeraw(&raw);
    ::tcsetattr(slave_, TCSANOW, &raw);
    std::filesystem::remove(link_);
    std::filesystem::create_symlink(name, link_);
    terminal_ = name;
    device_ = ferry::connect_stream_fd(loop_, factory_, master).value();
}

void VirtualSerialDevice::unplug() {
    if (!plugged_in()) {
        return;
    }
    std::error_code ignored;
    std::filesystem::remove(link_, ignored);
    device_->abort(); // closes the master: the program's port hangs up
    device_.reset();
    ::close(slave_);
    slave_ = -1;
}

} // namespace sample
