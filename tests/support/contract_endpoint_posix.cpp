// The contract suite's endpoints on POSIX: TCP, Unix socket, socketpair, a serial port on a
// pty, a pipe pair (stdio's transport), a pseudo-terminal made by create_pty, and RFC 2217's
// client and server ends, a child process (connect_command) relaying to a socket, and a
// connected UDP socket (connect_udp).
#include "contract_endpoint.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include "pty_pair.hpp"
#include "recording_port.hpp"
#include "test_support.hpp"
#include "wired.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

/// The test's end as a Peer (-1 stays "none").
Peer fd_peer(int fd) {
    return fd >= 0 ? Peer(Peer::Kind::fd, fd) : Peer();
}

void set_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/// Accepts one connection on `listener` (blocking, with a timeout), non-blocking.
int accept_one(Loop& loop, int listener) {
    set_nonblocking(listener);
    int fd = -1;
    run_until(
        loop,
        [&] {
            if (fd < 0) { // run_until asks once more after success
                fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            }
            return fd >= 0;
        },
        10s);
    return fd;
}

/// TCP over loopback: ferry's create_connection against a raw listening socket.
class TcpEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            ::listen(listener, 1) != 0 ||
            ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            ADD_FAILURE() << "cannot listen on loopback";
            ::close(listener);
            return nullptr;
        }
        auto transport = await_transport(loop, [&](TransportCallback done) {
            create_connection(loop, factory, "127.0.0.1", ntohs(address.sin_port), {}, done);
        });
        peer_ = fd_peer(accept_one(loop, listener));
        ::close(listener);
        return transport;
    }
};

/// A listening Unix socket at a fresh temporary path, removed with the object.
class UnixListener {
public:
    explicit UnixListener(const std::string& tag) {
        path_ = (std::filesystem::temp_directory_path() /
                 ("ferry-contract-" + tag + std::to_string(::getpid()) + "-" +
                  std::to_string(++counter_) + ".sock"))
                    .string();
        std::filesystem::remove(path_);
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        path_.copy(address.sun_path, sizeof address.sun_path - 1);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::listen(fd_, 1) != 0) {
            ADD_FAILURE() << "cannot listen on " << path_;
            ::close(std::exchange(fd_, -1));
        }
    }
    ~UnixListener() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        std::filesystem::remove(path_);
    }
    UnixListener(const UnixListener&) = delete;
    UnixListener& operator=(const UnixListener&) = delete;
    /// False when it could not listen.
    bool ok() const noexcept { return fd_ >= 0; }
    int fd() const noexcept { return fd_; }
    const std::string& path() const noexcept { return path_; }

private:
    static inline int counter_ = 0;
    std::string path_;
    int fd_ = -1;
};

/// A Unix domain socket: create_unix_connection against a raw listening socket.
class UnixEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        listener_ = std::make_unique<UnixListener>("");
        if (!listener_->ok()) {
            return nullptr;
        }
        auto transport = await_transport(loop, [&](TransportCallback done) {
            create_unix_connection(loop, factory, listener_->path(), done);
        });
        peer_ = fd_peer(accept_one(loop, listener_->fd()));
        return transport;
    }

private:
    std::unique_ptr<UnixListener> listener_;
};

/// A child process as the transport (connect_command, the exec: endpoint): child_relay.py
/// relays between its stdin/stdout and a raw Unix socket the test accepts, so the test plays
/// the child's far side by hand. (Not socat: it holds a direction's end back until it exits.)
class ChildProcessEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        listener_ = std::make_unique<UnixListener>("child-");
        if (!listener_->ok()) {
            return nullptr;
        }
        auto started = connect_command(
            loop, std::move(factory),
            "exec /usr/bin/python3 " FERRY_TEST_SUPPORT_DIR "/child_relay.py " + listener_->path());
        EXPECT_TRUE(started.ok()) << started.message();
        // Nothing of the loop's wakes when the child connects: wait on the listener itself.
        pollfd incoming{listener_->fd(), POLLIN, 0};
        ::poll(&incoming, 1, 10000);
        peer_ = fd_peer(accept_one(loop, listener_->fd()));
        return started.ok() ? started.value() : nullptr;
    }

private:
    std::unique_ptr<UnixListener> listener_;
};

/// A connected UDP socket (connect_udp) to a raw UDP socket the test holds, connected back:
/// one peer write is one datagram.
class UdpEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            ADD_FAILURE() << "cannot bind a UDP peer";
            ::close(fd);
            return nullptr;
        }
        auto connecting =
            connect_udp(loop, std::move(factory), "127.0.0.1", ntohs(address.sin_port));
        auto transport = loop.run_until_complete(std::move(connecting));
        const SocketAddress ours = *transport->sockname();
        ::connect(fd, ours.native(), static_cast<socklen_t>(ours.native_length()));
        peer_ = fd_peer(fd);
        return transport;
    }
};

/// One end of a socketpair wrapped with connect_stream_fd; the test holds the other.
class SocketpairEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        Wired wired = wire_socket(loop, std::move(factory));
        peer_ = std::move(wired.peer);
        return wired.transport;
    }
};

/// A serial port: create_serial_connection on a pty's slave; the test is the device.
class SerialEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        SimulatedDevice device;
        auto result = create_serial_connection(loop, std::move(factory), device.path());
        EXPECT_TRUE(result.ok()) << result.message();
        peer_ = std::move(device.peer()); // only the peer holds the master: closing it unplugs
        return result.ok() ? result.value() : nullptr;
    }
};

/// A pseudo-terminal made by create_pty: ferry holds the device end, the test opens the
/// terminal end by its name, as a program using the virtual serial port would.
class PtyEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        auto result = create_pty(loop, std::move(factory));
        EXPECT_TRUE(result.ok()) << result.message();
        if (!result.ok()) {
            return nullptr;
        }
        const int terminal =
            ::open(result.value()->path().c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        EXPECT_GE(terminal, 0) << "cannot open " << result.value()->path();
        // VMIN 1: an empty read says EAGAIN, as a socket's does (with VMIN 0 it returns 0,
        // which the suite would take for the end).
        termios settings{};
        ::tcgetattr(terminal, &settings);
        settings.c_cc[VMIN] = 1;
        ::tcsetattr(terminal, TCSANOW, &settings);
        peer_ = fd_peer(terminal);
        return result.value();
    }
};

/// connect_pipe_pair: ferry reads one descriptor and writes another (as stdio does), both
/// duplicates of one socketpair end, so the test plays the peer on a single descriptor.
class PipePairEndpoint final : public Endpoint {
public:
    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        int input = -1;
        if (!socket_pair(input, peer_)) {
            return nullptr;
        }
        const int output = ::fcntl(input, F_DUPFD_CLOEXEC, 0);
        auto result = connect_pipe_pair(loop, std::move(factory), input, output);
        EXPECT_TRUE(result.ok()) << result.message();
        return result.ok() ? result.value() : nullptr;
    }
};

/// The two transports of a telnet relay; each side's slot is emptied when it is lost, which
/// breaks the cycle (transport -> protocol -> link -> transport).
struct RelayLink {
    std::shared_ptr<Transport> telnet_side;
    std::shared_ptr<Transport> plain_side;
};

/// One side of a telnet relay: what arrives goes to the other side, unescaped (the telnet
/// side) or escaped (the plain side).
class RelaySide final : public Protocol, private telnet::Sink {
public:
    RelaySide(bool telnet_side, std::shared_ptr<RelayLink> link)
        : telnet_side_(telnet_side), link_(std::move(link)) {}
    void data_received(ByteView data) override {
        if (telnet_side_) {
            decoder_.feed(data, *this);
        } else if (auto& to = other()) {
            Bytes out;
            telnet::append_escaped(data, out);
            to->write(out);
        }
    }
    bool eof_received() override {
        if (auto& to = other(); to && !to->is_closing()) {
            to->write_eof();
        }
        return true;
    }
    void connection_lost(std::error_code) override {
        if (auto& to = other()) {
            to->close();
        }
        (telnet_side_ ? link_->telnet_side : link_->plain_side).reset();
    }
    void pause_writing() override {
        if (auto& to = other()) {
            to->pause_reading();
        }
    }
    void resume_writing() override {
        if (auto& to = other()) {
            to->resume_reading();
        }
    }

private:
    std::shared_ptr<Transport>& other() {
        return telnet_side_ ? link_->plain_side : link_->telnet_side;
    }
    void telnet_data(ByteView data) override {
        if (auto& to = other()) {
            to->write(data);
        }
    }
    void telnet_negotiation(telnet::Verb, std::uint8_t) override {}
    void telnet_subnegotiation(std::uint8_t, ByteView) override {}
    void telnet_error(std::string_view what) override { ADD_FAILURE() << what; }
    bool telnet_side_;
    std::shared_ptr<RelayLink> link_;
    telnet::Decoder decoder_;
};

/// RFC 2217 over loopback TCP, the transport under test being the client (connect_rfc2217)
/// or the server end (serve_rfc2217). The peer's socketpair end is relayed to the other end
/// of the RFC 2217 connection: bridged to ferry's other end when testing the client; when
/// testing the server, relayed by a bare telnet decoder, so that the server's protocol may
/// close or write in connection_made without waiting for a client's negotiation. The peer
/// sees plain bytes either way.
class Rfc2217Endpoint final : public Endpoint {
public:
    /// Tests the client when true, the server end when false.
    explicit Rfc2217Endpoint(bool test_client) : test_client_(test_client) {}

    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        const ProtocolFactory holding = [] { return std::make_unique<Protocol>(); };
        int mine = -1;
        const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (!socket_pair(mine, peer_) ||
            ::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            ::listen(listener, 1) != 0 ||
            ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            ADD_FAILURE() << "cannot make the RFC 2217 fixture's sockets";
            ::close(listener);
            return nullptr;
        }
        const std::uint16_t port = ntohs(address.sin_port);
        if (test_client_) {
            auto relay = connect_stream_fd(loop, holding, mine);
            std::optional<Result<std::shared_ptr<Rfc2217Transport>>> client;
            connect_rfc2217(loop, factory, "127.0.0.1", port, {},
                            [&client](Result<std::shared_ptr<Rfc2217Transport>> r) {
                                client.emplace(std::move(r));
                            });
            const int accepted = accept_one(loop, listener);
            ::close(listener);
            auto wire = connect_stream_fd(loop, holding, accepted);
            if (!relay.ok() || !wire.ok()) {
                ADD_FAILURE() << "cannot wrap the fixture's sockets";
                return nullptr;
            }
            auto server = serve_rfc2217(wire.value(), port_, holding);
            run_until(
                loop, [&] { return client.has_value(); }, 10s);
            if (!client || !client->ok()) {
                ADD_FAILURE() << (client ? client->message() : "connect_rfc2217 did not finish");
                return nullptr;
            }
            bridge_ = bridge(relay.value(), server);
            return client->value();
        }
        auto link = std::make_shared<RelayLink>();
        link->telnet_side = await_transport(loop, [&](TransportCallback done) {
            const ProtocolFactory decoding = [link] {
                return std::make_unique<RelaySide>(true, link);
            };
            create_connection(loop, decoding, "127.0.0.1", port, {}, done);
        });
        auto plain = connect_stream_fd(
            loop, [link] { return std::make_unique<RelaySide>(false, link); }, mine);
        const int accepted = accept_one(loop, listener);
        ::close(listener);
        auto wire = connect_stream_fd(loop, holding, accepted);
        if (!link->telnet_side || !plain.ok() || !wire.ok()) {
            ADD_FAILURE() << "cannot wrap the fixture's sockets";
            return nullptr;
        }
        link->plain_side = plain.value();
        return serve_rfc2217(wire.value(), port_, factory);
    }

private:
    bool test_client_;
    std::shared_ptr<RecordingPort> port_ = std::make_shared<RecordingPort>();
    std::shared_ptr<Bridge> bridge_;
};

/// Every kind but TLS's.
std::vector<ContractKind> posix_kinds();

} // namespace

std::vector<ContractKind> contract_kinds() {
    std::vector<ContractKind> kinds = posix_kinds();
    for (ContractKind& tls : tls_contract_kinds()) {
        kinds.push_back(std::move(tls));
    }
    return kinds;
}

namespace {
std::vector<ContractKind> posix_kinds() {
    const auto kind = [](std::string name, std::function<std::unique_ptr<Endpoint>()> make,
                         bool peer_close_is_eof = true, bool peer_close_is_noticed = true) {
        ContractKind k;
        k.name = std::move(name);
        k.make = std::move(make);
        k.peer_close_is_eof = peer_close_is_eof;
        k.peer_close_is_noticed = peer_close_is_noticed;
        return k;
    };
    return {
        kind("Tcp", [] { return std::make_unique<TcpEndpoint>(); }),
        kind("Unix", [] { return std::make_unique<UnixEndpoint>(); }),
        kind("Socketpair", [] { return std::make_unique<SocketpairEndpoint>(); }),
        kind(
            "SerialPty", [] { return std::make_unique<SerialEndpoint>(); }, false),
        kind("PipePair", [] { return std::make_unique<PipePairEndpoint>(); }),
        // A program closing the terminal end is no hang-up: ferry holds it open too.
        kind(
            "CreatePty", [] { return std::make_unique<PtyEndpoint>(); }, false, false),
        kind("Rfc2217Client", [] { return std::make_unique<Rfc2217Endpoint>(true); }),
        kind("Rfc2217Server", [] { return std::make_unique<Rfc2217Endpoint>(false); }),
        kind("ChildProcess", [] { return std::make_unique<ChildProcessEndpoint>(); }),
        [&] {
            // No end of stream and no hang-up: the peer closing is no event.
            ContractKind udp = kind(
                "Udp", [] { return std::make_unique<UdpEndpoint>(); }, false, false);
            udp.peer_sees_close = false;
            udp.reliable = false;
            return udp;
        }(),
    };
}
} // namespace

} // namespace ferry::test
