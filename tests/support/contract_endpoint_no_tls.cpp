// A build without OpenSSL has no TLS fixtures in the contract suite.
#include "contract_endpoint.hpp"

namespace ferry::test {

std::vector<ContractKind> tls_contract_kinds() {
    return {};
}

} // namespace ferry::test
