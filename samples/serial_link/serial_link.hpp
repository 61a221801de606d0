#pragma once
// SerialLink: two serial ports joined to each other (the two-Arduino bridge), with flow
// control end to end and each side reopened when it comes back.

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <ferry/loop.hpp>
#include <ferry/port_watcher.hpp>
#include <ferry/reconnect.hpp>
#include <ferry/serial.hpp>

namespace sample {

/// One end of the link.
struct LinkEnd {
    /// The port's path.
    std::string port;
    /// Its settings (the two ends may differ: the link converts baud rates).
    ferry::SerialOptions options;
};

/// Bytes read from each port are written to the other. When a port's write buffer passes its
/// high-water mark, the other port stops being read (the bytes wait in its driver, and with
/// hardware flow control in the sending device) until it drains. While one port is away
/// (unplugged), the other is not read at all, so nothing is read only to be dropped; each port
/// is reopened the moment it comes back (a PortWatcher), or with backoff. An error that cannot
/// clear (not a serial port, a refused setting) stops the link: `failed` says why. Loop thread
/// only.
class SerialLink {
public:
    /// Reports a line about the link (opened, lost, waiting).
    using Status = std::function<void(const std::string&)>;

    SerialLink(ferry::Loop& loop, LinkEnd a, LinkEnd b, Status status);
    /// Called once if a port fails in a way retrying cannot fix; the link has stopped.
    Status failed;
    ~SerialLink();

    /// Opens both ports (and keeps reopening them).
    void start();
    /// Closes both ports, flushing what is queued.
    void stop();
    /// Bytes carried from side `from` (0 = a, 1 = b) to the other.
    std::size_t bytes_carried(int from) const { return sides_[from].carried; }
    /// True while side `i`'s port is open.
    bool connected(int i) const { return sides_[i].transport != nullptr; }

private:
    class SideProtocol;
    struct Side {
        LinkEnd end;
        std::shared_ptr<ferry::Reconnector> reconnector;
        std::shared_ptr<ferry::PortWatcher> watcher;
        ferry::Transport* transport = nullptr;
        std::size_t carried = 0;
    };

    void made(int side, ferry::Transport& transport);
    void received(int side, ferry::ByteView data);
    void lost(int side, std::error_code error);
    void peer_full(int side, bool full);

    ferry::Loop& loop_;
    Status status_;
    std::array<Side, 2> sides_;
    /// Expires with the link; the ports' protocols check it.
    std::shared_ptr<void> alive_ = std::make_shared<int>(0);
};

} // namespace sample
