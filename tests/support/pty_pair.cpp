// PtyPair: openpty for the serial tests.
#include "pty_pair.hpp"

#include <fcntl.h>
#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include <stdexcept>

namespace ferry::test {

PtyPair::PtyPair() {
    int slave = -1;
    char name[128];
    if (openpty(&master_, &slave, name, nullptr, nullptr) != 0) {
        throw std::runtime_error("openpty failed");
    }
    termios raw{};
    tcgetattr(slave, &raw);
    cfmakeraw(&raw);
    tcsetattr(slave, TCSANOW, &raw);
    ::close(slave);
    path_ = name;
}

PtyPair::~PtyPair() {
    close_master();
}

void PtyPair::close_master() {
    if (master_ >= 0) {
        ::close(master_);
        master_ = -1;
    }
}

void PtyPair::set_master_nonblocking(bool on) {
    const int flags = fcntl(master_, F_GETFL);
    fcntl(master_, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
}

} // namespace ferry::test
