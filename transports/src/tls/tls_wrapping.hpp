#pragma once
// How the TCP factories add TLS (ConnectOptions::tls, ServerOptions::tls) without knowing
// OpenSSL: a connection made with a holding protocol, then start_tls.

#include <atomic>
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

/// The TLS steps of the TCP factories. The factories reach them through `tls_wrapping`,
/// which the first TlsContext made installs, never by name: a program that makes no
/// TlsContext then links no TLS code, and with --as-needed does not load OpenSSL at all
/// (loading libssl and libcrypto costs 1.7 MB of resident memory at start).
struct TlsWrapping {
    /// The steps for a client connection to `host` (the default server_hostname).
    TlsConnectSteps (*connect_steps)(const std::string& host, const ConnectOptions& options,
                                     ProtocolFactory factory, TransportCallback done);
    /// create_server with TLS: a factory whose protocol starts TLS on each accepted
    /// connection and hands it to `factory`'s protocol once the handshake completed. A
    /// refused client is logged with the reason.
    ProtocolFactory (*accepting_factory)(const ServerOptions& options, ProtocolFactory factory);
};

/// The steps over OpenSSL (tls_transport.cpp).
extern const TlsWrapping openssl_tls_wrapping;

/// Set by TlsContext's constructor (any thread); never null where options hold a context.
inline constinit std::atomic<const TlsWrapping*> tls_wrapping{nullptr};

/// The installed steps; only called with a TlsContext in the options, so they are there.
inline const TlsWrapping& installed_tls_wrapping() noexcept {
    return *tls_wrapping.load(std::memory_order_acquire);
}

} // namespace ferry::detail
