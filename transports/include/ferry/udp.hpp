#pragma once
/// UDP: datagram endpoints as asyncio has them (create_datagram_endpoint, DatagramProtocol,
/// DatagramTransport), and a connected UDP socket as a plain Transport (connect_udp).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <ferry/address.hpp>
#include <ferry/bytes.hpp>
#include <ferry/error.hpp>
#include <ferry/loop.hpp>
#include <ferry/result.hpp>
#include <ferry/task.hpp>
#include <ferry/tcp.hpp>
#include <ferry/transport.hpp>

namespace ferry {

class DatagramTransport;

/// What a datagram endpoint's user implements (asyncio's DatagramProtocol). Every callback
/// runs on the loop thread; connection_lost comes once, last.
class DatagramProtocol {
public:
    virtual ~DatagramProtocol() = default;
    /// The endpoint is ready. `transport` stays valid until connection_lost returns.
    virtual void connection_made(DatagramTransport& transport) { (void)transport; }
    /// One datagram arrived from `from`. The view is valid only during the call.
    virtual void datagram_received(ByteView data, const SocketAddress& from) {
        (void)data;
        (void)from;
    }
    /// A send or receive failed without ending the endpoint: the peer's port is closed (ICMP
    /// port unreachable, connected endpoints), a datagram was larger than max_datagram_size
    /// (errc::datagram_truncated; the datagram is dropped), a send was refused.
    virtual void error_received(const Error& error) { (void)error; }
    /// The endpoint is closed: empty code after close() or abort(), the reason otherwise.
    virtual void connection_lost(std::error_code error) { (void)error; }
    /// The send buffer went above its high-water mark: stop sending.
    virtual void pause_writing() {}
    /// The send buffer drained to its low-water mark: sending may go on.
    virtual void resume_writing() {}
};

/// Makes the protocol of a new datagram endpoint.
using DatagramProtocolFactory = std::function<std::unique_ptr<DatagramProtocol>()>;

/// A UDP socket the loop owns while it is open (asyncio's DatagramTransport). Loop thread
/// only. sendto() never blocks and never throws for the network's reasons: those arrive
/// through error_received.
class DatagramTransport : public std::enable_shared_from_this<DatagramTransport> {
public:
    virtual ~DatagramTransport() = default;
    DatagramTransport(const DatagramTransport&) = delete;
    DatagramTransport& operator=(const DatagramTransport&) = delete;

    /// Sends one datagram to `to`, or to the remote address of a connected endpoint (then
    /// `to` must be empty or that address). Copies it only if the OS cannot take it now.
    /// Throws ferry::Error(invalid_argument) with no destination or a datagram larger than
    /// 65507 bytes; ignored after close().
    virtual void sendto(ByteView data, const std::optional<SocketAddress>& to = std::nullopt) = 0;
    /// Sends what is queued, then closes; connection_lost(no error) follows.
    virtual void close() noexcept = 0;
    /// Closes at once, dropping what is queued; connection_lost(no error) follows.
    virtual void abort() noexcept = 0;
    /// True once close() or abort() was called or the endpoint failed.
    virtual bool is_closing() const noexcept = 0;
    /// Bytes queued and not yet taken by the OS.
    virtual std::size_t write_buffer_size() const noexcept = 0;
    /// Sets the water marks for pause_writing / resume_writing (low defaults to high / 4).
    /// Throws ferry::Error(invalid_argument) when low > high.
    virtual void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                         std::optional<std::size_t> low = std::nullopt) = 0;
    /// The current water marks.
    virtual WriteBufferLimits write_buffer_limits() const noexcept = 0;
    /// Stops datagram_received until resume_reading (the OS buffer, then the OS, drop).
    virtual void pause_reading() = 0;
    /// Delivers datagrams again.
    virtual void resume_reading() = 0;
    /// True while datagrams are delivered.
    virtual bool is_reading() const noexcept = 0;
    /// The bound local address.
    virtual std::optional<SocketAddress> sockname() const = 0;
    /// The remote address of a connected endpoint, else nullopt.
    virtual std::optional<SocketAddress> peername() const = 0;

    /// SO_BROADCAST: allow sending to broadcast addresses. Throws ferry::Error on refusal.
    virtual void set_broadcast(bool on) = 0;
    /// IP_TTL / IPV6_UNICAST_HOPS for unicast datagrams. Throws ferry::Error on refusal.
    virtual void set_ttl(int ttl) = 0;
    /// Joins multicast `group` on the interface with address `local_interface` ("" lets the OS
    /// choose). Throws ferry::Error naming the group on refusal.
    virtual void join_group(const std::string& group, const std::string& local_interface = "") = 0;
    /// Leaves a group joined with join_group. Throws ferry::Error on refusal.
    virtual void leave_group(const std::string& group, const std::string& local_interface = "") = 0;
    /// Hops multicast datagrams may travel (1: this network only). Throws on refusal.
    virtual void set_multicast_ttl(int ttl) = 0;
    /// Whether this host's own members of a group receive what is sent to it. Throws on
    /// refusal.
    virtual void set_multicast_loop(bool on) = 0;
    /// The interface (by its address) multicast datagrams leave from. Throws on refusal.
    virtual void set_multicast_interface(const std::string& local_interface) = 0;
    /// SO_RCVBUF as the OS reports it (Linux doubles what was asked).
    virtual std::size_t receive_buffer_size() const = 0;
    /// Asks for an SO_RCVBUF of `bytes`. Throws ferry::Error on refusal.
    virtual void set_receive_buffer_size(std::size_t bytes) = 0;
    /// SO_SNDBUF as the OS reports it.
    virtual std::size_t send_buffer_size() const = 0;
    /// Asks for an SO_SNDBUF of `bytes`. Throws ferry::Error on refusal.
    virtual void set_send_buffer_size(std::size_t bytes) = 0;
    /// The socket.
    virtual NativeHandle native_handle() const noexcept = 0;
    /// The loop this endpoint runs on.
    Loop& loop() const noexcept { return *loop_; }

protected:
    /// An endpoint on `loop`.
    explicit DatagramTransport(Loop& loop) : loop_(&loop) {}

private:
    Loop* loop_;
};

/// Where a datagram endpoint binds and what it may talk to.
struct DatagramOptions {
    // Not an aggregate (this constructor), on purpose: GCC 12 miscompiles aggregate
    // temporaries inside co_await expressions (see ConnectOptions).
    DatagramOptions() = default;
    /// Local address to bind (numeric or a name; empty with a remote: any address of the
    /// remote's family; empty without one: every IPv4 interface, or IPv6 with family ipv6).
    std::string local_host{};
    /// Local port (0: the OS picks one).
    std::uint16_t local_port = 0;
    /// Remote host: the endpoint is connected (it receives only from there, and the OS
    /// reports a closed port through error_received).
    std::optional<std::string> remote_host{};
    /// Remote port (with remote_host).
    std::uint16_t remote_port = 0;
    /// Restricts resolution to one family.
    AddressFamily family = AddressFamily::any;
    /// SO_REUSEADDR: several sockets may bind one address (how multicast receivers share a
    /// group's port).
    bool reuse_address = false;
    /// SO_REUSEPORT: several sockets share the port, the kernel spreads datagrams (Linux).
    bool reuse_port = false;
    /// SO_BROADCAST from the start.
    bool broadcast = false;
    /// The largest datagram received whole; a larger one is dropped and reported as
    /// errc::datagram_truncated through error_received (at most 65507).
    std::size_t max_datagram_size = 65507;
};

/// Receives a datagram endpoint, or the error that prevented it.
using DatagramTransportCallback = std::function<void(Result<std::shared_ptr<DatagramTransport>>)>;

/// Opens a UDP endpoint (asyncio's create_datagram_endpoint): resolves and binds the local
/// address, connects to the remote one if given, calls the factory and connection_made, then
/// `done` with the transport. A failure reaches `done` as a ferry::Error naming the address.
void create_datagram_endpoint(Loop& loop, DatagramProtocolFactory factory, DatagramOptions options,
                              DatagramTransportCallback done);

/// Awaitable create_datagram_endpoint: yields the endpoint or throws ferry::Error. An
/// endpoint that opens after the awaiting task was cancelled is closed at once.
Task<std::shared_ptr<DatagramTransport>>
create_datagram_endpoint(Loop& loop, DatagramProtocolFactory factory, DatagramOptions options);

/// A connected UDP socket as a Transport (the `udp:HOST:PORT` endpoint): each write() is one
/// datagram (writelines: one per part; never joined, even when queued), each datagram
/// received is one data_received. No end of stream (can_write_eof() is false, eof_received
/// never comes); the peer's port being closed (ICMP port unreachable) ends it with
/// ECONNREFUSED. Bound like DatagramOptions (its remote fields are host and port here).
Task<std::shared_ptr<Transport>> connect_udp(Loop& loop, ProtocolFactory factory, std::string host,
                                             std::uint16_t port, DatagramOptions options = {});

/// Binds `options.local_host:local_port` and waits for the first datagram; its sender becomes
/// the peer (socat's UDP-LISTEN, the `udp-listen:PORT` endpoint), and the transport is
/// connected to it as connect_udp's, starting with that datagram. `bound` (if set) hears the
/// bound address before the wait, for a port picked by the OS.
Task<std::shared_ptr<Transport>>
accept_udp(Loop& loop, ProtocolFactory factory, DatagramOptions options,
           std::function<void(const SocketAddress&)> bound = nullptr);

} // namespace ferry
