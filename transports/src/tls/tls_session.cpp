// TlsSession: OpenSSL over a record BIO (tls_record_bio.hpp). Every OpenSSL call is followed
// by sending what it wrote, so records leave in the order they were made.
#include "tls/tls_session.hpp"

#include <array>
#include <optional>
#include <utility>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ferry/error.hpp>

#include "tls/tls_openssl.hpp"

namespace ferry::detail {
namespace {

/// The most plain bytes one TLS record carries: SSL_read never returns more.
constexpr std::size_t max_record_plain = 16 * 1024;
/// Plain bytes gathered from consecutive records for one delivery: a bulk reader gets up to
/// 64 KiB per data_received and answers with one write, encrypted into one lower write,
/// rather than a call, an encryption and a system call per 16 KiB record.
constexpr std::size_t plain_batch = 64 * 1024;
/// Ciphertext buffer kept by a connection whose traffic is small (a ping's records fit).
constexpr std::size_t kept_ciphertext_capacity = 4 * 1024;

/// True when `name` is a numeric IPv4 or IPv6 address (no SNI for those, RFC 6066).
bool is_ip_address(const std::string& name) {
    ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(name.c_str());
    ASN1_OCTET_STRING_free(parsed);
    return parsed != nullptr;
}

/// What `print` writes to a memory BIO, as a string.
template <class Print>
std::string printed(Print&& print) {
    BIO* out = BIO_new(BIO_s_mem());
    if (out == nullptr) {
        throw std::bad_alloc();
    }
    print(out);
    char* text = nullptr;
    const long length = BIO_get_mem_data(out, &text);
    std::string line(text, static_cast<std::size_t>(length));
    BIO_free(out);
    return line;
}

[[noreturn]] void refuse(SSL* ssl, const std::string& why) {
    SSL_free(ssl);
    ERR_clear_error();
    throw Error(make_error_code(errc::invalid_argument), "TLS: " + why);
}

} // namespace

TlsSession::TlsSession(const TlsContext& context, const std::string& server_hostname,
                       const std::string& peer)
    : server_hostname_(server_hostname) {
    SSL* ssl = SSL_new(context.native_handle());
    BIO* bio = make_record_bio(records_);
    if (ssl == nullptr || bio == nullptr) {
        BIO_free(bio);
        refuse(ssl, "cannot start a connection: " + take_openssl_errors());
    }
    SSL_set_bio(ssl, bio, bio); // one reference, for reading and writing: the SSL owns it
    if (context.is_server()) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        const std::string& name = server_hostname;
        const TlsOptions& policy = context.options();
        const bool ip = !name.empty() && is_ip_address(name);
        if (!name.empty() && !ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
            refuse(ssl, "cannot send the server name '" + name + "'");
        }
        if (policy.verify_peer && policy.check_hostname) {
            if (name.empty()) {
                refuse(ssl, "server_hostname is needed to check the server's certificate (or "
                            "turn check_hostname off)");
            }
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                               : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
            if (set != 1) {
                refuse(ssl, "cannot check the server name '" + name + "'");
            }
        }
        if (policy.session_resumption) {
            // One server, one session: its name and where it is (two ports, two servers).
            session_key_ = name + " " + peer;
            SSL_set_ex_data(ssl, TlsContextAccess::session_key_index(), &session_key_);
            if (SSL_SESSION* session = TlsContextAccess::session_for(context, session_key_)) {
                SSL_set_session(ssl, session);
                SSL_SESSION_free(session);
            }
        }
    }
    ssl_ = ssl;
}

TlsSession::~TlsSession() {
    SSL_free(ssl_);
}

void TlsSession::start(TlsSink& sink) noexcept {
    advance_handshake(sink);
}

void TlsSession::feed(ByteView ciphertext, TlsSink& sink) {
    if (failed_) {
        return;
    }
    // Copied, not read in place: the plain bytes are delivered into the loop's read buffer,
    // which may be where `ciphertext` is.
    records_.unread.insert(records_.unread.end(), ciphertext.begin(), ciphertext.end());
    if (handshaking_) {
        advance_handshake(sink); // reads what follows the handshake itself
    } else {
        read_buffered(sink);
    }
    // A bulk transfer's buffer is kept while bulk lasts, and released once the traffic turns
    // small, so that a quiet connection holds little.
    if (records_.readable() == 0 && ciphertext.size() <= kept_ciphertext_capacity &&
        records_.unread.capacity() > kept_ciphertext_capacity) {
        Bytes().swap(records_.unread);
    }
}

void TlsSession::advance_handshake(TlsSink& sink) noexcept {
    ERR_clear_error();
    const int result = SSL_do_handshake(ssl_);
    flush(sink);
    if (result == 1) {
        handshaking_ = false;
        sink.tls_handshake_done();
        read_buffered(sink); // what came with the last handshake records
        return;
    }
    const int error = SSL_get_error(ssl_, result);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        fail(sink, error);
    }
}

void TlsSession::read_buffered(TlsSink& sink) noexcept {
    static thread_local std::array<std::byte, plain_batch> plain;
    while (!failed_ && !handshaking_ && !peer_closed_ && sink.tls_wants_plain()) {
        std::size_t gathered = 0;
        int n = 0;
        do {
            ERR_clear_error();
            n = SSL_read(ssl_, plain.data() + gathered, static_cast<int>(plain.size() - gathered));
            gathered += n > 0 ? static_cast<std::size_t>(n) : 0;
        } while (n > 0 && plain.size() - gathered >= max_record_plain);
        // What stopped the gathering is read now: delivering the plain bytes first runs the
        // protocol, whose writes use OpenSSL's error queue.
        const int error = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, n);
        std::optional<TlsFailure> failure;
        if (error != SSL_ERROR_NONE && error != SSL_ERROR_WANT_READ &&
            error != SSL_ERROR_WANT_WRITE && error != SSL_ERROR_ZERO_RETURN) {
            failure = classify_tls_failure(ssl_, error, handshaking_);
        }
        if (gathered > 0) {
            sink.tls_plain(ByteView(plain.data(), gathered)); // data before an error comes first
        }
        if (error == SSL_ERROR_NONE || failed_) {
            continue; // the batch was full (more may wait), or the protocol's write failed
        }
        flush(sink); // session tickets, key-update answers, alerts
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            return;
        }
        if (error == SSL_ERROR_ZERO_RETURN) {
            peer_closed_ = true;
            sink.tls_peer_closed();
            return;
        }
        fail(sink, *failure);
    }
}

void TlsSession::fail(TlsSink& sink, int ssl_error) noexcept {
    fail(sink, classify_tls_failure(ssl_, ssl_error, handshaking_));
}

void TlsSession::fail(TlsSink& sink, const TlsFailure& failure) noexcept {
    failed_ = true;
    flush(sink); // the alert telling the peer why
    try {
        sink.tls_failed(failure.code, failure.reason);
    } catch (...) {
        // A sink that throws here has nothing to learn from it.
    }
}

void TlsSession::encrypt(ByteView plain, Bytes& out) {
    if (failed_) {
        throw Error(make_error_code(errc::tls_protocol_error), "TLS: the session failed");
    }
    ERR_clear_error();
    take_output(out); // records made earlier go first
    // The records go straight into `out`; the BIO takes everything, so SSL_write never stops
    // half way.
    records_.target = &out;
    const int written = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
    records_.target = &records_.outbox;
    if (written <= 0) {
        const TlsFailure failure =
            classify_tls_failure(ssl_, SSL_get_error(ssl_, written), handshaking_);
        failed_ = true;
        throw Error(failure.code, "TLS: " + failure.reason);
    }
}

bool TlsSession::shut_down(TlsSink& sink) noexcept {
    if (failed_) {
        return true;
    }
    ERR_clear_error();
    const int result = SSL_shutdown(ssl_); // writes our close_notify
    flush(sink);
    ERR_clear_error();
    return result == 1 || peer_closed_;
}

bool TlsSession::has_partial_record() const noexcept {
    return records_.readable() > 0 || SSL_has_pending(ssl_) == 1;
}

void TlsSession::take_output(Bytes& out) {
    if (!records_.outbox.empty()) {
        out.insert(out.end(), records_.outbox.begin(), records_.outbox.end());
        records_.outbox.clear();
    }
}

void TlsSession::flush(TlsSink& sink) noexcept {
    if (records_.outbox.empty()) {
        return;
    }
    // Sent from a buffer of its own: sending may run code that makes more records.
    Bytes records;
    records.swap(records_.outbox);
    try {
        sink.tls_send(records);
    } catch (const std::bad_alloc&) {
        // lost: the connection fails at its next record
    }
}

// ---- extras ----------------------------------------------------------------------------------

std::optional<TlsCertificate> TlsSession::peer_certificate() const {
    X509* certificate = SSL_get1_peer_certificate(ssl_);
    if (certificate == nullptr) {
        return std::nullopt;
    }
    TlsCertificate result;
    try {
        result.subject = printed([&](BIO* out) {
            X509_NAME_print_ex(out, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
        });
        result.issuer = printed([&](BIO* out) {
            X509_NAME_print_ex(out, X509_get_issuer_name(certificate), 0, XN_FLAG_RFC2253);
        });
        result.not_before =
            printed([&](BIO* out) { ASN1_TIME_print(out, X509_get0_notBefore(certificate)); });
        result.not_after =
            printed([&](BIO* out) { ASN1_TIME_print(out, X509_get0_notAfter(certificate)); });
        auto* names = static_cast<GENERAL_NAMES*>(
            X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
        for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
            if (name->type == GEN_DNS) {
                const ASN1_STRING* dns = name->d.dNSName;
                result.dns_names.emplace_back(
                    reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                    static_cast<std::size_t>(ASN1_STRING_length(dns)));
            }
        }
        GENERAL_NAMES_free(names);
        const int length = i2d_X509(certificate, nullptr);
        if (length > 0) {
            result.der.resize(static_cast<std::size_t>(length));
            auto* at = reinterpret_cast<unsigned char*>(result.der.data());
            i2d_X509(certificate, &at);
        }
    } catch (...) {
        X509_free(certificate);
        throw;
    }
    X509_free(certificate);
    return result;
}

std::string TlsSession::cipher() const {
    const SSL_CIPHER* current = SSL_get_current_cipher(ssl_);
    return current != nullptr ? SSL_CIPHER_get_name(current) : "";
}

std::string TlsSession::version() const {
    return SSL_get_version(ssl_);
}

std::string TlsSession::alpn_protocol() const {
    const unsigned char* name = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(ssl_, &name, &length);
    return name != nullptr ? std::string(reinterpret_cast<const char*>(name), length) : "";
}

bool TlsSession::session_reused() const {
    return SSL_session_reused(ssl_) == 1;
}

std::string TlsSession::server_name() const {
    const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    return name != nullptr ? name : server_hostname_;
}

} // namespace ferry::detail
