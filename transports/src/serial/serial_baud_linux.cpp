// Any baud rate on Linux: termios2 with BOTHER. Kept in its own file because the kernel's
// <asm/termbits.h> (which has termios2) cannot be included together with glibc's <termios.h>.
#include <asm/ioctls.h>
#include <asm/termbits.h>

#include <cstdint>

// glibc's <sys/ioctl.h> pulls in definitions that clash with <asm/termbits.h>.
extern "C" int ioctl(int fd, unsigned long request, ...);

namespace ferry::detail {

// Declared in serial_device_posix.hpp, which includes <termios.h> and so cannot be included here.
int set_custom_baud_rate(int fd, std::uint32_t baud_rate) noexcept;
std::uint32_t current_baud_rate(int fd) noexcept;

int set_custom_baud_rate(int fd, std::uint32_t baud_rate) noexcept {
    struct termios2 settings {};
    if (ioctl(fd, TCGETS2, &settings) != 0) {
        return -1;
    }
    settings.c_cflag &= ~static_cast<tcflag_t>(CBAUD);
    settings.c_cflag |= BOTHER;
    settings.c_ispeed = baud_rate;
    settings.c_ospeed = baud_rate;
    // Input speed follows output speed (CIBAUD cleared), as cfsetspeed does.
    settings.c_cflag &= ~static_cast<tcflag_t>(CBAUD << IBSHIFT);
    return ioctl(fd, TCSETS2, &settings);
}

std::uint32_t current_baud_rate(int fd) noexcept {
    struct termios2 settings {};
    if (ioctl(fd, TCGETS2, &settings) != 0) {
        return 0;
    }
    return settings.c_ospeed;
}

} // namespace ferry::detail
