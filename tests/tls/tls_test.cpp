// TLS: contexts and their errors, ferry client against ferry server over loopback TCP, the
// extras, session resumption, ALPN, and the bad peers the issue lists (refused certificates,
// a plaintext client, a silent server). Portable: the Windows build runs it under Wine.
#include <gtest/gtest.h>

#include <array>
#include <numeric>

#include <ferry/ferry.hpp>

#include "../support/test_pki.hpp"
#include "../support/test_support.hpp"
#include "../support/wired.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<TlsContext> server_context(TlsOptions extra = {}) {
    const TestPki& pki = test_pki();
    if (extra.cert_file.empty()) {
        extra.cert_file = pki.server_cert;
        extra.key_file = pki.server_key;
    }
    return TlsContext::server(std::move(extra));
}

std::shared_ptr<TlsContext> client_context(TlsOptions extra = {}) {
    if (extra.ca_file.empty()) {
        extra.ca_file = test_pki().ca_cert;
    }
    return TlsContext::client(std::move(extra));
}

/// An echo protocol: every byte back.
class Echo final : public Protocol {
    void connection_made(Transport& transport) override { transport_ = &transport; }
    void data_received(ByteView data) override { transport_->write(data); }
    Transport* transport_ = nullptr;
};

ProtocolFactory echo_factory() {
    return [] { return std::make_unique<Echo>(); };
}

std::string message_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

// ---- contexts ---------------------------------------------------------------------------

TEST(TlsContextTest, MissingFilesAreNamedWithTheReason) {
    const std::string text = message_of([] {
        TlsOptions o;
        o.cert_file = "/nonexistent/server.pem";
        TlsContext::server(o);
    });
    EXPECT_NE(text.find("/nonexistent/server.pem"), std::string::npos) << text;
    EXPECT_NE(text.find("No such file"), std::string::npos) << text;

    const std::string ca = message_of([] {
        TlsOptions o;
        o.ca_file = "/nonexistent/ca.pem";
        TlsContext::client(o);
    });
    EXPECT_NE(ca.find("CA file '/nonexistent/ca.pem'"), std::string::npos) << ca;
}

TEST(TlsContextTest, AKeyThatDoesNotMatchTheCertificateIsRefused) {
    const TestPki& pki = test_pki();
    const std::string text = message_of([&] {
        TlsOptions o;
        o.cert_file = pki.server_cert;
        o.key_file = pki.stray_key;
        TlsContext::server(o);
    });
    EXPECT_NE(text.find("does not match the certificate in '" + pki.server_cert + "'"),
              std::string::npos)
        << text;
}

TEST(TlsContextTest, ServersNeedACertificateAndClientChecksNeedACa) {
    EXPECT_NE(message_of([] { TlsContext::server({}); }).find("needs a certificate"),
              std::string::npos);
    TlsOptions o;
    o.client_certificates = ClientCertificates::require;
    const std::string text = message_of([&] { server_context(o); });
    EXPECT_NE(text.find("no CA"), std::string::npos) << text;
    TlsOptions bad_ciphers;
    bad_ciphers.ciphers = "NO-SUCH-CIPHER";
    EXPECT_NE(message_of([&] { client_context(bad_ciphers); }).find("NO-SUCH-CIPHER"),
              std::string::npos);
}

TEST(TlsContextTest, ThePemFileIsNotAKey) {
    const TestPki& pki = test_pki();
    const std::string text = message_of([&] {
        TlsOptions o;
        o.cert_file = pki.server_cert;
        o.key_file = pki.ca_cert; // a certificate, not a key
        TlsContext::server(o);
    });
    EXPECT_NE(text.find("cannot load a private key from '" + pki.ca_cert + "'"), std::string::npos)
        << text;
}

// ---- ferry client, ferry server ---------------------------------------------------------

class TlsTest : public LoopTest {
protected:
    /// A TLS echo server on 127.0.0.1 with `context` (the test CA's server certificate).
    std::shared_ptr<Server> echo_server(std::shared_ptr<TlsContext> context = server_context(),
                                        ProtocolFactory factory = echo_factory()) {
        ServerOptions options;
        options.tls = std::move(context);
        return start_server(loop, std::move(factory), "127.0.0.1", options);
    }

    Result<std::shared_ptr<Transport>>
    connect(std::uint16_t port, std::shared_ptr<TlsContext> context, ProtocolFactory factory,
            std::string host = "127.0.0.1", std::string server_hostname = {}) {
        ConnectOptions options;
        options.tls = std::move(context);
        options.tls_options.server_hostname = std::move(server_hostname);
        return wait_result<std::shared_ptr<Transport>>(
            loop, [&](auto done) { create_connection(loop, factory, host, port, options, done); });
    }
};

TEST_F(TlsTest, AClientAndAServerEchoOverTls13) {
    auto server = echo_server();
    auto recording = std::make_shared<Recording>();
    auto client = connect(server->port(), client_context(), recording_factory(recording));
    ASSERT_TRUE(client.ok()) << client.message();
    auto& tls = dynamic_cast<TlsTransport&>(*client.value());
    EXPECT_EQ(tls.tls_version(), "TLSv1.3");
    EXPECT_FALSE(tls.cipher().empty());
    const auto certificate = tls.peer_certificate();
    ASSERT_TRUE(certificate.has_value());
    EXPECT_EQ(certificate->subject, "CN=localhost");
    EXPECT_EQ(certificate->issuer, "CN=ferry test CA");
    EXPECT_EQ(certificate->dns_names, std::vector<std::string>{"localhost"});
    EXPECT_FALSE(certificate->der.empty());
    EXPECT_EQ(recording->made, 1);
    EXPECT_FALSE(tls.can_write_eof());

    client.value()->write("hello over TLS");
    ASSERT_TRUE(run_until(loop, [&] { return recording->data.size() == 14; }));
    EXPECT_EQ(recording->data, "hello over TLS");

    client.value()->close();
    ASSERT_TRUE(run_until(loop, [&] { return recording->has_lost(); }));
    EXPECT_FALSE(recording->lost_error) << recording->lost_error.message();
    server->close();
}

TEST_F(TlsTest, TheServerProtocolSeesThePlainTransportAndTheClientsName) {
    auto server_side = std::make_shared<Recording>();
    std::string seen_name;
    auto server =
        echo_server(server_context(), recording_factory(server_side, [&](RecordingProtocol& p) {
                        p.on_made = [&](Transport& t) {
                            seen_name = dynamic_cast<TlsTransport&>(t).server_name();
                            t.write("welcome");
                        };
                    }));
    auto recording = std::make_shared<Recording>();
    auto client =
        connect(server->port(), client_context(), recording_factory(recording), "localhost");
    ASSERT_TRUE(client.ok()) << client.message();
    ASSERT_TRUE(run_until(loop, [&] { return recording->data == "welcome"; }));
    EXPECT_EQ(seen_name, "localhost");
    EXPECT_EQ(server_side->made, 1);
    // The server closes: close_notify reaches the client as end of data, then a clean close.
    server->close_clients();
    ASSERT_TRUE(run_until(loop, [&] { return recording->has_lost() && server_side->has_lost(); }));
    EXPECT_EQ(recording->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));
    EXPECT_FALSE(recording->lost_error) << recording->lost_error.message();
    server->close();
}

TEST_F(TlsTest, SessionsAreResumedAndAlpnIsAgreed) {
    TlsOptions server_options;
    server_options.alpn = {"ferry/1", "http/1.1"};
    auto server = echo_server(server_context(server_options));
    TlsOptions client_options;
    client_options.alpn = {"other", "ferry/1"};
    auto context = client_context(client_options);
    for (int round = 0; round < 2; ++round) {
        auto recording = std::make_shared<Recording>();
        auto client = connect(server->port(), context, recording_factory(recording));
        ASSERT_TRUE(client.ok()) << client.message();
        auto& tls = dynamic_cast<TlsTransport&>(*client.value());
        EXPECT_EQ(tls.alpn_protocol(), "ferry/1");
        EXPECT_EQ(tls.session_reused(), round == 1) << "round " << round;
        // The server's session ticket arrives after the handshake: an echo makes sure it has.
        client.value()->write("x");
        ASSERT_TRUE(run_until(loop, [&] { return recording->data == "x"; }));
        client.value()->close();
        ASSERT_TRUE(run_until(loop, [&] { return recording->has_lost(); }));
    }
    server->close();
}

TEST_F(TlsTest, MutualTlsServesAClientWithACertificate) {
    const TestPki& pki = test_pki();
    TlsOptions server_options;
    server_options.ca_file = pki.ca_cert;
    server_options.client_certificates = ClientCertificates::require;
    std::optional<TlsCertificate> client_certificate;
    auto server_side = std::make_shared<Recording>();
    auto server = echo_server(
        server_context(server_options), recording_factory(server_side, [&](RecordingProtocol& p) {
            p.on_made = [&](Transport& t) {
                client_certificate = dynamic_cast<TlsTransport&>(t).peer_certificate();
            };
        }));
    TlsOptions client_options;
    client_options.cert_file = pki.client_cert;
    client_options.key_file = pki.client_key;
    auto recording = std::make_shared<Recording>();
    auto client =
        connect(server->port(), client_context(client_options), recording_factory(recording));
    ASSERT_TRUE(client.ok()) << client.message();
    ASSERT_TRUE(run_until(loop, [&] { return server_side->made == 1; }));
    ASSERT_TRUE(client_certificate.has_value());
    EXPECT_EQ(client_certificate->subject, "CN=ferry test client");
    client.value()->close();
    ASSERT_TRUE(run_until(loop, [&] { return recording->has_lost(); }));
    server->close();
}

// ---- bad input ----------------------------------------------------------------------------

/// Connects with `client` to a server using `server`; the client's error message, and the
/// server's protocol must never have started.
std::string refused(TlsTest& test, Loop& loop, std::shared_ptr<TlsContext> server,
                    std::shared_ptr<TlsContext> client, std::string host = "127.0.0.1",
                    std::error_code expected = make_error_code(errc::tls_certificate_rejected)) {
    (void)test;
    auto server_side = std::make_shared<Recording>();
    ServerOptions server_options;
    server_options.tls = std::move(server);
    auto listening =
        start_server(loop, recording_factory(server_side), "127.0.0.1", server_options);
    ConnectOptions options;
    options.tls = std::move(client);
    auto result = wait_result<std::shared_ptr<Transport>>(loop, [&](auto done) {
        create_connection(loop, echo_factory(), host, listening->port(), options, done);
    });
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.code(), expected) << result.message();
    // A TLS 1.3 server learns of a refused client certificate after the client finished:
    // give it a moment, then make sure its protocol never started.
    run_until(
        loop, [] { return false; }, 100ms);
    EXPECT_EQ(server_side->made, 0);
    listening->close();
    return result.message();
}

TEST_F(TlsTest, ASelfSignedServerIsRefused) {
    const TestPki& pki = test_pki();
    TlsOptions server_options;
    server_options.cert_file = pki.self_signed_cert;
    server_options.key_file = pki.self_signed_key;
    const std::string text = refused(*this, loop, server_context(server_options), client_context());
    EXPECT_NE(text.find("self-signed certificate"), std::string::npos) << text;
    EXPECT_NE(text.find("TLS handshake with 127.0.0.1:"), std::string::npos) << text;
}

TEST_F(TlsTest, AnExpiredServerIsRefused) {
    const TestPki& pki = test_pki();
    TlsOptions server_options;
    server_options.cert_file = pki.expired_cert;
    server_options.key_file = pki.expired_key;
    const std::string text = refused(*this, loop, server_context(server_options), client_context());
    EXPECT_NE(text.find("certificate has expired"), std::string::npos) << text;
}

TEST_F(TlsTest, AServerForAnotherNameIsRefused) {
    const TestPki& pki = test_pki();
    TlsOptions server_options;
    server_options.cert_file = pki.other_name_cert;
    server_options.key_file = pki.other_name_key;
    const std::string text =
        refused(*this, loop, server_context(server_options), client_context(), "localhost");
    EXPECT_NE(text.find("hostname mismatch"), std::string::npos) << text;
}

TEST_F(TlsTest, AnUntrustedCaIsRefused) {
    TlsOptions client_options;
    client_options.ca_file = test_pki().other_ca_cert;
    const std::string text = refused(*this, loop, server_context(), client_context(client_options));
    EXPECT_NE(text.find("unable to get local issuer certificate"), std::string::npos) << text;
}

TEST_F(TlsTest, AClientWithTheSystemsCasRefusesTheTestCasServer) {
    // No ca_file: the system's CAs (/etc/ssl/certs; the "ROOT" store on Windows) are loaded,
    // and the test CA, which is not among them, is not trusted.
    TlsOptions system_cas;
    ASSERT_TRUE(system_cas.use_system_ca);
    const auto context = TlsContext::client(system_cas);
    const std::string text = refused(*this, loop, server_context(), context);
    EXPECT_NE(text.find("unable to get local issuer certificate"), std::string::npos) << text;
}

TEST_F(TlsTest, AClientWithoutACertificateIsRefusedWhereOneIsRequired) {
    TlsOptions server_options;
    server_options.ca_file = test_pki().ca_cert;
    server_options.client_certificates = ClientCertificates::require;
    // TLS 1.3: the client finishes its handshake before the server checks; the server's
    // alert then ends the connection. Either the handshake or the first read fails.
    auto server_side = std::make_shared<Recording>();
    ServerOptions options;
    options.tls = server_context(server_options);
    auto listening = start_server(loop, recording_factory(server_side), "127.0.0.1", options);
    auto recording = std::make_shared<Recording>();
    ConnectOptions connect_options;
    connect_options.tls = client_context();
    auto result = wait_result<std::shared_ptr<Transport>>(loop, [&](auto done) {
        create_connection(loop, recording_factory(recording), "127.0.0.1", listening->port(),
                          connect_options, done);
    });
    if (result.ok()) {
        ASSERT_TRUE(run_until(loop, [&] { return recording->has_lost(); }));
        EXPECT_EQ(recording->lost_error, make_error_code(errc::tls_certificate_rejected))
            << recording->lost_error.message();
    } else {
        EXPECT_EQ(result.code(), make_error_code(errc::tls_certificate_rejected))
            << result.message();
    }
    EXPECT_EQ(server_side->made, 0);
    listening->close();
}

TEST_F(TlsTest, APlaintextClientIsRefusedAndTheServerGoesOn) {
    auto server_side = std::make_shared<Recording>();
    ServerOptions options;
    options.tls = server_context();
    auto listening = start_server(loop, recording_factory(server_side), "127.0.0.1", options);
    auto plain = std::make_shared<Recording>();
    auto transport = connect_to(loop, recording_factory(plain), "127.0.0.1", listening->port());
    ASSERT_TRUE(transport);
    transport->write("GET / HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(run_until(loop, [&] { return plain->has_lost(); }));
    EXPECT_EQ(server_side->made, 0);
    // A TLS client is still served.
    auto recording = std::make_shared<Recording>();
    ConnectOptions tls;
    tls.tls = client_context();
    auto client =
        connect_to(loop, recording_factory(recording), "127.0.0.1", listening->port(), tls);
    ASSERT_TRUE(client);
    client->abort();
    listening->close();
}

TEST_F(TlsTest, AServerThatNeverAnswersTimesTheHandshakeOut) {
    auto silent = start_server(loop, [] { return std::make_unique<Protocol>(); });
    ConnectOptions options;
    options.tls = client_context();
    options.tls_options.handshake_timeout = 200ms;
    auto result = wait_result<std::shared_ptr<Transport>>(loop, [&](auto done) {
        create_connection(loop, echo_factory(), "127.0.0.1", silent->port(), options, done);
    });
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.code(), make_error_code(errc::connect_timeout));
    EXPECT_NE(result.message().find("did not complete within 200 ms"), std::string::npos)
        << result.message();
    silent->close();
}

TEST_F(TlsTest, AClientContextNeedsAServerName) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const auto pair = wire_transports(
        loop, [] { return std::make_unique<Protocol>(); },
        [] { return std::make_unique<Protocol>(); });
    const auto& a = pair.first;
    const auto& b = pair.second;
    const std::string text =
        message_of([&] { start_tls(a, client_context(), {}, echo_factory(), [](auto) {}); });
    EXPECT_NE(text.find("server_hostname is needed"), std::string::npos) << text;
    a->abort();
    b->abort();
}

} // namespace
} // namespace ferry::test
