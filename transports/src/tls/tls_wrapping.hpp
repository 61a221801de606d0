#pragma once
// How the TCP factories add TLS (ConnectOptions::tls, ServerOptions::tls) without knowing
// OpenSSL: a connection made with a holding protocol, then start_tls.

#include <memory>

#include <ferry/tcp.hpp>
#include <ferry/tls.hpp>

namespace ferry::detail {

/// create_connection with TLS: the protocol to connect with (it holds the connection, reading
/// nothing) and the callback that starts TLS on it and reports to `done`.
struct TlsConnectSteps {
    ProtocolFactory holding;
    TransportCallback connected;
};
/// The steps for a client connection to `host` (the default server_hostname).
TlsConnectSteps tls_connect_steps(const std::string& host, const ConnectOptions& options,
                                  ProtocolFactory factory, TransportCallback done);

/// create_server with TLS: a factory whose protocol starts TLS on each accepted connection
/// and hands it to `factory`'s protocol once the handshake completed. A refused client is
/// logged with the reason.
ProtocolFactory tls_accepting_factory(const ServerOptions& options, ProtocolFactory factory);

} // namespace ferry::detail
