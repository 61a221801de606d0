// The contract suite's TLS fixture: a TLS client or server over a socket pair, its TLS peer a
// ferry TLS transport bridged to the test's plain socket. Built where ferry has OpenSSL.
#include <optional>

#include <gtest/gtest.h>

#include "contract_endpoint.hpp"
#include "test_pki.hpp"
#include "test_support.hpp"
#include "wired.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

/// The transport under test is the client (test_client) or the server end of a TLS
/// connection over a socket pair. The other end is bridged to the peer's plain socket as
/// soon as its handshake completes, before any record after it is read, so whatever the
/// protocol under test writes in connection_made reaches the peer.
class TlsEndpoint final : public Endpoint {
public:
    explicit TlsEndpoint(bool test_client) : test_client_(test_client) {}

    std::shared_ptr<Transport> open(Loop& loop, ProtocolFactory factory) override {
        const TestPki& pki = test_pki();
        TlsOptions server_options;
        server_options.cert_file = pki.server_cert;
        server_options.key_file = pki.server_key;
        TlsOptions client_options;
        client_options.ca_file = pki.ca_cert;
        const auto server_context = TlsContext::server(server_options);
        const auto client_context = TlsContext::client(client_options);
        const ProtocolFactory holding = [] { return std::make_unique<Protocol>(); };

        Wired relay = wire_socket(loop, holding);
        peer_ = std::move(relay.peer);
        auto [client_wire, server_wire] = wire_transports(loop, holding, holding);
        std::optional<Result<std::shared_ptr<TlsTransport>>> under_test;
        const auto join_peer =
            [this, relay = relay.transport](Result<std::shared_ptr<TlsTransport>> other) {
                if (!other.ok()) {
                    ADD_FAILURE() << "the fixture's TLS end failed: " << other.message();
                    return;
                }
                bridge_ = bridge(relay, other.value());
            };
        const auto keep = [&under_test](Result<std::shared_ptr<TlsTransport>> result) {
            under_test.emplace(std::move(result));
        };
        TlsStartOptions client_start;
        client_start.server_hostname = "localhost";
        start_tls(server_wire, server_context, {}, test_client_ ? holding : factory,
                  test_client_ ? TlsCallback(join_peer) : TlsCallback(keep));
        start_tls(client_wire, client_context, client_start, test_client_ ? factory : holding,
                  test_client_ ? TlsCallback(keep) : TlsCallback(join_peer));
        run_until(
            loop, [&] { return under_test.has_value() && bridge_ != nullptr; }, 10s);
        if (!under_test || !under_test->ok() || !bridge_) {
            ADD_FAILURE() << (under_test ? under_test->message() : "TLS did not start");
            return nullptr;
        }
        return under_test->value();
    }

private:
    bool test_client_;
    std::shared_ptr<Bridge> bridge_;
};

} // namespace

std::vector<ContractKind> tls_contract_kinds() {
    ContractKind client;
    client.name = "TlsClient";
    client.make = [] { return std::make_unique<TlsEndpoint>(true); };
    client.peer_can_half_close = false; // its end of data closes the connection (no half-close)
    ContractKind server = client;
    server.name = "TlsServer";
    server.make = [] { return std::make_unique<TlsEndpoint>(false); };
    return {client, server};
}

} // namespace ferry::test
