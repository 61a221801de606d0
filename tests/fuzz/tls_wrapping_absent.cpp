// The TLS fuzzer links TLS contexts and sessions without the transports: a context installs
// the TCP factories' TLS steps (tls_wrapping.hpp), which nothing in the fuzzer calls.
#include "tls/tls_wrapping.hpp"

namespace ferry::detail {

const TlsWrapping openssl_tls_wrapping{nullptr, nullptr};

} // namespace ferry::detail
