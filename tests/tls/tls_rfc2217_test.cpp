// RFC 2217 over TLS, both ends ferry's: a TLS server whose connections become RFC 2217 server
// ends over a RecordingPort, and clients from connect_rfc2217 with a TLS context in its TCP
// options and from a `tls:...:rfc2217` endpoint description.
#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../support/recording_port.hpp"
#include "../support/test_pki.hpp"
#include "../support/test_support.hpp"

namespace ferry::test {
namespace {

/// Serves `port` over RFC 2217 on every TLS connection the server accepts.
class Rfc2217OverTlsTest : public LoopTest {
protected:
    Rfc2217OverTlsTest() {
        const TestPki& pki = test_pki();
        TlsOptions options;
        options.cert_file = pki.server_cert;
        options.key_file = pki.server_key;
        ServerOptions server_options;
        server_options.tls = TlsContext::server(options);
        ProtocolFactory accept = [this] {
            struct Accept final : Protocol {
                Rfc2217OverTlsTest* test = nullptr;
                void connection_made(Transport& t) override {
                    test->over_tls = dynamic_cast<TlsTransport*>(&t) != nullptr;
                    t.pause_reading(); // served from the next iteration, outside this callback
                    std::weak_ptr<Transport> weak = t.shared_from_this();
                    t.loop().call_soon([weak, test = test] {
                        if (auto lower = weak.lock()) {
                            test->servers.push_back(
                                serve_rfc2217(lower, test->port, recording_factory(test->served)));
                        }
                    });
                }
            };
            auto protocol = std::make_unique<Accept>();
            protocol->test = this;
            return protocol;
        };
        server = start_server(loop, accept, "127.0.0.1", server_options);
    }

    void TearDown() override {
        server->close();
        LoopTest::TearDown();
    }

    std::shared_ptr<RecordingPort> port = std::make_shared<RecordingPort>();
    std::shared_ptr<Server> server;
    std::vector<std::shared_ptr<Rfc2217ServerTransport>> servers;
    std::shared_ptr<Recording> served = std::make_shared<Recording>();
    bool over_tls = false;
};

TEST_F(Rfc2217OverTlsTest, ConnectRfc2217WithATlsContextSetsTheRemotePortUp) {
    TlsOptions trust;
    trust.ca_file = test_pki().ca_cert;
    Rfc2217Options options;
    options.serial.baud_rate = 9600;
    options.serial.parity = Parity::even;
    options.tcp.tls = TlsContext::client(trust);
    options.tcp.tls_options.server_hostname = "localhost";
    auto client = std::make_shared<Recording>();
    auto remote = wait_result<std::shared_ptr<Rfc2217Transport>>(loop, [&](auto done) {
        connect_rfc2217(loop, recording_factory(client), "127.0.0.1", server->port(), options,
                        done);
    });
    ASSERT_TRUE(remote.ok()) << remote.message();
    EXPECT_TRUE(over_tls);
    EXPECT_EQ(port->current().baud_rate, 9600u);
    EXPECT_EQ(port->current().parity, Parity::even);
    EXPECT_EQ(remote.value()->options().baud_rate, 9600u);
    remote.value()->write("to the device");
    EXPECT_TRUE(run_until(loop, [&] { return served->data == "to the device"; }));
    remote.value()->close();
    EXPECT_TRUE(run_until(loop, [&] { return client->has_lost() && served->has_lost(); }));
    EXPECT_FALSE(client->lost_error);
}

TEST_F(Rfc2217OverTlsTest, ATlsEndpointWithRfc2217IsARemoteSerialPort) {
    const std::string description = "tls:127.0.0.1:" + std::to_string(server->port()) + ":ca=[" +
                                    test_pki().ca_cert +
                                    "]:servername=localhost:rfc2217:baud=19200:strict=false";
    const Endpoint parsed = parse_endpoint(description);
    EXPECT_TRUE(parsed.rfc2217_client);
    EXPECT_EQ(parsed.rfc2217.serial.baud_rate, 19200u);
    EXPECT_FALSE(parsed.rfc2217.strict);
    EXPECT_EQ(parse_endpoint(to_string(parsed)).rfc2217.serial.baud_rate, 19200u);
    EXPECT_NE(to_string(parsed).find(":rfc2217:baud=19200"), std::string::npos)
        << to_string(parsed);

    auto remote = loop.run_until_complete(
        connect(loop, description, [] { return std::make_unique<Protocol>(); }));
    ASSERT_NE(dynamic_cast<Rfc2217Transport*>(remote.get()), nullptr);
    EXPECT_TRUE(over_tls);
    EXPECT_EQ(port->current().baud_rate, 19200u);
    remote->close();
    EXPECT_TRUE(run_until(loop, [&] { return served->has_lost(); }));
}

TEST_F(Rfc2217OverTlsTest, LineSettingsWithoutRfc2217AreRefused) {
    try {
        parse_endpoint("tls:host:7000:baud=19200");
        ADD_FAILURE() << "parsed";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("need rfc2217"), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace ferry::test
