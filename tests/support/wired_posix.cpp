// Wired on POSIX: socketpairs and pseudo-terminals.
#include "wired.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <gtest/gtest.h>

#include "pty_pair.hpp"

namespace ferry::test {
namespace {

/// connect_stream_fd, or null (and a test failure, `fd` closed) if it fails.
std::shared_ptr<Transport> adopt(Loop& loop, ProtocolFactory factory, int fd) {
    auto result = connect_stream_fd(loop, std::move(factory), fd);
    EXPECT_TRUE(result.ok()) << result.message();
    if (!result.ok()) {
        ::close(fd);
        return nullptr;
    }
    return result.value();
}

} // namespace

bool socket_pair(NativeHandle& mine, Peer& theirs, int buffer_size) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        ADD_FAILURE() << "socketpair failed";
        return false;
    }
    if (buffer_size > 0) {
        ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &buffer_size, sizeof buffer_size);
        ::setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &buffer_size, sizeof buffer_size);
    }
    ::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    mine = fds[0];
    theirs = Peer(Peer::Kind::socket, fds[1]);
    return true;
}

Wired wire_socket(Loop& loop, ProtocolFactory factory, int buffer_size) {
    Wired wired;
    NativeHandle mine{};
    if (socket_pair(mine, wired.peer, buffer_size)) {
        wired.transport = adopt(loop, std::move(factory), mine);
    }
    return wired;
}

Wired wire_tcp(Loop& loop, ProtocolFactory factory, int buffer_size) {
    Wired wired;
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (buffer_size > 0) { // before connecting: no autotuning to megabytes
        ::setsockopt(client, SOL_SOCKET, SO_RCVBUF, &buffer_size, sizeof buffer_size);
        ::setsockopt(listener, SOL_SOCKET, SO_SNDBUF, &buffer_size, sizeof buffer_size);
    }
    int accepted = -1;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
        ::listen(listener, 1) == 0 &&
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
        ::connect(client, reinterpret_cast<sockaddr*>(&address), length) == 0) {
        accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC); // connected: at once
    }
    ::close(listener);
    if (accepted < 0) {
        ADD_FAILURE() << "cannot connect over loopback TCP";
        ::close(client);
        return wired;
    }
    ::fcntl(client, F_SETFL, ::fcntl(client, F_GETFL) | O_NONBLOCK);
    wired.peer = Peer(Peer::Kind::socket, client);
    wired.transport = adopt(loop, std::move(factory), accepted);
    return wired;
}

std::pair<std::shared_ptr<Transport>, std::shared_ptr<Transport>>
wire_transports(Loop& loop, ProtocolFactory first, ProtocolFactory second) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        ADD_FAILURE() << "socketpair failed";
        return {};
    }
    return {adopt(loop, std::move(first), fds[0]), adopt(loop, std::move(second), fds[1])};
}

void set_reset_on_close(NativeHandle handle) {
    const linger reset{1, 0};
    ::setsockopt(handle, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
}

const std::size_t serial_bulk_bytes = 64u << 20;

const char* const missing_serial_port = "/dev/ferry-no-such-port";

std::string SimulatedDevice::unavailable() {
    return {};
}

std::string SimulatedDevice::coupled_relay_reason() {
    return {}; // the test holds the pty's master itself
}

SimulatedDevice::SimulatedDevice() {
    PtyPair pty;
    pty.set_master_nonblocking(true);
    path_ = pty.path();
    // A copy: the pty's own closes with it. Closing the copy unplugs the device.
    peer_ = Peer(Peer::Kind::fd, ::fcntl(pty.master(), F_DUPFD_CLOEXEC, 0));
}

std::string local_socket_name(const std::string& tag) {
    static std::atomic<int> counter{0};
    return (std::filesystem::temp_directory_path() /
            ("ferry-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
             ".sock"))
        .string();
}

} // namespace ferry::test
