// list_ports on Linux: walks /sys/class/tty and reads the USB / PnP identity from sysfs,
// the way pyserial's list_ports_linux does.
#include <ferry/serial_ports.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace ferry {
namespace {

namespace fs = std::filesystem;

/// The first line of a sysfs attribute, or empty if it does not exist.
std::string read_attribute(const fs::path& file) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' ')) {
        line.pop_back();
    }
    return line;
}

std::optional<std::uint16_t> read_hex_id(const fs::path& file) {
    const std::string text = read_attribute(file);
    if (text.empty()) {
        return std::nullopt;
    }
    try {
        return static_cast<std::uint16_t>(std::stoul(text, nullptr, 16));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string hex4(std::uint16_t value) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out(4, '0');
    for (int i = 3; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = digits[value & 0xf];
        value = static_cast<std::uint16_t>(value >> 4);
    }
    return out;
}

fs::path canonical_or_empty(const fs::path& path) {
    std::error_code error;
    fs::path resolved = fs::canonical(path, error);
    return error ? fs::path() : resolved;
}

/// Fills the USB fields from the interface directory and its parent, the USB device.
void read_usb_identity(PortInfo& port, const fs::path& interface_dir) {
    const fs::path device_dir = interface_dir.parent_path();
    port.vid = read_hex_id(device_dir / "idVendor");
    port.pid = read_hex_id(device_dir / "idProduct");
    port.serial_number = read_attribute(device_dir / "serial");
    port.manufacturer = read_attribute(device_dir / "manufacturer");
    port.product = read_attribute(device_dir / "product");
    port.usb_interface = read_attribute(interface_dir / "interface");
    port.location = interface_dir.filename().string();
    if (!port.product.empty() && !port.usb_interface.empty()) {
        port.description = port.product + " - " + port.usb_interface;
    } else if (!port.product.empty()) {
        port.description = port.product;
    } else {
        port.description = port.name;
    }
    port.hwid = "USB VID:PID=" + (port.vid ? hex4(*port.vid) : std::string("????")) + ":" +
                (port.pid ? hex4(*port.pid) : std::string("????"));
    if (!port.serial_number.empty()) {
        port.hwid += " SER=" + port.serial_number;
    }
    port.hwid += " LOCATION=" + port.location;
}

/// The PortInfo for /sys/class/tty/<name>, or nullopt when no hardware is behind it.
std::optional<PortInfo> describe_tty(const fs::path& class_entry, const PortSearch& where) {
    const fs::path device_dir = canonical_or_empty(class_entry / "device");
    if (device_dir.empty()) {
        return std::nullopt; // virtual terminals, ptys: no device link
    }
    PortInfo port;
    port.name = class_entry.filename().string();
    port.device = (fs::path(where.dev_root) / port.name).string();
    port.subsystem = canonical_or_empty(device_dir / "subsystem").filename().string();
    if (port.subsystem == "platform") {
        return std::nullopt; // serial8250's placeholders for UARTs that are not there
    }
    if (port.subsystem == "usb-serial") {
        read_usb_identity(port, device_dir.parent_path()); // .../1-1.2:1.0/ttyUSB0
    } else if (port.subsystem == "usb") {
        read_usb_identity(port, device_dir); // CDC-ACM: the interface itself
    } else if (port.subsystem == "pnp") {
        port.description = port.name;
        port.hwid = read_attribute(device_dir / "id");
    } else {
        port.description = port.name;
        port.hwid = device_dir.filename().string();
    }
    return port;
}

/// Adds each /dev/serial/by-id link to the port it points at.
void attach_stable_links(std::vector<PortInfo>& ports, const PortSearch& where) {
    std::error_code error;
    const fs::path by_id = fs::path(where.dev_root) / "serial" / "by-id";
    for (const auto& entry : fs::directory_iterator(by_id, error)) {
        const fs::path target = canonical_or_empty(entry.path());
        for (PortInfo& port : ports) {
            if (!target.empty() && target == canonical_or_empty(port.device)) {
                port.by_id.push_back(entry.path().string());
            }
        }
    }
    for (PortInfo& port : ports) {
        std::sort(port.by_id.begin(), port.by_id.end());
    }
}

} // namespace

std::vector<PortInfo> list_ports(const PortSearch& where) {
    std::vector<PortInfo> ports;
    std::error_code error;
    for (const auto& entry :
         fs::directory_iterator(fs::path(where.sysfs_root) / "class" / "tty", error)) {
        if (auto port = describe_tty(entry.path(), where)) {
            ports.push_back(std::move(*port));
        }
    }
    attach_stable_links(ports, where);
    std::sort(ports.begin(), ports.end(),
              [](const PortInfo& a, const PortInfo& b) { return a.device < b.device; });
    return ports;
}

} // namespace ferry
