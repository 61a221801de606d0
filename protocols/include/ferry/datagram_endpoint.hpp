#pragma once
/// DatagramEndpoint: UDP for coroutines — co_await endpoint.recvfrom(), sendto(), drain() —
/// over create_datagram_endpoint, with a bounded queue of datagrams received.

#include <cstddef>
#include <memory>
#include <optional>

#include <ferry/address.hpp>
#include <ferry/bytes.hpp>
#include <ferry/loop.hpp>
#include <ferry/task.hpp>
#include <ferry/udp.hpp>

namespace ferry {

/// One datagram and its sender.
struct Datagram {
    /// The payload.
    Bytes data;
    /// Who sent it.
    SocketAddress from;
};

/// A UDP endpoint driven from a task. Datagrams wait in a queue of at most `queue_limit`;
/// while it is full the endpoint stops reading, so the OS's buffer holds (and, being UDP,
/// drops) what comes next. Errors the OS reports (ICMP port unreachable on a connected
/// endpoint, a truncated datagram) are thrown by the next recvfrom, in arrival order. Loop
/// thread only; movable, and closed when the last copy goes.
class DatagramEndpoint {
public:
    /// Opens an endpoint as create_datagram_endpoint does; throws ferry::Error naming the
    /// address that failed.
    static Task<DatagramEndpoint> open(Loop& loop, DatagramOptions options = {},
                                       std::size_t queue_limit = 64);

    /// The next datagram. Throws an error the OS reported since the previous one,
    /// ferry::Error(closed) once the endpoint is closed and nothing is left, CancelledError
    /// when the awaiting task is cancelled (no datagram is lost).
    Task<Datagram> recvfrom();
    /// Sends one datagram (see DatagramTransport::sendto).
    void sendto(ByteView data, const std::optional<SocketAddress>& to = std::nullopt);
    /// Waits until the send buffer is at or below its low-water mark (at once if it is not
    /// above the high one). Throws ferry::Error(closed) if the endpoint closes first.
    Task<void> drain();
    /// Closes after sending what is queued; a waiting recvfrom throws ferry::Error(closed).
    void close() noexcept;
    /// Waits until the endpoint is closed (its connection_lost came).
    Task<void> wait_closed();
    /// The bound address.
    std::optional<SocketAddress> sockname() const;
    /// The connected peer, if any.
    std::optional<SocketAddress> peername() const;
    /// The transport, for its socket options (multicast, broadcast, buffer sizes).
    DatagramTransport& transport() const;

    /// What the endpoint's protocol and its handles share (ferry-internal).
    struct State;

private:
    explicit DatagramEndpoint(std::shared_ptr<State> state) : state_(std::move(state)) {}
    std::shared_ptr<State> state_;
};

} // namespace ferry
