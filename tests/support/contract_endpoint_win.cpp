// The contract suite's endpoints on Windows: TCP over loopback, a named pipe, and a COM port
// whose other end is the second port of a null-modem pair (under Wine: two ptys joined by
// socat, see tests/windows/run_under_wine.sh).
#include "contract_endpoint.hpp"

#include <string>

#include <gtest/gtest.h>

#include "test_support.hpp"
#include "windows_ports.hpp"
#include "wired.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

/// TCP over loopback: ferry's create_connection against a raw listening socket.
class TcpEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        const SOCKET listener = ::socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int length = sizeof address;
        u_long nonblocking = 1;
        if (listener == INVALID_SOCKET ||
            ::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            ::listen(listener, 1) != 0 ||
            ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
            ::ioctlsocket(listener, FIONBIO, &nonblocking) != 0) {
            ADD_FAILURE() << "cannot listen on loopback: " << WSAGetLastError();
            ::closesocket(listener);
            return nullptr;
        }
        auto transport = await_transport(loop, [&](TransportCallback done) {
            create_connection(loop, factory, "127.0.0.1", ntohs(address.sin_port), {}, done);
        });
        SOCKET accepted = INVALID_SOCKET;
        run_until(
            loop,
            [&] {
                if (accepted == INVALID_SOCKET) { // run_until asks once more after success
                    accepted = ::accept(listener, nullptr, nullptr);
                }
                return accepted != INVALID_SOCKET;
            },
            10s);
        ::closesocket(listener);
        if (accepted != INVALID_SOCKET) {
            ::ioctlsocket(accepted, FIONBIO, &nonblocking);
            peer_ = Peer(Peer::Kind::socket, static_cast<std::intptr_t>(accepted));
        }
        return transport;
    }
};

/// A named pipe: create_unix_connection (libuv's pipe is a named pipe on Windows) against a
/// pipe the test creates and reads synchronously.
class NamedPipeEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        const std::string name = local_socket_name("contract");
        const HANDLE server = CreateNamedPipeA(name.c_str(), PIPE_ACCESS_DUPLEX,
                                               PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1,
                                               1 << 20, 1 << 20, 0, nullptr);
        if (server == INVALID_HANDLE_VALUE) {
            ADD_FAILURE() << "cannot create " << name << ": " << GetLastError();
            return nullptr;
        }
        peer_ = Peer(Peer::Kind::pipe, reinterpret_cast<std::intptr_t>(server));
        auto transport = await_transport(loop, [&](TransportCallback done) {
            create_unix_connection(loop, factory, name, done);
        });
        // The client is connected by now (or has been and left: ERROR_NO_DATA), so this
        // returns at once.
        if (!ConnectNamedPipe(server, nullptr) && GetLastError() != ERROR_PIPE_CONNECTED &&
            GetLastError() != ERROR_NO_DATA) {
            ADD_FAILURE() << "ConnectNamedPipe failed: " << GetLastError();
        }
        return transport;
    }
};

/// A COM port: create_serial_connection on the pair's first port; the test is the device on
/// the second.
class ComPortEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        SimulatedDevice device;
        peer_ = std::move(device.peer());
        SerialOptions options;
        options.baud_rate = 115200;
        auto result = create_serial_connection(loop, std::move(factory), device.path(), options);
        EXPECT_TRUE(result.ok()) << result.message();
        return result.ok() ? result.value() : nullptr;
    }
};

} // namespace

std::vector<ContractKind> contract_kinds() {
    ContractKind tcp;
    tcp.name = "Tcp";
    tcp.make = [] { return std::make_unique<TcpEndpoint>(); };
    ContractKind pipe;
    pipe.name = "NamedPipe";
    pipe.make = [] { return std::make_unique<NamedPipeEndpoint>(); };
    pipe.peer_can_half_close = false; // its end of data is its hang-up
    ContractKind com;
    com.name = "ComPort";
    com.make = [] { return std::make_unique<ComPortEndpoint>(); };
    // No end of data, and no hang-up either way: socat keeps both ptys open.
    com.peer_close_is_eof = false;
    com.peer_close_is_noticed = false;
    com.peer_sees_close = false;
    com.unavailable = SimulatedDevice::unavailable; // skipped, saying why, without a pair
    std::vector<ContractKind> kinds{tcp, pipe, com};
    for (ContractKind& tls : tls_contract_kinds()) {
        kinds.push_back(std::move(tls));
    }
    return kinds;
}

} // namespace ferry::test
