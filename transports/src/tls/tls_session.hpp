#pragma once
// TlsSession: OpenSSL's side of one TLS connection, without I/O — ciphertext in, plaintext and
// records out, through the record BIO (tls_record_bio.hpp). The TLS transport drives one; being
// pure, it is also what tests/fuzz/fuzz_tls.cpp feeds arbitrary bytes.

#include <optional>
#include <string>
#include <system_error>

#include <openssl/ssl.h>

#include <ferry/bytes.hpp>
#include <ferry/tls.hpp>

#include "tls/tls_record_bio.hpp"

namespace ferry::detail {

struct TlsFailure;

/// Where a session's events go, in the order they happen.
class TlsSink {
public:
    virtual ~TlsSink() = default;
    /// Records to send now (handshake, session tickets, alerts, close_notify), in order.
    virtual void tls_send(ByteView records) = 0;
    /// The handshake completed; plain data may follow in the same feed().
    virtual void tls_handshake_done() = 0;
    /// Decrypted application data.
    virtual void tls_plain(ByteView plain) = 0;
    /// The peer's close_notify: it sends nothing more.
    virtual void tls_peer_closed() = 0;
    /// The session failed: `reason` is OpenSSL's, with the verify result for a refused
    /// certificate. Nothing follows.
    virtual void tls_failed(std::error_code code, const std::string& reason) = 0;
    /// False to stop decrypting for now (the connection is closing).
    virtual bool tls_wants_plain() const = 0;
};

/// One connection's TLS state. Not thread-safe; any thread (the loop's, in ferry).
class TlsSession {
public:
    /// A client (SNI and name check for `server_hostname`) or server session after `context`;
    /// `peer` keys a client's kept session. Throws ferry::Error(invalid_argument).
    TlsSession(const TlsContext& context, const std::string& server_hostname,
               const std::string& peer);
    ~TlsSession();
    TlsSession(const TlsSession&) = delete; // ssl_'s BIO points at records_
    TlsSession& operator=(const TlsSession&) = delete;

    /// Starts the handshake (a client's first flight goes to `sink`).
    void start(TlsSink& sink) noexcept;
    /// Takes ciphertext from the peer: advances the handshake, decrypts what is whole.
    void feed(ByteView ciphertext, TlsSink& sink);
    /// Decrypts what is buffered (after tls_wants_plain() turned true again).
    void read_buffered(TlsSink& sink) noexcept;
    /// Appends `plain` encrypted to `out`; throws ferry::Error once the session failed.
    void encrypt(ByteView plain, Bytes& out);
    /// Sends close_notify; true when the peer's has arrived too (nothing to wait for).
    bool shut_down(TlsSink& sink) noexcept;

    /// True until the handshake completed.
    bool handshaking() const noexcept { return handshaking_; }
    /// True once the session failed.
    bool failed() const noexcept { return failed_; }
    /// True once the peer's close_notify arrived.
    bool peer_closed() const noexcept { return peer_closed_; }
    /// True while part of a record waits for the rest.
    bool has_partial_record() const noexcept;

    /// The peer's certificate, if it sent one.
    std::optional<TlsCertificate> peer_certificate() const;
    /// The cipher suite, the version, the ALPN protocol, whether the session was resumed, the
    /// SNI name (TlsTransport's extras).
    std::string cipher() const;
    std::string version() const;
    std::string alpn_protocol() const;
    bool session_reused() const;
    std::string server_name() const;

private:
    void advance_handshake(TlsSink& sink) noexcept;
    void flush(TlsSink& sink) noexcept;
    void take_output(Bytes& out);
    void fail(TlsSink& sink, int ssl_error) noexcept;
    void fail(TlsSink& sink, const TlsFailure& failure) noexcept;

    TlsRecordBuffers records_; // ciphertext both ways, behind ssl_'s BIO
    SSL* ssl_ = nullptr;
    std::string server_hostname_;
    std::string session_key_;
    bool handshaking_ = true;
    bool failed_ = false;
    bool peer_closed_ = false;
};

} // namespace ferry::detail
