// kernel_baud_rate: termios2 lives in <asm/termbits.h>, which cannot share a file with
// glibc's <termios.h>.
#include <asm/ioctls.h>
#include <asm/termbits.h>

#include <cstdint>

extern "C" int ioctl(int fd, unsigned long request, ...);

namespace ferry::test {

std::uint32_t kernel_baud_rate(int fd) {
    struct termios2 settings {};
    if (ioctl(fd, TCGETS2, &settings) != 0) {
        return 0;
    }
    return settings.c_ospeed;
}

} // namespace ferry::test
