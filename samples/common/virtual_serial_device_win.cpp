// VirtualSerialDevice on Windows: the device plays on the second port of a null-modem pair.
#include "virtual_serial_device.hpp"

#include <cstdlib>

#include <ferry/error.hpp>
#include <ferry/serial.hpp>

namespace sample {
namespace {

/// The pair named by FERRY_DEMO_COM_PAIR or FERRY_TEST_COM_PAIR ("COM5,COM6").
std::pair<std::string, std::string> com_pair() {
    for (const char* variable : {"FERRY_DEMO_COM_PAIR", "FERRY_TEST_COM_PAIR"}) {
        const char* value = std::getenv(variable);
        const std::string pair = value != nullptr ? value : "";
        const std::size_t comma = pair.find(',');
        if (comma != std::string::npos && comma > 0 && comma + 1 < pair.size()) {
            return {pair.substr(0, comma), pair.substr(comma + 1)};
        }
    }
    throw ferry::Error(make_error_code(ferry::errc::not_supported),
                       "a simulated serial device needs a null-modem COM port pair on Windows "
                       "(com0com): name it in FERRY_DEMO_COM_PAIR, e.g. COM5,COM6");
}

} // namespace

VirtualSerialDevice::VirtualSerialDevice(ferry::Loop& loop, std::filesystem::path link,
                                         ferry::ProtocolFactory device)
    : loop_(loop), link_(std::move(link)), factory_(std::move(device)) {
    link_ = com_pair().first; // what port() reports: the program's side of the pair
    plug_in();
}

VirtualSerialDevice::~VirtualSerialDevice() {
    unplug();
}

void VirtualSerialDevice::plug_in() {
    if (plugged_in()) {
        return;
    }
    ferry::SerialOptions options;
    options.baud_rate = 115200;
    terminal_ = com_pair().second;
    auto opened = ferry::create_serial_connection(loop_, factory_, terminal_, options);
    if (!opened.ok()) {
        throw ferry::Error(make_error_code(ferry::errc::not_supported),
                           "cannot open the simulated device's port: " + opened.message());
    }
    device_ = opened.value();
}

void VirtualSerialDevice::unplug() {
    if (!plugged_in()) {
        return;
    }
    device_->abort();
    device_.reset();
}

} // namespace sample
