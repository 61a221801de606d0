#pragma once
// What a test talks to by hand, on every platform: a transport on one end of a stream socket
// pair with the test's Peer on the other (POSIX: socketpair; Windows: TCP over loopback), two
// transports joined to each other, and a serial device the test plays (POSIX: a pty; Windows:
// the second port of the COM pair). Platform parts in wired_posix.cpp and wired_win.cpp.

#include <memory>
#include <string>
#include <utility>

#include <ferry/ferry.hpp>

#include "peer.hpp"

namespace ferry::test {

/// A transport and the raw descriptor at its other end.
struct Wired {
    /// Made with the factory given; connection_made has run.
    std::shared_ptr<Transport> transport;
    /// The test's end, non-blocking.
    Peer peer;
};

/// A connected stream socket pair as descriptors: `mine` for ferry to adopt
/// (connect_stream_fd), `theirs` non-blocking for the test. `buffer_size` as in wire_socket.
/// False (and a test failure) if it cannot be made.
bool socket_pair(NativeHandle& mine, Peer& theirs, int buffer_size = 0);

/// A stream socket pair: `factory`'s protocol on one end, the test's Peer on the other.
/// `buffer_size` > 0 shrinks the buffers between them (the transport's send buffer where the
/// platform allows it, the peer's receive buffer) so that back-pressure comes early.
Wired wire_socket(Loop& loop, ProtocolFactory factory, int buffer_size = 0);

/// As wire_socket, over a loopback TCP connection on every platform (a reset is a reset).
Wired wire_tcp(Loop& loop, ProtocolFactory factory, int buffer_size = 0);

/// Two transports joined by a stream socket pair, `first`'s protocol on one, `second`'s on
/// the other; both connection_made have run.
std::pair<std::shared_ptr<Transport>, std::shared_ptr<Transport>>
wire_transports(Loop& loop, ProtocolFactory first, ProtocolFactory second);

/// A serial device the test plays: ferry opens path(); the test reads what was sent to the
/// device and writes what the device sends through peer().
class SimulatedDevice {
public:
    /// Why no device can be simulated here (the test skips, saying so), or empty.
    static std::string unavailable();

    /// Why a device that reads nothing until it has written everything cannot be simulated
    /// here (empty when it can): under Wine the COM pair is two ptys joined by socat, which
    /// relays both directions in one loop and stops carrying either when one is full.
    static std::string coupled_relay_reason();

    SimulatedDevice();
    /// The port ferry opens (/dev/pts/N, or COMn).
    const std::string& path() const noexcept { return path_; }
    /// The device's end: what it reads arrived from ferry, what it writes ferry receives.
    Peer& peer() noexcept { return peer_; }

private:
    std::string path_;
    Peer peer_;
};

/// How many bytes a bulk transfer through a simulated serial device moves here: 64 MiB over
/// a pty, 8 MiB over the COM port pair (two ptys joined by socat under Wine: about 8 MiB/s).
extern const std::size_t serial_bulk_bytes;

/// Makes closing the socket `handle` (a transport's native_handle()) send a reset, as a peer
/// that vanishes does.
void set_reset_on_close(NativeHandle handle);

/// A serial port name that names no port here, for the "no such port" errors.
extern const char* const missing_serial_port;

/// A name for a local stream socket unique to this process and `tag`: a path in the temporary
/// directory on POSIX, \\.\pipe\ferry-... on Windows.
std::string local_socket_name(const std::string& tag);

} // namespace ferry::test
