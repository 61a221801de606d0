#pragma once
// A pseudo-terminal pair standing in for a serial device: ferry opens the slave by its path,
// the test plays the device on the master.

#include <cstdint>
#include <string>

namespace ferry::test {

/// openpty() with the slave in raw mode and its own descriptor closed (ferry opens it by
/// path, as it would /dev/ttyUSB0). The master is closed on destruction unless already.
class PtyPair {
public:
    PtyPair();
    ~PtyPair();
    PtyPair(const PtyPair&) = delete;
    PtyPair& operator=(const PtyPair&) = delete;

    /// The device side: read what ferry wrote, write what ferry should read.
    int master() const noexcept { return master_; }
    /// The slave's path, e.g. /dev/pts/3.
    const std::string& path() const noexcept { return path_; }
    /// Closes the master: to ferry, the device was unplugged.
    void close_master();
    /// Sets O_NONBLOCK on the master.
    void set_master_nonblocking(bool on);

private:
    int master_ = -1;
    std::string path_;
};

/// The output baud rate of the tty behind `fd` as the kernel stores it (termios2 c_ospeed).
std::uint32_t kernel_baud_rate(int fd);

} // namespace ferry::test
