// The TLS session without I/O (transports/src/tls/tls_session.hpp): a client and a server
// session pumped by hand, to pin how plain bytes are gathered for delivery and how a record
// split across feeds waits for its rest.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include <ferry/error.hpp>
#include <ferry/tls.hpp>

#include "../../transports/src/tls/tls_session.hpp"
#include "../support/test_pki.hpp"
#include "../support/transfer.hpp"

namespace ferry::test {
namespace {

/// Collects what a session produces.
struct Collector : detail::TlsSink {
    std::string sent;                // records for the peer, in order
    std::vector<std::string> plains; // each delivery of plain bytes
    bool handshake_done = false;
    bool failed = false;
    void tls_send(ByteView records) override { sent.append(records.as_string_view()); }
    void tls_handshake_done() override { handshake_done = true; }
    void tls_plain(ByteView plain) override { plains.emplace_back(plain.as_string_view()); }
    void tls_peer_closed() override {}
    void tls_failed(std::error_code, const std::string&) override { failed = true; }
    bool tls_wants_plain() const override { return true; }
};

class TlsSessionTest : public ::testing::Test {
protected:
    TlsSessionTest() {
        const TestPki& pki = test_pki();
        TlsOptions server_options;
        server_options.cert_file = pki.server_cert;
        server_options.key_file = pki.server_key;
        TlsOptions client_options;
        client_options.ca_file = pki.ca_cert;
        server_context_ = TlsContext::server(server_options);
        client_context_ = TlsContext::client(client_options);
        server_ = std::make_unique<detail::TlsSession>(*server_context_, "", "client");
        client_ = std::make_unique<detail::TlsSession>(*client_context_, "localhost", "server");
    }

    /// Moves records both ways until neither side has anything to send.
    void pump() {
        for (int i = 0; i < 20 && !(at_client_.sent.empty() && at_server_.sent.empty()); ++i) {
            const std::string to_server = std::exchange(at_client_.sent, {});
            const std::string to_client = std::exchange(at_server_.sent, {});
            if (!to_server.empty()) {
                server_->feed(ByteView(to_server), at_server_);
            }
            if (!to_client.empty()) {
                client_->feed(ByteView(to_client), at_client_);
            }
        }
    }

    void handshake() {
        client_->start(at_client_);
        pump();
        ASSERT_TRUE(at_client_.handshake_done && at_server_.handshake_done);
        ASSERT_FALSE(at_client_.failed || at_server_.failed);
    }

    std::shared_ptr<TlsContext> server_context_;
    std::shared_ptr<TlsContext> client_context_;
    std::unique_ptr<detail::TlsSession> server_;
    std::unique_ptr<detail::TlsSession> client_;
    Collector at_server_;
    Collector at_client_;
};

TEST_F(TlsSessionTest, ConsecutiveRecordsComeInOneDeliveryOfUpTo64KiB) {
    handshake();
    std::string plain(200 * 1024, '\0');
    std::mt19937_64 random(7);
    fill_random(plain, random);
    Bytes records;
    client_->encrypt(ByteView(plain), records); // 13 records of up to 16 KiB
    server_->feed(records, at_server_);
    // 64 + 64 + 64 + 8 KiB: a bulk reader answers with one write per 64 KiB, not per record.
    ASSERT_EQ(at_server_.plains.size(), 4u);
    std::string joined;
    for (const std::string& part : at_server_.plains) {
        EXPECT_LE(part.size(), 64u * 1024);
        joined += part;
    }
    EXPECT_EQ(joined, plain);
}

TEST_F(TlsSessionTest, ARecordSplitAcrossFeedsIsDeliveredOnceWhole) {
    handshake();
    const std::string plain(1000, 'p');
    Bytes records;
    client_->encrypt(ByteView(plain), records); // whole, first: the record's size
    server_->feed(records, at_server_);
    ASSERT_EQ(at_server_.plains.size(), 1u);
    for (std::size_t split = 1; split < records.size(); split += 97) {
        at_server_.plains.clear();
        Bytes again;
        client_->encrypt(ByteView(plain), again);
        server_->feed(ByteView(again).subview(0, split), at_server_);
        EXPECT_TRUE(at_server_.plains.empty()) << split;
        EXPECT_TRUE(server_->has_partial_record()) << split;
        server_->feed(ByteView(again).subview(split), at_server_);
        ASSERT_EQ(at_server_.plains.size(), 1u) << split;
        EXPECT_EQ(at_server_.plains[0], plain);
        EXPECT_FALSE(server_->has_partial_record());
    }
}

} // namespace
} // namespace ferry::test
