#pragma once
/// PortWatcher: tells when serial device nodes appear and vanish (a dongle plugged in or out).

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ferry {

class Loop;

/// Whether a device node appeared or vanished.
enum class PortChangeKind { added, removed };

/// One device node appearing or vanishing.
struct PortChange {
    /// What happened.
    PortChangeKind kind;
    /// The node's path: e.g. /dev/ttyUSB0, or /dev/serial/by-id/usb-FTDI_..._A50285BI-if00-port0.
    std::string device;
};

/// What a PortWatcher watches.
struct PortWatchOptions {
    /// The device directory (tests point it at a temporary directory).
    std::string dev_root = "/dev";
    /// Which names in dev_root are serial ports (ECMAScript regex matched against the whole
    /// name); the default follows pyserial's list of Linux serial device names.
    std::string name_pattern =
        R"((ttyS|ttyUSB|ttyXRUSB|ttyACM|ttyAMA|ttyAP|ttyGS|ttymxc|ttySAC|ttyTHS|ttyO|rfcomm)\d+)";
    /// Also report the stable links under dev_root/serial/by-id (any name), followed from the
    /// moment that directory exists: udev creates it with the first USB serial device.
    bool watch_by_id = true;
};

/// Watches a device directory with libuv file-system events (inotify on Linux): no thread and
/// no polling; it wakes only when the directory changes. Only entries that resolve to a
/// character device count, so a regular file named ttyUSB0 is ignored. On Windows it watches
/// the registry's HARDWARE\DEVICEMAP\SERIALCOMM map, where every serial driver lists its ports
/// while they exist, and reports COM port names ("COM7", as list_ports() gives them); the
/// options are not used there. Loop thread only. Dropping the last reference, stop() or
/// destroying the loop stops it.
class PortWatcher {
public:
    /// Receives each change, on the loop thread. It may call stop().
    using Callback = std::function<void(const PortChange&)>;

    virtual ~PortWatcher() = default;
    /// The serial device nodes present now (full paths, sorted).
    virtual std::vector<std::string> devices() const = 0;
    /// Stops watching; no callback runs afterwards. Safe to call twice.
    virtual void stop() noexcept = 0;
    /// True until stop() (or loop destruction).
    virtual bool is_watching() const noexcept = 0;
};

/// Starts watching. `changed` sees every node that appears or vanishes from now on (removals
/// before additions when one event shows both); devices() gives the ones already present.
/// Throws ferry::Error when dev_root cannot be watched or name_pattern is not a valid regex.
std::shared_ptr<PortWatcher> watch_ports(Loop& loop, PortWatcher::Callback changed,
                                         PortWatchOptions options = {});

} // namespace ferry
