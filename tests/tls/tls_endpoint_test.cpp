// The tls: and tls-listen: endpoint descriptions: parsing, the canonical form, errors, and a
// TLS server and client opened from them.
#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../support/test_pki.hpp"
#include "../support/test_support.hpp"

namespace ferry::test {
namespace {

std::string parse_error(std::string_view description) {
    try {
        parse_endpoint(description);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(TlsEndpointTest, DescriptionsParseAndComeBackInCanonicalForm) {
    const Endpoint client =
        parse_endpoint("tls:device.example:7000:ca=/etc/ca.pem:cert=c.pem:key=c.key:"
                       "servername=other.example:alpn=ferry/1,http/1.1:timeout=5s");
    EXPECT_EQ(client.kind, EndpointKind::tls);
    EXPECT_EQ(client.host, "device.example");
    EXPECT_EQ(client.port, 7000);
    EXPECT_EQ(client.tls.ca_file, "/etc/ca.pem");
    EXPECT_EQ(client.tls.cert_file, "c.pem");
    EXPECT_EQ(client.tls.key_file, "c.key");
    EXPECT_EQ(client.tls_start.server_hostname, "other.example");
    EXPECT_EQ(client.tls.alpn, (std::vector<std::string>{"ferry/1", "http/1.1"}));
    EXPECT_EQ(client.tcp.timeout, std::chrono::seconds(5));
    EXPECT_FALSE(client.listens());

    const Endpoint server =
        parse_endpoint("tls-listen:7000:cert=s.pem:key=s.key:ca=clients.pem:verify=require:"
                       "rfc2217:min_version=1.3");
    EXPECT_EQ(server.kind, EndpointKind::tls_listen);
    EXPECT_TRUE(server.listens());
    EXPECT_EQ(server.host, "127.0.0.1");
    EXPECT_EQ(server.tls.client_certificates, ClientCertificates::require);
    EXPECT_EQ(server.tls.min_version, TlsVersion::tls1_3);
    EXPECT_TRUE(server.rfc2217_server);

    for (const Endpoint& e : {client, server}) {
        const std::string canonical = to_string(e);
        EXPECT_EQ(to_string(parse_endpoint(canonical)), canonical);
    }
    EXPECT_EQ(to_string(server),
              "tls-listen:7000:interface=127.0.0.1:cert=s.pem:key=s.key:ca=clients.pem:"
              "min_version=1.3:verify=require:rfc2217");
    EXPECT_NE(endpoint_help().find("tls-listen:PORT:cert=FILE:key=FILE"), std::string::npos);
    // A value holding ':' (a Windows path) comes in brackets, and goes back out in them.
    const Endpoint windows = parse_endpoint("tls:host:1:ca=[C:\\certs\\ca.pem]:cert=c.pem");
    EXPECT_EQ(windows.tls.ca_file, "C:\\certs\\ca.pem");
    EXPECT_EQ(to_string(windows), "tls:host:1:cert=c.pem:ca=[C:\\certs\\ca.pem]");
}

TEST(TlsEndpointTest, BadDescriptionsSayWhatIsMissing) {
    EXPECT_NE(parse_error("tls-listen:7000").find("tls-listen needs its certificate"),
              std::string::npos);
    EXPECT_NE(parse_error("tls-listen:7000:cert=s.pem:verify=require").find("need the clients' CA"),
              std::string::npos);
    EXPECT_NE(parse_error("tls-listen:7000:cert=s.pem:verify=sometimes").find("expected one of"),
              std::string::npos)
        << parse_error("tls-listen:7000:cert=s.pem:verify=sometimes");
    EXPECT_NE(parse_error("tls:host:1:ciphers=x").find("unknown option 'ciphers=x'"),
              std::string::npos);
    EXPECT_NE(parse_error("tls:host").find("tls needs HOST:PORT"), std::string::npos);
}

class TlsEndpointOpenTest : public LoopTest {};

TEST_F(TlsEndpointOpenTest, ATlsServerAndClientOpenedFromDescriptionsTalk) {
    const TestPki& pki = test_pki();
    auto at_server = std::make_shared<Recording>();
    // Each path in brackets: on Windows it holds a ':' (C:\...).
    auto server = loop.run_until_complete(listen(loop,
                                                 "tls-listen:0:cert=[" + pki.server_cert +
                                                     "]:key=[" + pki.server_key + "]:ca=[" +
                                                     pki.ca_cert + "]:verify=require",
                                                 recording_factory(at_server)));
    const std::string port = std::to_string(server->port());
    auto client = loop.run_until_complete(connect(loop,
                                                  "tls:127.0.0.1:" + port + ":ca=[" + pki.ca_cert +
                                                      "]:cert=[" + pki.client_cert + "]:key=[" +
                                                      pki.client_key + "]:servername=localhost",
                                                  [] { return std::make_unique<Protocol>(); }));
    client->write("over tls");
    ASSERT_TRUE(run_until(loop, [&] { return at_server->data == "over tls"; }));
    EXPECT_NE(dynamic_cast<TlsTransport*>(client.get()), nullptr);
    client->close();
    ASSERT_TRUE(run_until(loop, [&] { return at_server->has_lost(); }));
    server->close();
}

TEST_F(TlsEndpointOpenTest, AMissingFileIsAnErrorNamingTheEndpointAndTheFile) {
    try {
        loop.run_until_complete(connect(loop, "tls:127.0.0.1:1:ca=/nonexistent/ca.pem",
                                        [] { return std::make_unique<Protocol>(); }));
        ADD_FAILURE() << "connected";
    } catch (const Error& e) {
        const std::string text = e.what();
        EXPECT_NE(text.find("tls:127.0.0.1:1:ca=/nonexistent/ca.pem: TLS: cannot read CA file "
                            "'/nonexistent/ca.pem'"),
                  std::string::npos)
            << text;
    }
    try {
        loop.run_until_complete(listen(loop, "tls-listen:0:cert=/nonexistent/s.pem",
                                       [] { return std::make_unique<Protocol>(); }));
        ADD_FAILURE() << "listened";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot read certificate file '/nonexistent/s.pem'"),
                  std::string::npos)
            << e.what();
    }
}

} // namespace
} // namespace ferry::test
