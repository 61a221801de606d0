#pragma once
/// Endpoint descriptions: one string names a serial port, a TCP or Unix socket (connecting or
/// listening), stdin/stdout or a new pseudo-terminal, in the spirit of Twisted's endpoint
/// strings and socat's addresses. connect() and listen() open what a description names.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/pty.hpp>
#include <ferry/reconnect.hpp>
#include <ferry/rfc2217.hpp>
#include <ferry/serial.hpp>
#include <ferry/server.hpp>
#include <ferry/task.hpp>
#include <ferry/tcp.hpp>
#include <ferry/tls.hpp>
#include <ferry/transport.hpp>
#include <ferry/udp.hpp>
#include <ferry/unix.hpp>

namespace ferry {

/// What an endpoint description names.
enum class EndpointKind {
    /// `serial:PATH[:115200n81][:key=value...]`: a serial port.
    serial,
    /// `tcp:HOST:PORT[:key=value...]`: a TCP connection (IPv6 literals in brackets).
    tcp,
    /// `tcp-listen:PORT[:interface=ADDR][:key=value...]`: a TCP server, on 127.0.0.1 unless
    /// an interface is named.
    tcp_listen,
    /// `unix:PATH`: a Unix-socket connection.
    unix_socket,
    /// `unix-listen:PATH[:key=value...]`: a Unix-socket server.
    unix_listen,
    /// `stdio`: reads standard input, writes standard output.
    stdio,
    /// `pty[:link=PATH]`: a new pseudo-terminal, a virtual serial port for other programs.
    pty,
    /// `rfc2217:HOST:PORT[:115200n81][:key=value...]`: a remote serial port (RFC 2217).
    rfc2217,
    /// `exec:COMMAND`: a child process run through the shell; its stdin and stdout are the
    /// endpoint (everything after `exec:` is the command, colons included).
    exec,
    /// `udp:HOST:PORT[:key=value...]`: a connected UDP socket; each read from the other side
    /// is one datagram (larger ones are split at 65507 bytes), each datagram one delivery.
    udp,
    /// `udp-listen:PORT[:interface=ADDR][:key=value...]`: binds the port (127.0.0.1 unless
    /// an interface is named), waits for the first datagram, and talks to its sender as `udp`
    /// does (socat's UDP-LISTEN).
    udp_listen,
    /// `tls:HOST:PORT[:ca=FILE][:cert=FILE:key=FILE][:key=value...]`: a TLS connection over
    /// TCP, the server's certificate checked against `ca` (else the system's CAs) and HOST
    /// (or servername=).
    tls,
    /// `tls-listen:PORT:cert=FILE:key=FILE[:ca=FILE:verify=require][:key=value...]`: a TLS
    /// server on 127.0.0.1 unless an interface is named; verify=require serves only clients
    /// with a certificate `ca` signed.
    tls_listen,
};

/// A parsed endpoint description. Only the fields of its kind are used.
struct Endpoint {
    // Not an aggregate, like the option structs: see ConnectOptions.
    Endpoint() = default;
    /// What it names.
    EndpointKind kind = EndpointKind::stdio;
    /// tcp: the host to connect to; tcp-listen: the interface to bind.
    std::string host;
    /// tcp, tcp-listen: the port (0 for tcp-listen picks one).
    std::uint16_t port = 0;
    /// serial: the device; unix, unix-listen: the socket's path.
    std::string path;
    /// exec: the command line, run through the shell.
    std::string command;
    /// serial: the line settings and options.
    SerialOptions serial{};
    /// pty: the link and line settings.
    PtyOptions pty{};
    /// tcp: timeout, keepalive, family...
    ConnectOptions tcp{};
    /// tcp-listen: backlog, reuse_port, family...
    ServerOptions tcp_server{};
    /// unix-listen: backlog, stale socket removal.
    UnixServerOptions unix_server{};
    /// rfc2217: the line settings to send, strictness, timeouts, the TCP options.
    Rfc2217Options rfc2217{};
    /// udp, udp-listen: the local address, family and reuse options (the host and port are
    /// above).
    DatagramOptions udp{};
    /// tcp-listen, unix-listen, tls-listen (`:rfc2217`): clients speak RFC 2217 (telnet
    /// COM-PORT-OPTION), for whoever serves them (ferry-bridge wraps each with serve_rfc2217).
    bool rfc2217_server = false;
    /// tls (`:rfc2217`): the server is an RFC 2217 port (connect_rfc2217 over TLS, sending
    /// the line settings in `rfc2217`).
    bool rfc2217_client = false;

    /// tls, tls-listen: certificates, CAs, verification, ALPN, minimum version.
    TlsOptions tls{};
    /// tls, tls-listen: server name (SNI and the name checked) and the handshake timeout.
    TlsStartOptions tls_start{};
    /// True for the kinds that accept connections (tcp-listen, unix-listen, tls-listen).
    bool listens() const noexcept;
};

/// Parses a description. Throws ferry::Error(invalid_argument) naming the bad part and listing
/// what is valid there: "bad endpoint 'serial:/dev/ttyUSB0:bauds=9600': unknown key 'bauds'
/// (serial keys: baud, data_bits, ...)".
Endpoint parse_endpoint(std::string_view description);

/// The description in its canonical form, e.g. "serial:/dev/ttyUSB0:115200n81:flow=rtscts";
/// parse_endpoint(to_string(e)) gives `e` back.
std::string to_string(const Endpoint& endpoint);

/// Several lines describing every kind and its keys, for a program's --help.
std::string endpoint_help();

/// Opens a connecting endpoint (serial, tcp, tls, unix, stdio, pty, rfc2217, exec, udp): the
/// transport after connection_made, or the error (naming the endpoint) through `done`. A listening
/// kind is refused with Error(invalid_argument).
void connect(Loop& loop, const Endpoint& endpoint, ProtocolFactory factory, TransportCallback done);
/// Awaitable connect; throws ferry::Error naming the endpoint. Cancellable.
Task<std::shared_ptr<Transport>> connect(Loop& loop, Endpoint endpoint, ProtocolFactory factory);
/// Parses `description` and connects (throws the parse error first).
Task<std::shared_ptr<Transport>> connect(Loop& loop, std::string_view description,
                                         ProtocolFactory factory);

/// Opens a listening endpoint (tcp-listen, tls-listen, unix-listen): the server, calling `factory`
/// per accepted connection, or the error through `done`. A connecting kind is refused.
void listen(Loop& loop, const Endpoint& endpoint, ProtocolFactory factory, ServerCallback done);
/// Awaitable listen; throws ferry::Error naming the endpoint.
Task<std::shared_ptr<Server>> listen(Loop& loop, Endpoint endpoint, ProtocolFactory factory);
/// Parses `description` and listens (throws the parse error first).
Task<std::shared_ptr<Server>> listen(Loop& loop, std::string_view description,
                                     ProtocolFactory factory);

/// A ConnectFunction for a Reconnector that opens `endpoint` each time (a connecting kind).
ConnectFunction endpoint_connector(Loop& loop, Endpoint endpoint);

} // namespace ferry
