// libFuzzer target: a TLS server session fed arbitrary bytes, in chunks the input chooses.
// Whatever arrives, nothing crashes or leaks, no plain byte comes before the handshake is
// done, a failure is reported once with a TLS error code, and nothing follows it.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <ferry/error.hpp>
#include <ferry/tls.hpp>

#include "../../transports/src/tls/tls_session.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
}

/// A server context with a self-signed P-256 certificate, made once.
std::shared_ptr<ferry::TlsContext> server_context() {
    static const std::shared_ptr<ferry::TlsContext> context = [] {
        EVP_PKEY* key = EVP_EC_gen("P-256");
        X509* cert = X509_new();
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
        X509_set_pubkey(cert, key);
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("fuzz"), -1, -1, 0);
        X509_set_issuer_name(cert, name);
        X509_sign(cert, key, EVP_sha256());
        const std::string dir = (std::filesystem::temp_directory_path() /
                                 ("ferry-fuzz-tls-" + std::to_string(::getpid())))
                                    .string();
        std::filesystem::create_directories(dir);
        const std::string cert_path = dir + "/cert.pem";
        const std::string key_path = dir + "/key.pem";
        std::FILE* f = std::fopen(cert_path.c_str(), "w");
        PEM_write_X509(f, cert);
        std::fclose(f);
        f = std::fopen(key_path.c_str(), "w");
        PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
        std::fclose(f);
        X509_free(cert);
        EVP_PKEY_free(key);
        ferry::TlsOptions options;
        options.cert_file = cert_path;
        options.key_file = key_path;
        auto made = ferry::TlsContext::server(options);
        std::filesystem::remove_all(dir);
        return made;
    }();
    return context;
}

/// Checks the order and kinds of a session's events.
class CheckingSink final : public ferry::detail::TlsSink {
public:
    std::size_t sent = 0;
    void tls_send(ferry::ByteView records) override {
        if (failed_ && !records.empty() && sent_after_failure_++ > 0) {
            fail("records sent after the failure's alert");
        }
        sent += records.size();
    }
    void tls_handshake_done() override {
        if (done_ || failed_) {
            fail("handshake completed twice or after a failure");
        }
        done_ = true;
    }
    void tls_plain(ferry::ByteView) override {
        if (!done_ || failed_ || closed_) {
            fail("plain bytes before the handshake, after a failure or after close_notify");
        }
    }
    void tls_peer_closed() override {
        if (!done_ || failed_ || closed_) {
            fail("close_notify out of order");
        }
        closed_ = true;
    }
    void tls_failed(std::error_code code, const std::string& reason) override {
        if (failed_) {
            fail("a failure reported twice");
        }
        failed_ = true;
        using ferry::errc;
        if (code != make_error_code(errc::tls_handshake_failed) &&
            code != make_error_code(errc::tls_certificate_rejected) &&
            code != make_error_code(errc::tls_protocol_error) &&
            code != make_error_code(errc::tls_truncated)) {
            fail("a failure with a code that is not TLS's");
        }
        if (reason.empty()) {
            fail("a failure without a reason");
        }
    }
    bool tls_wants_plain() const override { return true; }

private:
    bool done_ = false;
    bool failed_ = false;
    bool closed_ = false;
    int sent_after_failure_ = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
    const auto context = server_context();
    ferry::detail::TlsSession session(*context, "", "fuzzer");
    CheckingSink sink;
    session.start(sink);
    const std::size_t chunk = size > 0 ? input[0] % 64 + 1 : 1;
    for (std::size_t at = size > 0 ? 1 : 0; at < size; at += chunk) {
        const std::size_t n = std::min(chunk, size - at);
        session.feed(ferry::ByteView(input + at, n), sink);
    }
    if (sink.sent > 64 * 1024 + size * 2) {
        fail("the session sent far more than it was given");
    }
    return 0;
}
