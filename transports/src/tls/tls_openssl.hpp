#pragma once
// What the TLS files share inside ferry::transports: OpenSSL's error queue turned into ferry's
// errors, and the context's parts the connections use. Only the tls/ files include OpenSSL.

#include <string>
#include <system_error>

#include <openssl/ssl.h>

#include <ferry/tls.hpp>

namespace ferry::detail {

/// Empties OpenSSL's error queue of this thread into one line ("wrong version number"), or
/// `fallback` when it holds nothing.
std::string take_openssl_errors(const std::string& fallback = "unknown OpenSSL error");

/// What a failed handshake or record means, and the line that says why.
struct TlsFailure {
    std::error_code code;
    std::string reason;
};

/// Classifies the failure SSL_get_error reported as `ssl_error` on `ssl` (after
/// SSL_do_handshake, SSL_read or SSL_write), taking OpenSSL's error queue.
TlsFailure classify_tls_failure(SSL* ssl, int ssl_error, bool handshaking);

/// Makes `context` trust the system's CA certificates: OpenSSL's default paths on POSIX
/// (tls_system_ca_posix.cpp), the Windows "ROOT" certificate store on Windows
/// (tls_system_ca_win.cpp). Throws ferry::Error naming what failed.
void trust_system_cas(SSL_CTX* context);

/// The parts of a TlsContext its connections use.
struct TlsContextAccess {
    /// The last session kept for `name` on a client context (a new reference), or null.
    static SSL_SESSION* session_for(const TlsContext& context, const std::string& name);
    /// The OpenSSL ex_data index where a connection keeps its session key (a std::string*).
    static int session_key_index();
};

} // namespace ferry::detail
