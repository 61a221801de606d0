// list_ports on Windows: SetupAPI's Ports class and COM port interfaces (friendly name,
// hardware id, USB identity with the parent walk for composite devices), then the
// HARDWARE\DEVICEMAP\SERIALCOMM registry key for ports SetupAPI does not know (Wine's, some
// virtual port drivers), the way pyserial's list_ports_windows does.
#include <ferry/serial_ports.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <regex>
#include <string>

// uv.h first: it includes winsock2.h, which must come before windows.h.
#include <uv.h>

#include <windows.h>

#include <cfgmgr32.h>
#include <devguid.h>
#include <setupapi.h>

namespace ferry {
namespace {

// GUID_DEVINTERFACE_COMPORT: devices that expose a COM port interface (not all are in the
// Ports class, and not every Ports member is a COM port).
const GUID com_port_interface = {
    0x86E0D1E0, 0x8089, 0x11D0, {0x9C, 0xE4, 0x08, 0x00, 0x3E, 0x30, 0x1F, 0x73}};

std::string narrow(const std::wstring& wide) {
    if (wide.empty()) {
        return {};
    }
    const int size = WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()),
                                         nullptr, 0, nullptr, nullptr);
    std::string text(static_cast<std::size_t>(size), '\0');
    WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), text.data(), size,
                        nullptr, nullptr);
    return text;
}

/// A device registry property as text (the first string of a multi-string), or empty.
std::string device_property(HDEVINFO set, SP_DEVINFO_DATA& device, DWORD property) {
    wchar_t buffer[1024] = {};
    if (!SetupDiGetDeviceRegistryPropertyW(set, &device, property, nullptr,
                                           reinterpret_cast<BYTE*>(buffer), sizeof buffer - 2,
                                           nullptr)) {
        return {};
    }
    return narrow(buffer);
}

/// The device's PortName value ("COM3"), or empty for devices that are no COM port (LPT1).
std::string port_name(HDEVINFO set, SP_DEVINFO_DATA& device) {
    const HKEY key = SetupDiOpenDevRegKey(set, &device, DICS_FLAG_GLOBAL, 0, DIREG_DEV, KEY_READ);
    if (key == INVALID_HANDLE_VALUE) {
        return {};
    }
    wchar_t value[256] = {};
    DWORD size = sizeof value - 2;
    DWORD type = 0;
    const LONG rc =
        RegQueryValueExW(key, L"PortName", nullptr, &type, reinterpret_cast<BYTE*>(value), &size);
    RegCloseKey(key);
    const std::string name = rc == ERROR_SUCCESS && type == REG_SZ ? narrow(value) : "";
    return name.rfind("COM", 0) == 0 ? name : "";
}

/// A device instance id ("USB\VID_0403&PID_6001\A50285BI"), or empty.
std::string instance_id(DEVINST instance) {
    wchar_t id[MAX_DEVICE_ID_LEN + 1] = {};
    return CM_Get_Device_IDW(instance, id, MAX_DEVICE_ID_LEN, 0) == CR_SUCCESS ? narrow(id) : "";
}

/// Fills vid, pid, serial number, interface and hwid of `port` from a device instance id and,
/// for one interface of a composite device (MI_xx, whose own id has no serial number), its
/// parent's id.
void fill_usb_identity(PortInfo& port, const std::string& id, const std::string& parent_id) {
    static const std::regex usb(R"(VID_([0-9A-F]{4})&PID_([0-9A-F]{4})(&MI_([0-9A-F]{2}))?)",
                                std::regex::icase);
    std::smatch match;
    if (!std::regex_search(id, match, usb)) {
        port.hwid = id;
        return;
    }
    port.vid = static_cast<std::uint16_t>(std::strtoul(match[1].str().c_str(), nullptr, 16));
    port.pid = static_cast<std::uint16_t>(std::strtoul(match[2].str().c_str(), nullptr, 16));
    if (match[4].matched) {
        port.usb_interface = match[4].str();
    }
    // The serial number is the id's last part, unless Windows made one up ("5&2a3b&0&2",
    // which holds '&'): then the parent (the composite device) may have the real one.
    const auto serial_of = [](const std::string& text) {
        const auto slash = text.rfind('\\');
        const std::string last = slash == std::string::npos ? "" : text.substr(slash + 1);
        return last.find('&') == std::string::npos ? last : "";
    };
    port.serial_number = serial_of(id);
    if (port.serial_number.empty() && !parent_id.empty()) {
        port.serial_number = serial_of(parent_id);
    }
    char ids[32];
    std::snprintf(ids, sizeof ids, "%04X:%04X", *port.vid, *port.pid);
    port.hwid = std::string("USB VID:PID=") + ids;
    if (!port.serial_number.empty()) {
        port.hwid += " SER=" + port.serial_number;
    }
    if (!port.location.empty()) {
        port.hwid += " LOCATION=" + port.location;
    }
}

void add_setupapi_ports(std::vector<PortInfo>& ports, const GUID& guid, DWORD flags) {
    const HDEVINFO set = SetupDiGetClassDevsW(&guid, nullptr, nullptr, flags);
    if (set == INVALID_HANDLE_VALUE) {
        return;
    }
    SP_DEVINFO_DATA device{};
    device.cbSize = sizeof device;
    for (DWORD index = 0; SetupDiEnumDeviceInfo(set, index, &device); ++index) {
        PortInfo port;
        port.device = port_name(set, device);
        if (port.device.empty() ||
            std::any_of(ports.begin(), ports.end(),
                        [&](const PortInfo& known) { return known.device == port.device; })) {
            continue; // no COM port, or found through the other list already
        }
        port.name = port.device;
        port.description = device_property(set, device, SPDRP_FRIENDLYNAME);
        port.manufacturer = device_property(set, device, SPDRP_MFG);
        port.location = device_property(set, device, SPDRP_LOCATION_INFORMATION);
        port.subsystem = device_property(set, device, SPDRP_ENUMERATOR_NAME);
        DEVINST parent = 0;
        const std::string parent_id =
            CM_Get_Parent(&parent, device.DevInst, 0) == CR_SUCCESS ? instance_id(parent) : "";
        fill_usb_identity(port, instance_id(device.DevInst), parent_id);
        if (port.description.empty()) {
            port.description = port.device;
        }
        ports.push_back(std::move(port));
    }
    SetupDiDestroyDeviceInfoList(set);
}

void add_registry_ports(std::vector<PortInfo>& ports) {
    HKEY key = nullptr;
    if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"HARDWARE\\DEVICEMAP\\SERIALCOMM", 0, KEY_READ, &key) !=
        ERROR_SUCCESS) {
        return;
    }
    for (DWORD index = 0;; ++index) {
        wchar_t name[256] = {};
        wchar_t value[256] = {};
        DWORD name_size = 255;
        DWORD value_size = sizeof value - 2;
        DWORD type = 0;
        if (RegEnumValueW(key, index, name, &name_size, nullptr, &type,
                          reinterpret_cast<BYTE*>(value), &value_size) != ERROR_SUCCESS) {
            break;
        }
        const std::string device = narrow(value);
        if (type != REG_SZ || device.empty() ||
            std::any_of(ports.begin(), ports.end(),
                        [&](const PortInfo& known) { return known.device == device; })) {
            continue;
        }
        PortInfo port;
        port.device = device;
        port.name = device;
        port.description = device;
        port.hwid = narrow(name); // the driver's device object, e.g. \Device\Serial0
        ports.push_back(std::move(port));
    }
    RegCloseKey(key);
}

/// COM2 before COM10.
bool by_port_number(const PortInfo& a, const PortInfo& b) {
    const auto number = [](const std::string& name) {
        return std::strtoul(name.c_str() + std::min<std::size_t>(3, name.size()), nullptr, 10);
    };
    return number(a.device) != number(b.device) ? number(a.device) < number(b.device)
                                                : a.device < b.device;
}

} // namespace

std::vector<PortInfo> list_ports(const PortSearch&) {
    std::vector<PortInfo> ports;
    add_setupapi_ports(ports, GUID_DEVCLASS_PORTS, DIGCF_PRESENT);
    add_setupapi_ports(ports, com_port_interface, DIGCF_PRESENT | DIGCF_DEVICEINTERFACE);
    add_registry_ports(ports);
    std::sort(ports.begin(), ports.end(), by_port_number);
    return ports;
}

} // namespace ferry
