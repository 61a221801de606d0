// list_ports and grep_ports on fixture trees laid out as the kernel lays out sysfs for an
// FTDI and a CP210x dongle (usb-serial), a CDC-ACM board, a built-in PnP UART, a serial8250
// placeholder and a virtual terminal.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <ferry/error.hpp>
#include <ferry/serial_ports.hpp>

namespace ferry {
namespace {

namespace fs = std::filesystem;

/// A temporary /sys + /dev pair, removed on destruction.
class FixtureTree {
public:
    FixtureTree() {
        root_ = fs::temp_directory_path() /
                ("ferry-ports-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
        fs::create_directories(root_ / "sys/class/tty");
        fs::create_directories(root_ / "dev/serial/by-id");
        for (const char* bus : {"usb-serial", "usb", "pnp", "platform"}) {
            fs::create_directories(root_ / "sys/bus" / bus);
        }
    }
    ~FixtureTree() {
        std::error_code ignored;
        fs::remove_all(root_, ignored);
    }
    PortSearch search() const { return {(root_ / "sys").string(), (root_ / "dev").string()}; }
    fs::path sys() const { return root_ / "sys"; }
    fs::path dev() const { return root_ / "dev"; }

    /// Writes a sysfs attribute (with the kernel's trailing newline).
    static void attribute(const fs::path& dir, const std::string& name, const std::string& value) {
        fs::create_directories(dir);
        std::ofstream(dir / name) << value << '\n';
    }
    /// A symlink at `at` pointing to `target` (made relative, as sysfs links are).
    static void link(const fs::path& at, const fs::path& target) {
        fs::create_directories(at.parent_path());
        fs::create_directory_symlink(fs::relative(target, at.parent_path()), at);
    }
    /// A tty whose class entry and `device` link are as the kernel makes them.
    void tty(const std::string& name, const fs::path& device_dir, const char* subsystem) {
        const fs::path tty_dir = device_dir / "tty" / name;
        fs::create_directories(tty_dir);
        if (subsystem != nullptr) {
            link(device_dir / "subsystem", sys() / "bus" / subsystem);
            link(tty_dir / "device", device_dir);
        }
        link(sys() / "class/tty" / name, tty_dir);
        std::ofstream(dev() / name).put('\0');
    }
    /// A USB device with one interface; returns the interface directory.
    fs::path usb_device(const std::string& bus_path, const std::string& vid, const std::string& pid,
                        const std::string& serial, const std::string& manufacturer,
                        const std::string& product) {
        const fs::path device = sys() / "devices/pci0000:00/0000:00:14.0/usb1" / bus_path;
        attribute(device, "idVendor", vid);
        attribute(device, "idProduct", pid);
        if (!serial.empty()) {
            attribute(device, "serial", serial);
        }
        attribute(device, "manufacturer", manufacturer);
        attribute(device, "product", product);
        attribute(device, "bNumInterfaces", " 1");
        const fs::path interface = device / (device.filename().string() + ":1.0");
        fs::create_directories(interface);
        return interface;
    }

private:
    static inline int counter_ = 0;
    fs::path root_;
};

/// The machine the fixtures describe.
void build_typical_machine(FixtureTree& tree) {
    const fs::path ftdi =
        tree.usb_device("1-1/1-1.2", "0403", "6001", "A50285BI", "FTDI", "FT232R USB UART");
    tree.tty("ttyUSB0", ftdi / "ttyUSB0", "usb-serial");
    const fs::path cp210x = tree.usb_device("1-1/1-1.3", "10c4", "ea60", "0001", "Silicon Labs",
                                            "CP2102 USB to UART Bridge Controller");
    tree.tty("ttyUSB1", cp210x / "ttyUSB1", "usb-serial");
    const fs::path pico =
        tree.usb_device("1-2", "2e8a", "000a", "E6605838", "Raspberry Pi", "Pico");
    FixtureTree::attribute(pico, "interface", "Board CDC");
    tree.tty("ttyACM0", pico, "usb");
    const fs::path uart = tree.sys() / "devices/pnp0/00:05";
    FixtureTree::attribute(uart, "id", "PNP0501");
    tree.tty("ttyS0", uart, "pnp");
    tree.tty("ttyS1", tree.sys() / "devices/platform/serial8250", "platform");
    tree.tty("tty0", tree.sys() / "devices/virtual/tty", nullptr);
    FixtureTree::link(tree.dev() / "serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0",
                      tree.dev() / "ttyUSB0");
    FixtureTree::link(tree.dev() / "serial/by-id/usb-Raspberry_Pi_Pico_E6605838-if00",
                      tree.dev() / "ttyACM0");
}

TEST(ListPortsTest, FindsHardwarePortsWithTheirUsbIdentity) {
    FixtureTree tree;
    build_typical_machine(tree);
    const std::vector<PortInfo> ports = list_ports(tree.search());
    ASSERT_EQ(ports.size(), 4u); // not the serial8250 placeholder, not the virtual terminal
    const std::string dev = tree.dev().string();

    const PortInfo& acm = ports[0];
    EXPECT_EQ(acm.device, dev + "/ttyACM0");
    EXPECT_EQ(acm.name, "ttyACM0");
    EXPECT_EQ(acm.subsystem, "usb");
    EXPECT_EQ(acm.vid, 0x2e8a);
    EXPECT_EQ(acm.pid, 0x000a);
    EXPECT_EQ(acm.description, "Pico - Board CDC");
    EXPECT_EQ(acm.usb_interface, "Board CDC");
    EXPECT_EQ(acm.hwid, "USB VID:PID=2E8A:000A SER=E6605838 LOCATION=1-2:1.0");
    ASSERT_EQ(acm.by_id.size(), 1u);
    EXPECT_EQ(acm.by_id[0], dev + "/serial/by-id/usb-Raspberry_Pi_Pico_E6605838-if00");

    const PortInfo& uart = ports[1];
    EXPECT_EQ(uart.name, "ttyS0");
    EXPECT_EQ(uart.subsystem, "pnp");
    EXPECT_EQ(uart.description, "ttyS0");
    EXPECT_EQ(uart.hwid, "PNP0501");
    EXPECT_FALSE(uart.vid);
    EXPECT_TRUE(uart.by_id.empty());

    const PortInfo& ftdi = ports[2];
    EXPECT_EQ(ftdi.name, "ttyUSB0");
    EXPECT_EQ(ftdi.subsystem, "usb-serial");
    EXPECT_EQ(ftdi.vid, 0x0403);
    EXPECT_EQ(ftdi.pid, 0x6001);
    EXPECT_EQ(ftdi.serial_number, "A50285BI");
    EXPECT_EQ(ftdi.manufacturer, "FTDI");
    EXPECT_EQ(ftdi.product, "FT232R USB UART");
    EXPECT_EQ(ftdi.description, "FT232R USB UART");
    EXPECT_EQ(ftdi.location, "1-1.2:1.0");
    EXPECT_EQ(ftdi.hwid, "USB VID:PID=0403:6001 SER=A50285BI LOCATION=1-1.2:1.0");
    ASSERT_EQ(ftdi.by_id.size(), 1u);

    const PortInfo& cp210x = ports[3];
    EXPECT_EQ(cp210x.name, "ttyUSB1");
    EXPECT_EQ(cp210x.vid, 0x10c4);
    EXPECT_EQ(cp210x.pid, 0xea60);
    EXPECT_EQ(cp210x.manufacturer, "Silicon Labs");
    EXPECT_EQ(cp210x.description, "CP2102 USB to UART Bridge Controller");
    EXPECT_TRUE(cp210x.by_id.empty());
}

TEST(ListPortsTest, GrepMatchesDeviceDescriptionOrHwidIgnoringCase) {
    FixtureTree tree;
    build_typical_machine(tree);
    auto names = [](const std::vector<PortInfo>& ports) {
        std::vector<std::string> out;
        for (const PortInfo& p : ports) {
            out.push_back(p.name);
        }
        return out;
    };
    EXPECT_EQ(names(grep_ports("0403:6001", tree.search())), std::vector<std::string>{"ttyUSB0"});
    EXPECT_EQ(names(grep_ports("cp210|ft232", tree.search())),
              (std::vector<std::string>{"ttyUSB0", "ttyUSB1"}));
    EXPECT_EQ(names(grep_ports("ttyACM", tree.search())), std::vector<std::string>{"ttyACM0"});
    EXPECT_EQ(names(grep_ports("pnp0501", tree.search())), std::vector<std::string>{"ttyS0"});
    EXPECT_TRUE(grep_ports("nothing-like-this", tree.search()).empty());
    EXPECT_THROW(grep_ports("([", tree.search()), Error);
}

TEST(ListPortsTest, AMissingOrEmptySysfsGivesNoPorts) {
    FixtureTree tree;
    EXPECT_TRUE(list_ports(tree.search()).empty());
    EXPECT_TRUE(list_ports({"/nonexistent-sysfs", "/nonexistent-dev"}).empty());
}

TEST(ListPortsTest, TheRealSystemCanBeListed) {
    // Whatever this machine has, listing must not throw and every entry must name a device.
    for (const PortInfo& port : list_ports()) {
        EXPECT_FALSE(port.device.empty());
        EXPECT_FALSE(port.description.empty());
    }
}

} // namespace
} // namespace ferry
