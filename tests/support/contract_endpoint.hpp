#pragma once
// The contract suite's fixtures: each makes one kind of ferry transport with a raw OS
// descriptor at its other end that the test plays by hand. A new transport joins the suite by
// adding an Endpoint in contract_endpoint_posix.cpp or contract_endpoint_win.cpp and a line
// to that file's contract_kinds().

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include <ferry/ferry.hpp>

#include "peer.hpp"

namespace ferry::test {

/// The transport under test and the raw descriptor the test uses as its peer.
class Endpoint {
public:
    virtual ~Endpoint();
    /// Makes the transport with a protocol from `factory`; connection_made has run on return.
    /// Null (and a test failure) if it could not.
    virtual std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) = 0;
    /// The test's end.
    Peer& peer() noexcept { return peer_; }
    /// The peer hangs up.
    void close_peer();

protected:
    Peer peer_;
};

/// How one kind of transport differs where the contract leaves room.
struct ContractKind {
    /// Shown in test names.
    std::string name;
    /// Makes a fresh endpoint.
    std::function<std::unique_ptr<Endpoint>()> make;
    /// What the transport reports when the peer hangs up: eof_received then a clean
    /// connection_lost (sockets), or connection_lost(errc::device_removed) (a serial device).
    bool peer_close_is_eof = true;
    /// False when the peer closing its descriptor is no event at all (create_pty's terminal
    /// end, which ferry holds open so programs may come and go).
    bool peer_close_is_noticed = true;
    /// False when the peer cannot tell that the transport closed (a COM port pair joined
    /// by socat: closing one port does not hang up the other).
    bool peer_sees_close = true;
    /// False when the peer cannot send end of data and keep reading (a named pipe).
    bool peer_can_half_close = true;
    /// False for datagrams: what the peer's buffer cannot hold is dropped, and the OS never
    /// pushes back, so the bulk and back-pressure tests do not apply (udp_test covers UDP).
    bool reliable = true;
    /// Why this kind cannot run here (empty when it can); such tests are skipped, saying so.
    std::function<std::string()> unavailable;
};

/// Shows a kind by its name in test output (not as raw bytes).
inline void PrintTo(const ContractKind& kind, std::ostream* out) {
    *out << kind.name;
}

/// Every transport the suite runs over on this platform.
std::vector<ContractKind> contract_kinds();
/// The TLS client and server fixtures (contract_endpoint_tls.cpp; empty without OpenSSL).
std::vector<ContractKind> tls_contract_kinds();

/// Runs `loop` until the connect `start` begins reports; the transport, or null and a test
/// failure.
std::shared_ptr<Transport> await_transport(Loop& loop,
                                           const std::function<void(TransportCallback)>& start);

} // namespace ferry::test
