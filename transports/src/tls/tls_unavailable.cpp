// TLS in a build without OpenSSL: every entry point says so. (The Windows cross-build has no
// OpenSSL yet; see third_party/dependencies.cmake.)
#include <ferry/error.hpp>
#include <ferry/tls.hpp>

namespace ferry {
namespace {
[[noreturn]] void unavailable() {
    throw Error(make_error_code(errc::not_supported), "TLS: this build of ferry has no OpenSSL");
}
} // namespace

class TlsContext::Sessions {};

std::shared_ptr<TlsContext> TlsContext::client(TlsOptions) {
    unavailable();
}
std::shared_ptr<TlsContext> TlsContext::server(TlsOptions) {
    unavailable();
}
TlsContext::~TlsContext() = default;

void start_tls(std::shared_ptr<Transport>, std::shared_ptr<TlsContext>, TlsStartOptions,
               ProtocolFactory, TlsCallback) {
    unavailable();
}

Task<std::shared_ptr<TlsTransport>> start_tls(std::shared_ptr<Transport>,
                                              std::shared_ptr<TlsContext>, TlsStartOptions,
                                              ProtocolFactory) {
    unavailable();
}

} // namespace ferry
