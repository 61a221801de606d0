// Wired on Windows: connected SOCKET pairs over loopback, and the COM port pair.
#include "wired.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "windows_ports.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

/// Two connected loopback TCP sockets, the second non-blocking (Windows has no socketpair);
/// {INVALID_SOCKET, INVALID_SOCKET} and a test failure if they cannot be made.
std::pair<SOCKET, SOCKET> loopback_sockets(int buffer_size) {
    const SOCKET listener = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    const SOCKET mine = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int length = sizeof address;
    if (buffer_size > 0) {
        // Before connecting, so that the window is offered at that size.
        ::setsockopt(mine, SOL_SOCKET, SO_SNDBUF, reinterpret_cast<const char*>(&buffer_size),
                     sizeof buffer_size);
        ::setsockopt(listener, SOL_SOCKET, SO_RCVBUF, reinterpret_cast<const char*>(&buffer_size),
                     sizeof buffer_size);
    }
    SOCKET theirs = INVALID_SOCKET;
    if (listener != INVALID_SOCKET && mine != INVALID_SOCKET &&
        ::bind(listener, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
        ::listen(listener, 1) == 0 &&
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
        ::connect(mine, reinterpret_cast<sockaddr*>(&address), length) == 0) {
        theirs = ::accept(listener, nullptr, nullptr); // connected already: returns at once
    }
    ::closesocket(listener);
    u_long nonblocking = 1;
    if (theirs == INVALID_SOCKET || ::ioctlsocket(theirs, FIONBIO, &nonblocking) != 0) {
        ADD_FAILURE() << "cannot connect two sockets over loopback: " << WSAGetLastError();
        ::closesocket(mine);
        ::closesocket(theirs);
        return {INVALID_SOCKET, INVALID_SOCKET};
    }
    return {mine, theirs};
}

/// connect_stream_fd on a connected socket, or null (and a test failure, the socket closed).
std::shared_ptr<Transport> adopt(Loop& loop, ProtocolFactory factory, SOCKET socket) {
    auto result = connect_stream_fd(loop, std::move(factory), reinterpret_cast<HANDLE>(socket));
    EXPECT_TRUE(result.ok()) << result.message();
    if (!result.ok()) {
        ::closesocket(socket);
        return nullptr;
    }
    return result.value();
}

} // namespace

bool socket_pair(NativeHandle& mine, Peer& theirs, int buffer_size) {
    const auto [one, other] = loopback_sockets(buffer_size);
    if (one == INVALID_SOCKET) {
        return false;
    }
    mine = reinterpret_cast<NativeHandle>(one);
    theirs = Peer(Peer::Kind::socket, static_cast<std::intptr_t>(other));
    return true;
}

Wired wire_socket(Loop& loop, ProtocolFactory factory, int buffer_size) {
    Wired wired;
    NativeHandle mine{};
    if (socket_pair(mine, wired.peer, buffer_size)) {
        wired.transport = adopt(loop, std::move(factory), reinterpret_cast<SOCKET>(mine));
    }
    return wired;
}

Wired wire_tcp(Loop& loop, ProtocolFactory factory, int buffer_size) {
    return wire_socket(loop, std::move(factory), buffer_size); // TCP already
}

std::pair<std::shared_ptr<Transport>, std::shared_ptr<Transport>>
wire_transports(Loop& loop, ProtocolFactory first, ProtocolFactory second) {
    const auto [one, other] = loopback_sockets(0);
    if (one == INVALID_SOCKET) {
        return {};
    }
    return {adopt(loop, std::move(first), one), adopt(loop, std::move(second), other)};
}

void set_reset_on_close(NativeHandle handle) {
    const linger reset{1, 0};
    ::setsockopt(reinterpret_cast<SOCKET>(handle), SOL_SOCKET, SO_LINGER,
                 reinterpret_cast<const char*>(&reset), sizeof reset);
}

const std::size_t serial_bulk_bytes = 8u << 20;

const char* const missing_serial_port = "COM249";

std::string SimulatedDevice::unavailable() {
    return no_com_pair_reason();
}

std::string SimulatedDevice::coupled_relay_reason() {
    if (running_under_wine()) {
        return "the Wine COM pair is joined by socat, which stops relaying both ways when one "
               "way is full: a device that reads only after writing everything deadlocks socat "
               "itself";
    }
    return {};
}

SimulatedDevice::SimulatedDevice() {
    const auto [mine, theirs] = com_pair();
    path_ = mine;
    const HANDLE device = open_raw_com(theirs, RawReads::return_at_once);
    if (device == INVALID_HANDLE_VALUE) {
        ADD_FAILURE() << "cannot open " << theirs << ": " << GetLastError();
        return;
    }
    peer_ = Peer(Peer::Kind::com, reinterpret_cast<std::intptr_t>(device));
    // Bytes an earlier test left in the pair (in the ptys or in socat) would reach this
    // test: read both ends until they stay quiet for 30 ms.
    const HANDLE own = open_raw_com(mine, RawReads::return_at_once);
    if (own == INVALID_HANDLE_VALUE) {
        ADD_FAILURE() << "cannot open " << mine << ": " << GetLastError();
        return;
    }
    Peer own_end(Peer::Kind::com, reinterpret_cast<std::intptr_t>(own));
    char buffer[4096];
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    auto quiet_since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - quiet_since < 30ms &&
           std::chrono::steady_clock::now() < deadline) {
        if (own_end.read_some(buffer, sizeof buffer) > 0 ||
            peer_.read_some(buffer, sizeof buffer) > 0) {
            quiet_since = std::chrono::steady_clock::now();
        }
        std::this_thread::sleep_for(1ms);
    }
}

std::string local_socket_name(const std::string& tag) {
    static std::atomic<int> counter{0};
    return "\\\\.\\pipe\\ferry-" + tag + "-" + std::to_string(GetCurrentProcessId()) + "-" +
           std::to_string(++counter);
}

} // namespace ferry::test
