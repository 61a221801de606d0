// The system's CA certificates on POSIX: where Debian's OpenSSL looks by default
// (/etc/ssl/certs, or SSL_CERT_FILE / SSL_CERT_DIR when set).
#include <ferry/error.hpp>

#include "tls/tls_openssl.hpp"

namespace ferry::detail {

void trust_system_cas(SSL_CTX* context) {
    if (SSL_CTX_set_default_verify_paths(context) != 1) {
        throw Error(make_error_code(errc::invalid_argument),
                    "TLS: cannot load the system's CA certificates: " + take_openssl_errors());
    }
}

} // namespace ferry::detail
