// The POSIX serial device: open with clear errors, termios, modem lines, break, queues.
#include "serial/serial_device_posix.hpp"

#include <fcntl.h>
#include <linux/serial.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include <uv.h>

#include <ferry/error.hpp>

namespace ferry::detail {
namespace {

/// The termios constant for each standard rate; others go through termios2.
constexpr std::pair<std::uint32_t, speed_t> standard_rates[] = {
    {50, B50},           {75, B75},           {110, B110},         {134, B134},
    {150, B150},         {200, B200},         {300, B300},         {600, B600},
    {1200, B1200},       {1800, B1800},       {2400, B2400},       {4800, B4800},
    {9600, B9600},       {19200, B19200},     {38400, B38400},     {57600, B57600},
    {115200, B115200},   {230400, B230400},   {460800, B460800},   {500000, B500000},
    {576000, B576000},   {921600, B921600},   {1000000, B1000000}, {1152000, B1152000},
    {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000},
    {3500000, B3500000}, {4000000, B4000000},
};

std::error_code system_error_code(int error) noexcept {
    return uv_error(uv_translate_sys_error(error));
}

/// An Error for a failed system call on the port, with advice for the errors users meet.
[[noreturn]] void throw_errno(int error, const std::string& path, const std::string& doing) {
    switch (error) {
    case ENOENT:
        throw Error(system_error_code(error),
                    "no such serial port: " + path + " (is the device plugged in?)");
    case EACCES:
    case EPERM:
        throw Error(system_error_code(error),
                    "permission denied opening " + path +
                        ": add yourself to the dialout group (sudo usermod -aG dialout $USER, "
                        "then log in again)");
    case EBUSY:
    case EWOULDBLOCK:
        throw Error(system_error_code(EBUSY),
                    "port is busy: " + path + " is already open with exclusive access");
    case ENXIO:
    case ENODEV:
        throw Error(system_error_code(error),
                    "serial device not present: " + path + " (no hardware behind this node)");
    case ENOTTY:
    case EINVAL:
        throw Error(make_error_code(errc::not_supported),
                    doing + " on " + path + ": not supported by this device");
    default:
        throw Error(system_error_code(error),
                    doing + " on " + path + ": " + uv_strerror(uv_translate_sys_error(error)));
    }
}

[[noreturn]] void throw_no_modem_lines(const std::string& path, const std::string& doing) {
    throw Error(make_error_code(errc::not_supported),
                doing + " on " + path +
                    ": not supported by this device (it has no modem lines; a pseudo-terminal "
                    "never has)");
}

tcflag_t data_bits_flag(int bits) noexcept {
    switch (bits) {
    case 5:
        return CS5;
    case 6:
        return CS6;
    case 7:
        return CS7;
    default:
        return CS8;
    }
}

void set_low_latency(int fd, const std::string& path) {
    serial_struct serial{};
    if (ioctl(fd, TIOCGSERIAL, &serial) != 0) {
        throw_errno(errno, path, "low_latency");
    }
    serial.flags |= ASYNC_LOW_LATENCY;
    if (ioctl(fd, TIOCSSERIAL, &serial) != 0) {
        throw_errno(errno, path, "low_latency");
    }
}

void set_rs485(int fd, const std::string& path, const Rs485Options& rs485) {
    serial_rs485 settings{};
    settings.flags = SER_RS485_ENABLED;
    settings.flags |= rs485.rts_on_send ? SER_RS485_RTS_ON_SEND : 0;
    settings.flags |= rs485.rts_after_send ? SER_RS485_RTS_AFTER_SEND : 0;
    settings.flags |= rs485.receive_during_send ? SER_RS485_RX_DURING_TX : 0;
    settings.delay_rts_before_send = static_cast<__u32>(rs485.delay_before_send.count());
    settings.delay_rts_after_send = static_cast<__u32>(rs485.delay_after_send.count());
    if (ioctl(fd, TIOCSRS485, &settings) != 0) {
        const int error = errno;
        if (error == ENOTTY || error == EINVAL) {
            throw Error(make_error_code(errc::not_supported),
                        "rs485 on " + path + ": not supported by this device's driver");
        }
        throw_errno(error, path, "rs485");
    }
}

void apply_line_on_open(int fd, const std::string& path, int line, LineOnOpen state,
                        const char* name) {
    if (state == LineOnOpen::leave) {
        return;
    }
    int bits = line;
    if (ioctl(fd, state == LineOnOpen::set ? TIOCMBIS : TIOCMBIC, &bits) != 0) {
        if (errno == ENOTTY || errno == EINVAL) {
            throw_no_modem_lines(path, std::string(name) + " on open");
        }
        throw_errno(errno, path, std::string(name) + " on open");
    }
}

} // namespace

bool apply_to_termios(termios& settings, const SerialOptions& options) noexcept {
    cfmakeraw(&settings);
    settings.c_cflag |= CLOCAL | CREAD;
    settings.c_cflag &=
        ~static_cast<tcflag_t>(CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS | HUPCL);
    settings.c_cflag |= data_bits_flag(options.data_bits);
    switch (options.parity) {
    case Parity::none:
        break;
    case Parity::even:
        settings.c_cflag |= PARENB;
        break;
    case Parity::odd:
        settings.c_cflag |= PARENB | PARODD;
        break;
    case Parity::mark:
        settings.c_cflag |= PARENB | CMSPAR | PARODD;
        break;
    case Parity::space:
        settings.c_cflag |= PARENB | CMSPAR;
        break;
    }
    if (options.stop_bits != StopBits::one) {
        settings.c_cflag |= CSTOPB; // with 5 data bits the UART sends 1.5
    }
    settings.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY | INPCK | ISTRIP);
    if (options.parity != Parity::none) {
        settings.c_iflag |= INPCK;
    }
    if (options.flow_control == FlowControl::rts_cts) {
        settings.c_cflag |= CRTSCTS;
    } else if (options.flow_control == FlowControl::xon_xoff) {
        settings.c_iflag |= IXON | IXOFF;
    }
    if (options.hang_up_on_close) {
        settings.c_cflag |= HUPCL;
    }
    settings.c_cc[VMIN] = 0;
    settings.c_cc[VTIME] = 0;
    for (const auto& [rate, constant] : standard_rates) {
        if (rate == options.baud_rate) {
            cfsetispeed(&settings, constant);
            cfsetospeed(&settings, constant);
            return true;
        }
    }
    return false;
}

SerialOptions read_held_options(int fd, const std::string& path, const SerialOptions& asked) {
    termios settings{};
    if (tcgetattr(fd, &settings) != 0) {
        throw_errno(errno, path, "reading the port settings");
    }
    SerialOptions held = asked;
    switch (settings.c_cflag & CSIZE) {
    case CS5:
        held.data_bits = 5;
        break;
    case CS6:
        held.data_bits = 6;
        break;
    case CS7:
        held.data_bits = 7;
        break;
    default:
        held.data_bits = 8;
        break;
    }
    const bool odd = (settings.c_cflag & PARODD) != 0;
    if ((settings.c_cflag & PARENB) == 0) {
        held.parity = Parity::none;
    } else if ((settings.c_cflag & CMSPAR) != 0) {
        held.parity = odd ? Parity::mark : Parity::space;
    } else {
        held.parity = odd ? Parity::odd : Parity::even;
    }
    if ((settings.c_cflag & CSTOPB) == 0) {
        held.stop_bits = StopBits::one;
    } else {
        held.stop_bits = held.data_bits == 5 ? StopBits::one_and_half : StopBits::two;
    }
    if ((settings.c_cflag & CRTSCTS) != 0) {
        held.flow_control = FlowControl::rts_cts;
    } else if ((settings.c_iflag & (IXON | IXOFF)) == (IXON | IXOFF)) {
        held.flow_control = FlowControl::xon_xoff;
    } else {
        held.flow_control = FlowControl::none;
    }
    held.hang_up_on_close = (settings.c_cflag & HUPCL) != 0;
    if (const std::uint32_t rate = current_baud_rate(fd); rate != 0) {
        held.baud_rate = rate;
    }
    return held;
}

bool is_pseudo_terminal(int fd) noexcept {
    // UNIX 98 terminal ends are majors 136-143; a master is a descriptor of /dev/ptmx (5, 2).
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        return false;
    }
    const auto device_major = major(st.st_rdev);
    return (device_major >= 136 && device_major <= 143) ||
           (device_major == 5 && minor(st.st_rdev) == 2);
}

namespace {

/// The line settings of `asked` that `held` lacks, e.g. "parity even, 7 data bits".
std::string refused_settings(const SerialOptions& asked, const SerialOptions& held) {
    static constexpr const char* parity_names[] = {"none", "even", "odd", "mark", "space"};
    std::string out;
    const auto add = [&out](const std::string& what) { out += (out.empty() ? "" : ", ") + what; };
    if (held.data_bits != asked.data_bits) {
        add(std::to_string(asked.data_bits) + " data bits");
    }
    if (held.parity != asked.parity) {
        add(std::string("parity ") + parity_names[static_cast<int>(asked.parity)]);
    }
    if (held.stop_bits != asked.stop_bits) {
        add(std::string(asked.stop_bits == StopBits::one   ? "1"
                        : asked.stop_bits == StopBits::two ? "2"
                                                           : "1.5") +
            " stop bits");
    }
    if (held.flow_control != asked.flow_control) {
        add("flow control " + describe(asked).substr(describe(asked).find(' ') + 1));
    }
    if (held.hang_up_on_close != asked.hang_up_on_close) {
        add("hang_up_on_close");
    }
    return out;
}

} // namespace

SerialOptions configure_serial_device(int fd, const std::string& path,
                                      const SerialOptions& options) {
    if (options.flow_control == FlowControl::dsr_dtr) {
        // Linux's termios has no DSR/DTR handshake (CDTRDSR exists only on some BSDs).
        throw Error(make_error_code(errc::not_supported),
                    "invalid serial option flow_control: DSR/DTR flow control is not supported "
                    "on Linux (use rts_cts or xon_xoff)");
    }
    termios settings{};
    if (tcgetattr(fd, &settings) != 0) {
        throw_errno(errno, path, "reading the port settings");
    }
    const bool standard = apply_to_termios(settings, options);
    // tcsetattr succeeds when the driver takes any of the change; glibc then reports EINVAL
    // if it sees parity or data bits silently dropped (a pty does that). Either way, what the
    // device holds is read back below and compared with what was asked.
    if (tcsetattr(fd, TCSANOW, &settings) != 0 && errno != EINVAL) {
        throw_errno(errno, path, "applying " + describe(options));
    }
    if (!standard && set_custom_baud_rate(fd, options.baud_rate) != 0) {
        const int error = errno;
        throw Error(error == EINVAL ? make_error_code(errc::invalid_argument)
                                    : system_error_code(error),
                    "invalid serial option baud_rate: " + path + " refused " +
                        std::to_string(options.baud_rate) + " baud");
    }
    SerialOptions held = read_held_options(fd, path, options);
    if (const std::string refused = refused_settings(options, held); !refused.empty()) {
        throw Error(make_error_code(errc::not_supported),
                    path + " refused " + refused + ": it holds " + describe(held) +
                        " after applying " + describe(options) +
                        (is_pseudo_terminal(fd)
                             ? " (a pseudo-terminal always has 8 data bits and no parity)"
                             : ""));
    }
    return held;
}

int open_serial_device(const std::string& path, SerialOptions& options,
                       PreviousSettings* previous) {
    validate(options);
    const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        throw_errno(errno, path, "open");
    }
    try {
        if (!isatty(fd)) {
            throw Error(system_error_code(ENOTTY),
                        "not a serial port: " + path + " is not a terminal device");
        }
        if (options.exclusive) {
            // flock stops other cooperating openers (and root, whom TIOCEXCL does not stop);
            // TIOCEXCL stops everyone else from opening the tty at all.
            if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
                throw_errno(errno, path, "locking");
            }
            if (ioctl(fd, TIOCEXCL) != 0) {
                throw_errno(errno, path, "TIOCEXCL");
            }
        }
        if (previous != nullptr) {
            if (tcgetattr(fd, &previous->settings) != 0) {
                throw_errno(errno, path, "reading the settings to restore");
            }
            previous->baud_rate = current_baud_rate(fd);
        }
        options = configure_serial_device(fd, path, options);
        if (options.discard_input_on_open && tcflush(fd, TCIFLUSH) != 0) {
            throw_errno(errno, path, "discarding waiting input");
        }
        apply_line_on_open(fd, path, TIOCM_DTR, options.dtr, "dtr");
        apply_line_on_open(fd, path, TIOCM_RTS, options.rts, "rts");
        if (options.low_latency) {
            set_low_latency(fd, path);
        }
        if (options.rs485) {
            set_rs485(fd, path, *options.rs485);
        }
    } catch (...) {
        close_serial_device(fd, options.exclusive);
        throw;
    }
    return fd;
}

void restore_previous_settings(int fd, const PreviousSettings& previous) noexcept {
    if (tcsetattr(fd, TCSANOW, &previous.settings) == 0 && previous.baud_rate != 0 &&
        current_baud_rate(fd) != previous.baud_rate) {
        set_custom_baud_rate(fd, previous.baud_rate); // a rate termios has no constant for
    }
}

void close_serial_device(int fd, bool exclusive) noexcept {
    if (exclusive) {
        ioctl(fd, TIOCNXCL); // the tty may outlive this descriptor (a pty whose master stays)
    }
    ::close(fd); // also releases the flock
}

void set_modem_line(int fd, const std::string& path, int line, bool on) {
    int bits = line;
    if (ioctl(fd, on ? TIOCMBIS : TIOCMBIC, &bits) != 0) {
        const char* name = line == TIOCM_RTS ? "set_rts" : "set_dtr";
        if (errno == ENOTTY || errno == EINVAL) {
            throw_no_modem_lines(path, name);
        }
        throw_errno(errno, path, name);
    }
}

ModemStatus read_modem_status(int fd, const std::string& path) {
    int bits = 0;
    if (ioctl(fd, TIOCMGET, &bits) != 0) {
        if (errno == ENOTTY || errno == EINVAL) {
            throw_no_modem_lines(path, "modem_status");
        }
        throw_errno(errno, path, "modem_status");
    }
    return {(bits & TIOCM_CTS) != 0, (bits & TIOCM_DSR) != 0, (bits & TIOCM_RI) != 0,
            (bits & TIOCM_CD) != 0};
}

int wait_modem_lines(int fd, const ModemStatus& watch) noexcept {
    const int mask = (watch.cts ? TIOCM_CTS : 0) | (watch.dsr ? TIOCM_DSR : 0) |
                     (watch.ri ? TIOCM_RI : 0) | (watch.cd ? TIOCM_CD : 0);
    return ioctl(fd, TIOCMIWAIT, mask) == 0 ? 0 : errno;
}

void set_break(int fd, const std::string& path, bool on) {
    if (ioctl(fd, on ? TIOCSBRK : TIOCCBRK) != 0) {
        throw_errno(errno, path, "send_break");
    }
}

void purge_device(int fd, const std::string& path, Purge which) {
    const int queue = which == Purge::input    ? TCIFLUSH
                      : which == Purge::output ? TCOFLUSH
                                               : TCIOFLUSH;
    if (tcflush(fd, queue) != 0) {
        throw_errno(errno, path, "purge");
    }
}

std::size_t device_input_waiting(int fd, const std::string& path) {
    int count = 0;
    if (ioctl(fd, TIOCINQ, &count) != 0) {
        throw_errno(errno, path, "input_waiting");
    }
    return static_cast<std::size_t>(count);
}

std::size_t device_output_waiting(int fd, const std::string& path) {
    int count = 0;
    if (ioctl(fd, TIOCOUTQ, &count) != 0) {
        throw_errno(errno, path, "output_waiting");
    }
    return static_cast<std::size_t>(count);
}

} // namespace ferry::detail
