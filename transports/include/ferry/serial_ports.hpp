#pragma once
/// Finding serial ports: what is plugged in, with its USB identity (pyserial's list_ports).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

/// One serial port and what the system knows about it.
struct PortInfo {
    /// The device node, e.g. /dev/ttyUSB0.
    std::string device;
    /// The node's name, e.g. ttyUSB0.
    std::string name;
    /// A human description: the USB product (and interface), or the name.
    std::string description;
    /// A hardware id: "USB VID:PID=0403:6001 SER=A50285BI LOCATION=1-1.2:1.0", or the PnP id.
    std::string hwid;
    /// USB vendor id, for USB devices.
    std::optional<std::uint16_t> vid;
    /// USB product id, for USB devices.
    std::optional<std::uint16_t> pid;
    /// USB serial number (empty if none).
    std::string serial_number;
    /// USB manufacturer string.
    std::string manufacturer;
    /// USB product string.
    std::string product;
    /// Where it is plugged in: the USB interface's bus path, e.g. 1-1.2:1.0.
    std::string location;
    /// The USB interface's name, when the device gives one.
    std::string usb_interface;
    /// Links to it under /dev/serial/by-id (stable names that survive replugging).
    std::vector<std::string> by_id;
    /// The kernel subsystem behind it: usb-serial, usb (CDC-ACM), pnp, amba...
    std::string subsystem;
};

/// Where list_ports looks on Linux; tests point both at fixture trees.
struct PortSearch {
    /// The sysfs mount.
    std::string sysfs_root = "/sys";
    /// The device directory.
    std::string dev_root = "/dev";
};

/// Every serial port backed by hardware (USB, PnP, AMBA; not virtual terminals or the
/// serial8250 placeholders), sorted by device path. Never opens a port. Linux reads sysfs
/// (under `where`); Windows asks SetupAPI, then HARDWARE\DEVICEMAP\SERIALCOMM, sorted by
/// port number (`where` is not used there).
std::vector<PortInfo> list_ports(const PortSearch& where = {});

/// The ports whose device, description or hwid matches `pattern` (an ECMAScript regular
/// expression, case-insensitive), as pyserial's `grep`. Throws ferry::Error on a bad pattern.
std::vector<PortInfo> grep_ports(std::string_view pattern, const PortSearch& where = {});

} // namespace ferry
