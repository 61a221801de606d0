// The system's CA certificates on Windows: the "ROOT" certificate store (what Python's
// ssl.create_default_context loads there). OpenSSL's default paths point into the prefix it
// was built for, which holds nothing on a user's machine.
#include <windows.h>

#include <wincrypt.h> // before OpenSSL, whose headers undo wincrypt's X509_NAME macros

#include <string>

#include <openssl/err.h>
#include <openssl/x509.h>

#include <ferry/error.hpp>

#include "tls/tls_openssl.hpp"

namespace ferry::detail {

void trust_system_cas(SSL_CTX* context) {
    HCERTSTORE store = CertOpenSystemStoreW(0, L"ROOT");
    if (store == nullptr) {
        throw Error(make_error_code(errc::invalid_argument),
                    "TLS: cannot open the Windows ROOT certificate store (error " +
                        std::to_string(GetLastError()) + ")");
    }
    X509_STORE* trusted = SSL_CTX_get_cert_store(context);
    const CERT_CONTEXT* certificate = nullptr;
    while ((certificate = CertEnumCertificatesInStore(store, certificate)) != nullptr) {
        if (certificate->dwCertEncodingType != X509_ASN_ENCODING) {
            continue;
        }
        const unsigned char* der = certificate->pbCertEncoded;
        X509* parsed = d2i_X509(nullptr, &der, static_cast<long>(certificate->cbCertEncoded));
        if (parsed != nullptr) {
            X509_STORE_add_cert(trusted, parsed); // a duplicate is refused, harmlessly
            X509_free(parsed);
        }
    }
    ERR_clear_error(); // certificates OpenSSL could not parse or already had are skipped
    CertCloseStore(store, 0);
}

} // namespace ferry::detail
