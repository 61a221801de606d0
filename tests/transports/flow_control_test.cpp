// Write-buffer flow control with asyncio's semantics: pause_writing above the high mark,
// resume_writing at or below the low one; 64 MiB through a slow reader arrives intact.
#include "../support/test_support.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::connect_to;
using test::LoopTest;
using test::Recording;
using test::recording_factory;
using test::RecordingProtocol;
using test::run_until;
using test::start_server;

TEST_F(LoopTest, DefaultWaterMarksAreAsyncios) {
    auto server = start_server(loop, [] { return std::make_unique<Protocol>(); });
    auto side = std::make_shared<Recording>();
    auto client = connect_to(loop, recording_factory(side), "127.0.0.1", server->port());
    EXPECT_EQ(client->write_buffer_limits().high, 64u * 1024);
    EXPECT_EQ(client->write_buffer_limits().low, 16u * 1024);
    client->set_write_buffer_limits(1000);
    EXPECT_EQ(client->write_buffer_limits().low, 250u);
    client->set_write_buffer_limits(std::nullopt, 100);
    EXPECT_EQ(client->write_buffer_limits().high, 400u);
    EXPECT_THROW(client->set_write_buffer_limits(10, 20), Error);
    client->close();
    server->close();
    EXPECT_TRUE(run_until(loop, [&] { return side->has_lost(); }));
}

TEST_F(LoopTest, PauseAboveHighAndResumeAtLow) {
    auto server_side = std::make_shared<Recording>();
    auto server = start_server(loop, recording_factory(server_side, [](RecordingProtocol& p) {
                                   p.on_made = [](Transport& t) {
                                       t.pause_reading();
                                   }; // a peer that does not read
                               }));
    auto client_side = std::make_shared<Recording>();
    std::size_t size_at_pause = 0;
    std::size_t size_at_resume = SIZE_MAX;
    auto client = connect_to(loop,
                             recording_factory(client_side,
                                               [&](RecordingProtocol& p) {
                                                   p.on_pause = [&](Transport& t) {
                                                       size_at_pause = t.write_buffer_size();
                                                   };
                                                   p.on_resume = [&](Transport& t) {
                                                       size_at_resume = t.write_buffer_size();
                                                   };
                                               }),
                             "127.0.0.1", server->port());
    // Fill the socket buffers in 4 KiB writes until the protocol is asked to pause.
    const std::string chunk(4096, 'f');
    std::size_t written = 0;
    while (client_side->pauses == 0 && written < (256u << 20)) {
        client->write(chunk);
        written += chunk.size();
        if (client->write_buffer_size() == 0) {
            loop.run_once(false); // let the kernel buffers fill
        }
    }
    ASSERT_EQ(client_side->pauses, 1);
    EXPECT_GT(size_at_pause, 64u * 1024);
    EXPECT_LE(size_at_pause, 64u * 1024 + chunk.size());
    // Still paused however long the peer does not read.
    bool waited = false;
    loop.call_later(30ms, [&] { waited = true; });
    EXPECT_TRUE(run_until(loop, [&] { return waited; }));
    EXPECT_EQ(client_side->resumes, 0);
    // The peer reads: resume comes once the buffer is at or below 16 KiB.
    server_side->transport->resume_reading();
    EXPECT_TRUE(run_until(loop, [&] { return client_side->resumes == 1; }));
    EXPECT_LE(size_at_resume, 16u * 1024);
    EXPECT_TRUE(run_until(loop, [&] { return server_side->data.size() == written; }));
    EXPECT_EQ(client_side->pauses, 1);
    client->close();
    server->close();
    EXPECT_TRUE(
        run_until(loop, [&] { return client_side->has_lost() && server_side->has_lost(); }));
}

/// FNV-1a over a byte stream, fed incrementally.
struct Checksum {
    std::uint64_t value = 1469598103934665603ull;
    std::size_t bytes = 0;
    void add(ByteView data) {
        for (std::byte b : data) {
            value = (value ^ static_cast<std::uint8_t>(b)) * 1099511628211ull;
        }
        bytes += data.size();
    }
};

/// Reads slowly: pauses reading for 1 ms after every 2 MiB.
class SlowReader : public Protocol {
public:
    SlowReader(Loop& loop, std::shared_ptr<Checksum> sum, bool& lost)
        : loop_(loop), sum_(std::move(sum)), lost_(lost) {}
    void connection_made(Transport& t) override { transport_ = &t; }
    void data_received(ByteView data) override {
        sum_->add(data);
        since_pause_ += data.size();
        if (since_pause_ >= (2u << 20)) {
            since_pause_ = 0;
            transport_->pause_reading();
            loop_.call_later(1ms, [t = transport_] { t->resume_reading(); });
        }
    }
    void connection_lost(std::error_code) override { lost_ = true; }

private:
    Loop& loop_;
    std::shared_ptr<Checksum> sum_;
    bool& lost_;
    Transport* transport_ = nullptr;
    std::size_t since_pause_ = 0;
};

/// Writes `total` pseudo-random bytes, honouring pause_writing / resume_writing.
class PacedWriter : public Protocol {
public:
    PacedWriter(std::size_t total, std::shared_ptr<Checksum> sum, int& pauses)
        : remaining_(total), sum_(std::move(sum)), pauses_(pauses) {}
    void connection_made(Transport& t) override {
        transport_ = &t;
        pump();
    }
    void pause_writing() override {
        paused_ = true;
        ++pauses_;
    }
    void resume_writing() override {
        paused_ = false;
        pump();
    }

private:
    void pump() {
        Bytes chunk(64 * 1024);
        while (!paused_ && remaining_ > 0) {
            const std::size_t n = std::min(chunk.size(), remaining_);
            for (std::size_t i = 0; i < n; ++i) {
                state_ = state_ * 6364136223846793005ull + 1442695040888963407ull;
                chunk[i] = static_cast<std::byte>(state_ >> 56);
            }
            const ByteView piece(chunk.data(), n);
            sum_->add(piece);
            transport_->write(piece);
            remaining_ -= n;
            // Bounded memory: the queue never holds much more than the high mark.
            EXPECT_LE(transport_->write_buffer_size(), 64u * 1024 + chunk.size());
        }
        if (remaining_ == 0) {
            transport_->close();
        }
    }
    std::size_t remaining_;
    std::shared_ptr<Checksum> sum_;
    int& pauses_;
    Transport* transport_ = nullptr;
    bool paused_ = false;
    std::uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

TEST_F(LoopTest, SixtyFourMebibytesThroughASlowReaderArriveIntact) {
    constexpr std::size_t total = 64u << 20;
    auto received = std::make_shared<Checksum>();
    auto sent = std::make_shared<Checksum>();
    bool reader_lost = false;
    int pauses = 0;
    auto server = start_server(
        loop, [&] { return std::make_unique<SlowReader>(loop, received, reader_lost); });
    auto client = connect_to(
        loop, [&] { return std::make_unique<PacedWriter>(total, sent, pauses); }, "127.0.0.1",
        server->port());
    EXPECT_TRUE(run_until(
        loop, [&] { return reader_lost; }, std::chrono::seconds(120)));
    EXPECT_EQ(received->bytes, total);
    EXPECT_EQ(sent->bytes, total);
    EXPECT_EQ(received->value, sent->value);
    EXPECT_GT(pauses, 0); // the slow reader really did push back
    server->close();
}

} // namespace
} // namespace ferry
