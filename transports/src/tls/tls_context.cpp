// TlsContext: an OpenSSL SSL_CTX configured from TlsOptions, with errors that name the file
// and the reason; the client's session cache; OpenSSL's errors turned into ferry's.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ferry/error.hpp>

#include "tls/tls_openssl.hpp"
#include "tls/tls_wrapping.hpp"

namespace ferry {
namespace {

/// How many servers' sessions a client context keeps; beyond it the oldest name is dropped.
constexpr std::size_t max_kept_sessions = 1024;

[[noreturn]] void fail(const std::string& what) {
    throw Error(make_error_code(errc::invalid_argument), "TLS: " + what);
}

/// Fails with the OS's reason when `path` cannot be opened; OpenSSL's own message for a
/// missing file is "system lib", which helps nobody.
void require_readable(const std::string& path, const char* what) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        fail(std::string("cannot read ") + what + " '" + path + "': " + std::strerror(errno));
    }
    std::fclose(file);
}

/// ALPN's wire form: each name preceded by its length.
std::string alpn_wire(const std::vector<std::string>& names) {
    std::string wire;
    for (const std::string& name : names) {
        if (name.empty() || name.size() > 255) {
            fail("ALPN protocol names must be 1 to 255 bytes ('" + name + "')");
        }
        wire += static_cast<char>(name.size());
        wire += name;
    }
    return wire;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void* arg) {
    const auto* ours = static_cast<const std::string*>(arg);
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_length,
                              reinterpret_cast<const unsigned char*>(ours->data()),
                              static_cast<unsigned int>(ours->size()), offered,
                              offered_length) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK; // no common protocol: go on without ALPN, as Python does
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

} // namespace

/// The last session per server name, for client contexts (shared by every loop using it).
class TlsContext::Sessions {
public:
    ~Sessions() {
        for (auto& [name, session] : sessions_) {
            SSL_SESSION_free(session);
        }
    }
    /// Keeps `session` (taking the caller's reference) as the one to resume for `name`.
    void keep(const std::string& name, SSL_SESSION* session) {
        const std::lock_guard lock(mutex_);
        auto [at, added] = sessions_.try_emplace(name, session);
        if (!added) {
            SSL_SESSION_free(at->second);
            at->second = session;
        } else if (sessions_.size() > max_kept_sessions) {
            auto victim = sessions_.begin() == at ? std::next(at) : sessions_.begin();
            SSL_SESSION_free(victim->second);
            sessions_.erase(victim);
        }
    }
    /// The session kept for `name`, with a new reference, or null.
    SSL_SESSION* find(const std::string& name) {
        const std::lock_guard lock(mutex_);
        const auto at = sessions_.find(name);
        if (at == sessions_.end() || SSL_SESSION_is_resumable(at->second) == 0) {
            return nullptr;
        }
        SSL_SESSION_up_ref(at->second);
        return at->second;
    }

private:
    std::mutex mutex_;
    std::map<std::string, SSL_SESSION*> sessions_;
};

namespace {

int keep_new_session(SSL* ssl, SSL_SESSION* session) {
    const auto* key = static_cast<const std::string*>(
        SSL_get_ex_data(ssl, detail::TlsContextAccess::session_key_index()));
    auto* sessions = static_cast<TlsContext::Sessions*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    if (key == nullptr || key->empty() || sessions == nullptr) {
        return 0;
    }
    try {
        sessions->keep(*key, session);
    } catch (const std::bad_alloc&) {
        return 0;
    }
    return 1; // the reference is ours now
}

} // namespace

std::shared_ptr<TlsContext> TlsContext::client(TlsOptions options) {
    return std::shared_ptr<TlsContext>(new TlsContext(false, std::move(options)));
}

std::shared_ptr<TlsContext> TlsContext::server(TlsOptions options) {
    return std::shared_ptr<TlsContext>(new TlsContext(true, std::move(options)));
}

TlsContext::TlsContext(bool server, TlsOptions options)
    : server_(server), options_(std::move(options)) {
    detail::tls_wrapping.store(&detail::openssl_tls_wrapping, std::memory_order_release);
    ERR_clear_error();
    context_ = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (context_ == nullptr) {
        fail("cannot make a context: " + detail::take_openssl_errors());
    }
    // From here on the destructor does not run if the constructor throws: free by hand.
    try {
        const TlsOptions& o = options_;
        SSL_CTX_set_min_proto_version(
            context_, o.min_version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
        // Idle connections give their record buffers back; writes are never partial (the
        // record BIO takes everything), and a retried write may come from another address.
        SSL_CTX_set_mode(context_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(context_, o.ciphers.c_str()) != 1) {
            fail("no usable TLS 1.2 cipher in '" + o.ciphers +
                 "': " + detail::take_openssl_errors());
        }
        if (!o.ciphersuites.empty() &&
            SSL_CTX_set_ciphersuites(context_, o.ciphersuites.c_str()) != 1) {
            fail("no usable TLS 1.3 cipher suite in '" + o.ciphersuites +
                 "': " + detail::take_openssl_errors());
        }
        if (server && o.cert_file.empty()) {
            fail("a server needs a certificate (cert_file)");
        }
        if (!o.cert_file.empty()) {
            const std::string& key = o.key_file.empty() ? o.cert_file : o.key_file;
            require_readable(o.cert_file, "certificate file");
            if (SSL_CTX_use_certificate_chain_file(context_, o.cert_file.c_str()) != 1) {
                fail("cannot load a certificate from '" + o.cert_file +
                     "': " + detail::take_openssl_errors());
            }
            require_readable(key, "private key file");
            if (SSL_CTX_use_PrivateKey_file(context_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
                const unsigned long why = ERR_peek_last_error();
                if (ERR_GET_LIB(why) == ERR_LIB_X509 &&
                    ERR_GET_REASON(why) == X509_R_KEY_VALUES_MISMATCH) {
                    ERR_clear_error();
                    fail("private key '" + key + "' does not match the certificate in '" +
                         o.cert_file + "'");
                }
                fail("cannot load a private key from '" + key +
                     "': " + detail::take_openssl_errors());
            }
            if (SSL_CTX_check_private_key(context_) != 1) {
                ERR_clear_error();
                fail("private key '" + key + "' does not match the certificate in '" + o.cert_file +
                     "'");
            }
        } else if (!o.key_file.empty()) {
            fail("a private key (key_file) needs its certificate (cert_file)");
        }
        const bool has_ca = !o.ca_file.empty() || !o.ca_dir.empty();
        if (!o.ca_file.empty()) {
            require_readable(o.ca_file, "CA file");
        }
        if (has_ca &&
            SSL_CTX_load_verify_locations(context_, o.ca_file.empty() ? nullptr : o.ca_file.c_str(),
                                          o.ca_dir.empty() ? nullptr : o.ca_dir.c_str()) != 1) {
            fail("cannot load CA certificates from '" + (o.ca_file.empty() ? o.ca_dir : o.ca_file) +
                 "': " + detail::take_openssl_errors());
        }
        if (server) {
            if (o.client_certificates != ClientCertificates::none) {
                if (!has_ca) {
                    fail("client certificates are asked for, but no CA (ca_file or ca_dir) "
                         "says which to trust");
                }
                int mode = SSL_VERIFY_PEER;
                if (o.client_certificates == ClientCertificates::require) {
                    mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
                }
                SSL_CTX_set_verify(context_, mode, nullptr);
                if (!o.ca_file.empty()) {
                    // Tell clients which issuers we accept (their certificate choice).
                    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str())) {
                        SSL_CTX_set_client_CA_list(context_, names);
                    }
                }
            }
            // Sessions resumed across a client-certificate check need an id context.
            static constexpr unsigned char id[] = "ferry";
            SSL_CTX_set_session_id_context(context_, id, sizeof id - 1);
            if (!o.session_resumption) {
                SSL_CTX_set_session_cache_mode(context_, SSL_SESS_CACHE_OFF);
                SSL_CTX_set_options(context_, SSL_OP_NO_TICKET);
                SSL_CTX_set_num_tickets(context_, 0);
            }
        } else {
            SSL_CTX_set_verify(context_, o.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                               nullptr);
            if (o.verify_peer && !has_ca && o.use_system_ca) {
                detail::trust_system_cas(context_);
            }
            if (o.session_resumption) {
                sessions_ = std::make_unique<Sessions>();
                SSL_CTX_set_app_data(context_, sessions_.get());
                SSL_CTX_set_session_cache_mode(context_, SSL_SESS_CACHE_CLIENT |
                                                             SSL_SESS_CACHE_NO_INTERNAL_STORE);
                SSL_CTX_sess_set_new_cb(context_, keep_new_session);
            } else {
                SSL_CTX_set_session_cache_mode(context_, SSL_SESS_CACHE_OFF);
                SSL_CTX_set_options(context_, SSL_OP_NO_TICKET);
            }
        }
        if (!o.alpn.empty()) {
            // In wire form, kept for the server's callback (it lives as long as the context).
            alpn_wire_ = alpn_wire(o.alpn);
            if (server) {
                SSL_CTX_set_alpn_select_cb(context_, select_alpn, &alpn_wire_);
            } else if (SSL_CTX_set_alpn_protos(
                           context_, reinterpret_cast<const unsigned char*>(alpn_wire_.data()),
                           static_cast<unsigned int>(alpn_wire_.size())) != 0) {
                fail("cannot offer ALPN protocols: " + detail::take_openssl_errors());
            }
        }
    } catch (...) {
        SSL_CTX_free(context_);
        throw;
    }
}

TlsContext::~TlsContext() {
    SSL_CTX_free(context_);
}

namespace detail {

SSL_SESSION* TlsContextAccess::session_for(const TlsContext& context, const std::string& name) {
    return context.sessions_ ? context.sessions_->find(name) : nullptr;
}

int TlsContextAccess::session_key_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

std::string take_openssl_errors(const std::string& fallback) {
    std::string text;
    while (const unsigned long error = ERR_get_error()) {
        const char* reason = ERR_reason_error_string(error);
        std::string line = reason != nullptr ? reason : "error " + std::to_string(error);
        if (text.find(line) == std::string::npos) {
            text += text.empty() ? line : "; " + line;
        }
    }
    return text.empty() ? fallback : text;
}

TlsFailure classify_tls_failure(SSL* ssl, int ssl_error, bool handshaking) {
    const unsigned long first = ERR_peek_error();
    const int reason = first != 0 && ERR_GET_LIB(first) == ERR_LIB_SSL ? ERR_GET_REASON(first) : 0;
    TlsFailure failure;
    if (ssl_error == SSL_ERROR_SYSCALL && first == 0) {
        failure.code = make_error_code(errc::tls_truncated);
        failure.reason = "the peer ended the connection without close_notify";
        return failure;
    }
    failure.reason = take_openssl_errors();
    switch (reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED: {
        const long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) {
            failure.reason += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
        }
        failure.code = make_error_code(errc::tls_certificate_rejected);
        return failure;
    }
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        failure.code = make_error_code(errc::tls_certificate_rejected);
        return failure;
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
        if (handshaking) {
            failure.reason += " (the peer does not speak TLS)";
        }
        [[fallthrough]];
    default:
        failure.code =
            make_error_code(handshaking ? errc::tls_handshake_failed : errc::tls_protocol_error);
        return failure;
    }
}

} // namespace detail
} // namespace ferry
