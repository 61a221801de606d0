#pragma once
/// TLS as a transport over any other transport (asyncio's sslproto, Twisted's TLSMemoryBIO):
/// a TlsContext holds certificates and policy, start_tls wraps a live connection, and the
/// TCP factories take a context in their options (ConnectOptions::tls, ServerOptions::tls).
/// OpenSSL 3 underneath; nothing of it in this header.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ferry/bytes.hpp>
#include <ferry/protocol.hpp>
#include <ferry/result.hpp>
#include <ferry/task.hpp>
#include <ferry/transport.hpp>

struct ssl_ctx_st; // OpenSSL's SSL_CTX, for native_handle()

namespace ferry {
namespace detail {
struct TlsContextAccess;
} // namespace detail

/// The oldest TLS version a context accepts.
enum class TlsVersion { tls1_2, tls1_3 };

/// Whether a server asks its clients for a certificate.
enum class ClientCertificates {
    /// Never asked for (the default).
    none,
    /// Asked for and verified when sent; a client without one is served.
    optional,
    /// Required: a client without a valid one is refused.
    require,
};

/// What a TlsContext is made from. File names are PEM files; every one is read when the
/// context is made, so a missing or mismatched file fails there, not at the first connection.
struct TlsOptions {
    /// Certificate chain (leaf first). Required for servers; a client's own certificate.
    std::string cert_file{};
    /// Private key of cert_file's leaf (empty: the key is in cert_file).
    std::string key_file{};
    /// Trusted CA certificates (PEM, several allowed).
    std::string ca_file{};
    /// A directory of trusted CA certificates (hashed names, as c_rehash makes).
    std::string ca_dir{};
    /// With neither ca_file nor ca_dir: trust the system's CA store (clients only).
    bool use_system_ca = true;
    /// Clients: verify the server's certificate (on by default; off only for tests).
    bool verify_peer = true;
    /// Clients: check that the certificate names the server_hostname given per connection.
    bool check_hostname = true;
    /// Servers: whether clients must present a certificate (verified against ca_file/ca_dir).
    ClientCertificates client_certificates = ClientCertificates::none;
    /// The oldest version accepted (TLS 1.2 by default).
    TlsVersion min_version = TlsVersion::tls1_2;
    /// ALPN protocols in preference order ("h2", "http/1.1"); empty: none offered.
    std::vector<std::string> alpn{};
    /// OpenSSL cipher list for TLS 1.2 (empty: OpenSSL's default).
    std::string ciphers{};
    /// OpenSSL cipher suites for TLS 1.3 (empty: OpenSSL's default).
    std::string ciphersuites{};
    /// Resume sessions: clients keep the last session per server name, servers issue tickets.
    bool session_resumption = true;
};

/// Certificates, keys and policy shared by many connections (OpenSSL's SSL_CTX). Immutable
/// once made; may be shared between loops and threads.
class TlsContext {
public:
    /// A client context; throws ferry::Error naming the file and the reason when one cannot
    /// be used ("TLS: cannot read CA file 'ca.pem': No such file or directory").
    static std::shared_ptr<TlsContext> client(TlsOptions options = {});
    /// A server context (cert_file required); throws ferry::Error like client() ("TLS:
    /// private key does not match the certificate in server.pem").
    static std::shared_ptr<TlsContext> server(TlsOptions options);

    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    /// True for a server context.
    bool is_server() const noexcept { return server_; }
    /// What the context was made from.
    const TlsOptions& options() const noexcept { return options_; }
    /// OpenSSL's SSL_CTX, for settings ferry does not wrap. Change it before first use only.
    ssl_ctx_st* native_handle() const noexcept { return context_; }

    class Sessions; // clients: the last session per server name

private:
    TlsContext(bool server, TlsOptions options);

    bool server_;
    TlsOptions options_;
    ssl_ctx_st* context_ = nullptr;
    std::string alpn_wire_; // the ALPN list as OpenSSL takes it
    std::unique_ptr<Sessions> sessions_;
    friend struct detail::TlsContextAccess;
};

/// A certificate as the peer presented it.
struct TlsCertificate {
    /// Subject, one line (RFC 2253: "CN=device-7,O=Factory").
    std::string subject;
    /// Issuer, one line.
    std::string issuer;
    /// DNS names of the subjectAltName extension.
    std::vector<std::string> dns_names;
    /// Validity, as OpenSSL prints it ("Dec  6 07:00:00 2026 GMT").
    std::string not_before;
    /// End of validity.
    std::string not_after;
    /// The certificate, DER-encoded.
    Bytes der;
};

/// A TLS connection over another transport; the protocol sees plain bytes. Loop thread only.
///
/// The contract holds as for any transport. write() encrypts at once; close() flushes, sends
/// close_notify and waits up to the shutdown timeout for the peer's before closing the
/// transport underneath; abort() drops everything and aborts it. The peer's close_notify is
/// eof_received. A peer that ends the connection without close_notify in the middle of a
/// record, garbage records and failed verification end the connection with an
/// errc::tls_* code (the details are logged). TLS has no half-close: can_write_eof() is false.
class TlsTransport : public Transport {
public:
    /// The peer's certificate (null if it sent none).
    virtual std::optional<TlsCertificate> peer_certificate() const = 0;
    /// The negotiated cipher suite ("TLS_AES_128_GCM_SHA256").
    virtual std::string cipher() const = 0;
    /// The negotiated version ("TLSv1.3").
    virtual std::string tls_version() const = 0;
    /// The protocol agreed by ALPN, empty when none was.
    virtual std::string alpn_protocol() const = 0;
    /// True when the handshake resumed an earlier session.
    virtual bool session_reused() const = 0;
    /// The name the client asked for (SNI; the client's server_hostname on its side).
    virtual std::string server_name() const = 0;
    /// The transport underneath (the TCP connection, the serial port).
    virtual Transport& lower_transport() noexcept = 0;

protected:
    using Transport::Transport;
};

/// How start_tls runs one connection's handshake and shutdown.
struct TlsStartOptions {
    // Not an aggregate (this constructor), on purpose: GCC 12 miscompiles aggregate
    // temporaries inside co_await expressions (members built in one place, a bitwise copy used,
    // both destroyed), and these options are passed to awaitable functions by value.
    TlsStartOptions() = default;
    /// Clients: the server's name, sent as SNI and checked against its certificate. Empty:
    /// no SNI, and a client context with check_hostname refuses to start.
    std::string server_hostname{};
    /// Give up a handshake after this long (asyncio's default: 60 s).
    std::chrono::milliseconds handshake_timeout{60'000};
    /// After close() sent close_notify, wait this long for the peer's (asyncio's: 30 s).
    std::chrono::milliseconds shutdown_timeout{30'000};
};

/// Receives the TLS transport once the handshake completed, or the error that ended it.
using TlsCallback = std::function<void(Result<std::shared_ptr<TlsTransport>>)>;

/// Upgrades `transport` (open, any kind) to TLS (asyncio's loop.start_tls; STARTTLS): its
/// protocol is replaced, the handshake runs as client or server after `context`, and when it
/// completes the protocol from `factory` gets connection_made and `done` the TLS transport.
/// A null factory keeps the transport's current protocol: it gets connection_made again, with
/// the TLS transport (which owns it from then on). May be called from the protocol's own
/// callbacks. A failed handshake aborts `transport` and reaches `done` as a ferry::Error
/// naming the peer and the reason ("TLS handshake with 127.0.0.1:7000 failed: certificate
/// verify failed (self-signed certificate)").
void start_tls(std::shared_ptr<Transport> transport, std::shared_ptr<TlsContext> context,
               TlsStartOptions options, ProtocolFactory factory, TlsCallback done);
/// Awaitable start_tls; throws ferry::Error. Cancelling it mid-handshake aborts the transport.
Task<std::shared_ptr<TlsTransport>> start_tls(std::shared_ptr<Transport> transport,
                                              std::shared_ptr<TlsContext> context,
                                              TlsStartOptions options = {},
                                              ProtocolFactory factory = {});

} // namespace ferry
