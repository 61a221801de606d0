// create_pty: a pseudo-terminal whose device end (the master) becomes a SerialTransport and
// whose terminal end is left for another program to open as a serial port.
#include <ferry/pty.hpp>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <ferry/error.hpp>
#include <ferry/log.hpp>

#include "serial/serial_device_posix.hpp"
#include "serial/serial_native.hpp"

namespace ferry {
namespace {

[[noreturn]] void throw_pty_error(int error, const std::string& what) {
    throw Error(std::error_code(error, std::generic_category()),
                "pty: " + what + ": " + std::strerror(error));
}

/// What the transport keeps besides the master: the terminal end, held open so that a
/// program closing it does not hang up the master (reads would fail with EIO until it is
/// opened again), and the link to remove.
class PtyHold final : public detail::DescriptorCompanion {
public:
    PtyHold(int terminal, std::string link) : terminal_(terminal), link_(std::move(link)) {}
    ~PtyHold() override {
        if (!link_.empty()) {
            ::unlink(link_.c_str());
        }
        ::close(terminal_);
    }
    PtyHold(const PtyHold&) = delete;
    PtyHold& operator=(const PtyHold&) = delete;
    std::size_t unread_by_peer() const noexcept override {
        int unread = 0;
        return ::ioctl(terminal_, FIONREAD, &unread) == 0 && unread > 0
                   ? static_cast<std::size_t>(unread)
                   : 0;
    }

private:
    int terminal_;
    std::string link_;
};

/// Points `link` at `target`, replacing a symlink already there (a stale one from a previous
/// run) but never another kind of file.
void make_link(const std::string& link, const std::string& target) {
    struct stat existing {};
    if (::lstat(link.c_str(), &existing) == 0) {
        if (!S_ISLNK(existing.st_mode)) {
            throw Error(make_error_code(errc::invalid_argument),
                        "pty: cannot make the link " + link +
                            ": a file that is not a symlink is in the way");
        }
        ::unlink(link.c_str());
    }
    if (::symlink(target.c_str(), link.c_str()) != 0) {
        throw_pty_error(errno, "cannot make the link " + link + " -> " + target);
    }
}

/// Opens a new master; returns it and the terminal's name.
std::pair<int, std::string> open_master() {
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (master < 0) {
        throw_pty_error(errno, "cannot open a pseudo-terminal (posix_openpt)");
    }
    char name[128];
    if (::grantpt(master) != 0 || ::unlockpt(master) != 0 ||
        ::ptsname_r(master, name, sizeof name) != 0) {
        const int error = errno;
        ::close(master);
        throw_pty_error(error, "cannot unlock the new pseudo-terminal");
    }
    return {master, name};
}

} // namespace

Result<std::shared_ptr<SerialTransport>> create_pty(Loop& loop, ProtocolFactory factory,
                                                    PtyOptions options) {
    std::shared_ptr<detail::PosixSerialTransport> transport;
    try {
        if (detail::LoopAccess::is_shutting_down(loop)) {
            throw Error(make_error_code(errc::loop_closed), "the loop is closing");
        }
        SerialOptions serial = options.serial;
        serial.exclusive = false; // other programs are meant to open the terminal end
        validate(serial);
        auto [master, name] = open_master();
        int terminal = -1;
        try {
            terminal = ::open(name.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
            if (terminal < 0) {
                throw_pty_error(errno, "cannot open " + name);
            }
            // The master and terminal share one termios: raw mode and the rate, set once.
            serial = detail::configure_serial_device(master, name, serial);
            if (!options.link.empty()) {
                make_link(options.link, name);
            }
        } catch (...) {
            if (terminal >= 0) {
                ::close(terminal);
            }
            ::close(master);
            throw;
        }
        transport = detail::PosixSerialTransport::adopt_descriptor(
            loop, name, serial, master, std::make_unique<PtyHold>(terminal, options.link));
        log().debug("pty {} ready{}", name,
                    options.link.empty() ? std::string() : " (link " + options.link + ")");
    } catch (const Error&) {
        return std::current_exception();
    }
    return detail::start_serial(std::move(transport), factory);
}

} // namespace ferry
