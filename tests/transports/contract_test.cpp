// The Transport/Protocol contract, written once and run over every transport (TCP, Unix
// socket, socketpair, serial on a pty; see contract_kinds()): callbacks in order and
// connection_lost exactly once and last; close/abort/write/pause from inside every callback;
// the last reference dropped or the loop stopped inside a callback; close flushes, abort drops;
// writes after close ignored; a throwing callback ends the connection with callback_threw;
// flow control with asyncio's water marks, and 64 MiB through a slow reader intact.
#include <array>
#include <cstdint>
#include <random>

#include "../support/contract_endpoint.hpp"
#include "../support/test_support.hpp"
#include "../support/transfer.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::ContractKind;
using test::peer_read;
using test::Recording;
using test::recording_factory;
using test::RecordingProtocol;
using test::run_until;

/// Skips a test that needs every byte delivered and the OS to push back (not UDP's way).
#define FERRY_CONTRACT_NEEDS_RELIABLE_DELIVERY()                                                   \
    if (!GetParam().reliable) {                                                                    \
        GTEST_SKIP() << GetParam().name                                                            \
                     << ": datagrams the peer cannot hold are dropped and the OS never "           \
                        "pushes back (udp_test covers UDP)";                                       \
    }

class ContractTest : public ::testing::TestWithParam<ContractKind> {
protected:
    void SetUp() override {
        test::prepare_thread_sanitizer_signals(); // endpoints spawn children before polling
        if (GetParam().unavailable) {
            if (const std::string reason = GetParam().unavailable(); !reason.empty()) {
                GTEST_SKIP() << GetParam().name << ": " << reason;
            }
        }
        endpoint = GetParam().make();
    }
    void TearDown() override {
        transport.reset();
        endpoint.reset();
        EXPECT_NO_THROW(loop.close());
        // Whatever happened, connection_lost came at most once, and last.
        EXPECT_LE(side->lost, 1);
        if (side->lost == 1) {
            EXPECT_EQ(side->events.back(), "lost");
        }
    }
    /// Opens the transport under test with a recording protocol configured by `setup`.
    void open(std::function<void(RecordingProtocol&)> setup = {}) {
        transport = endpoint->open(loop, recording_factory(side, std::move(setup)));
        ASSERT_TRUE(transport);
    }
    bool lost() const { return side->has_lost(); }
    test::Peer& peer() { return endpoint->peer(); }
    /// Appends what the peer receives to `got` until the transport's end reaches it. A peer
    /// that cannot see the end (a COM port pair joined by socat) reads until `expected` bytes
    /// came and then nothing more for 200 ms. False on a timeout.
    bool peer_reads_to_end(std::string& got, std::size_t expected = 0,
                           std::chrono::milliseconds timeout = 30s) {
        if (GetParam().peer_sees_close) {
            return test::peer_sees_end(loop, peer(), got, timeout);
        }
        got += peer_read(loop, peer(), expected > got.size() ? expected - got.size() : 0, timeout);
        for (std::size_t before = SIZE_MAX; before != got.size();) {
            before = got.size();
            got += peer_read(loop, peer(), SIZE_MAX, 200ms);
        }
        return got.size() >= expected;
    }
    /// Writes a few bytes as the peer; small enough never to block.
    void peer_says(const std::string& bytes) { ASSERT_TRUE(peer().write(bytes)); }
    /// close() or abort() from data_received: nothing more is delivered, lost comes once.
    void stop_inside_data_received(bool use_abort) {
        open([&](RecordingProtocol& p) {
            p.on_data = [use_abort](Transport& t, ByteView) {
                use_abort ? t.abort() : t.close();
                t.write("ignored");
            };
        });
        peer_says("first");
        EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
        const std::string seen = side->data;
        EXPECT_EQ(seen.find("after"), std::string::npos);
        (void)peer().write("after"); // may fail: the transport is gone
        run_until(
            loop, [] { return false; }, 30ms);
        EXPECT_EQ(side->data, seen);
        EXPECT_EQ(side->lost, 1);
        EXPECT_FALSE(side->lost_error);
    }

    Loop loop;
    std::unique_ptr<test::Endpoint> endpoint;
    std::shared_ptr<Recording> side = std::make_shared<Recording>();
    std::shared_ptr<Transport> transport;
};

TEST_P(ContractTest, CloseInsideConnectionMadeIsScheduledNotCalled) {
    bool lost_during_close = false;
    open([&](RecordingProtocol& p) {
        p.on_made = [&](Transport& t) {
            t.close();
            lost_during_close = side->has_lost();
            t.close(); // twice is fine
            EXPECT_TRUE(t.is_closing());
        };
    });
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
    EXPECT_FALSE(lost_during_close);
    EXPECT_EQ(side->events, (std::vector<std::string>{"made", "lost"}));
    EXPECT_FALSE(side->lost_error);
    std::string extra;
    EXPECT_TRUE(peer_reads_to_end(extra));
}

TEST_P(ContractTest, CloseFlushesWhatIsQueuedAndLaterWritesAreIgnored) {
    FERRY_CONTRACT_NEEDS_RELIABLE_DELIVERY();
    const std::string payload(1 << 20, 'w');
    open([&](RecordingProtocol& p) {
        p.on_made = [&](Transport& t) {
            t.write(payload);
            t.close();
            t.write("dropped"); // after close: ignored, never an exception
            const ByteView parts[] = {ByteView("also"), ByteView("dropped")};
            t.writelines(parts);
        };
    });
    std::string got;
    EXPECT_TRUE(peer_reads_to_end(got, payload.size()));
    EXPECT_EQ(got.size(), payload.size());
    EXPECT_TRUE(got == payload) << "the payload arrived altered";
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
    EXPECT_FALSE(side->lost_error);
}

TEST_P(ContractTest, AbortDropsTheQueueAndReportsACleanLoss) {
    FERRY_CONTRACT_NEEDS_RELIABLE_DELIVERY();
    const std::string payload(8 << 20, 'a');
    std::size_t queued_at_abort = 0;
    open([&](RecordingProtocol& p) {
        p.on_made = [&](Transport& t) {
            t.write(payload); // far more than the OS takes at once
            queued_at_abort = t.write_buffer_size();
            t.abort();
            t.abort(); // twice is fine
        };
    });
    EXPECT_GT(queued_at_abort, 0u);
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
    EXPECT_FALSE(side->lost_error);
    std::string got;
    EXPECT_TRUE(peer_reads_to_end(got));
    EXPECT_LT(got.size(), payload.size());
    EXPECT_EQ(transport->write_buffer_size(), 0u);
}

TEST_P(ContractTest, CloseInsideDataReceivedStopsDelivery) {
    stop_inside_data_received(false);
}

TEST_P(ContractTest, AbortInsideDataReceivedStopsDelivery) {
    stop_inside_data_received(true);
}

TEST_P(ContractTest, PauseReadingInsideDataReceivedHoldsDeliveryUntilResumed) {
    int deliveries_while_paused = 0;
    bool paused = false;
    open([&](RecordingProtocol& p) {
        p.on_data = [&](Transport& t, ByteView) {
            if (paused) {
                ++deliveries_while_paused;
            }
            if (!paused && side->data.size() >= 3) {
                t.pause_reading();
                t.pause_reading(); // idempotent
                EXPECT_FALSE(t.is_reading());
                paused = true;
            }
        };
    });
    EXPECT_TRUE(transport->is_reading());
    peer_says("abc");
    ASSERT_TRUE(run_until(loop, [&] { return paused; }));
    peer_says("held");
    run_until(
        loop, [] { return false; }, 50ms);
    EXPECT_EQ(deliveries_while_paused, 0);
    EXPECT_EQ(side->data, "abc");
    transport->resume_reading();
    transport->resume_reading(); // idempotent
    EXPECT_TRUE(transport->is_reading());
    EXPECT_TRUE(run_until(loop, [&] { return side->data == "abcheld"; }));
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
}

TEST_P(ContractTest, WritingInsideConnectionLostIsIgnored) {
    open([&](RecordingProtocol& p) {
        p.on_lost = [](Transport& t, std::error_code) {
            t.write("too late");
            t.close();
            t.abort();
        };
    });
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
    EXPECT_EQ(side->lost, 1);
}

TEST_P(ContractTest, DroppingTheLastReferenceInsideACallbackIsSafe) {
    open([&](RecordingProtocol& p) {
        p.on_data = [&](Transport& t, ByteView) {
            transport.reset(); // the loop still owns it while it is open
            t.write("still valid");
            t.close();
        };
    });
    std::weak_ptr<Transport> weak = transport;
    peer_says("go");
    std::string got = peer_read(loop, peer(), 11);
    EXPECT_EQ(got, "still valid");
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
    run_until(
        loop, [&] { return weak.expired(); }, 2s);
    EXPECT_TRUE(weak.expired()); // freed once connection_lost has returned
}

TEST_P(ContractTest, StoppingTheLoopInsideDataReceivedReturnsFromRun) {
    open([&](RecordingProtocol& p) { p.on_data = [&](Transport&, ByteView) { loop.stop(); }; });
    peer_says("stop");
    auto guard = loop.call_later(10s, [&] { loop.stop(); });
    loop.run();
    guard.cancel();
    EXPECT_FALSE(side->data.empty());
    // A serial port may deliver a burst in pieces (Windows: the first byte, then the rest);
    // each piece stops the loop again.
    EXPECT_TRUE(run_until(loop, [&] { return side->data == "stop"; }));
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
}

TEST_P(ContractTest, AThrowingCallbackEndsTheConnectionWithCallbackThrew) {
    int reported = 0;
    loop.set_exception_handler([&](const ExceptionContext&) { ++reported; });
    open([](RecordingProtocol& p) {
        p.on_data = [](Transport&, ByteView) { throw std::runtime_error("protocol bug"); };
    });
    peer_says("boom");
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
    EXPECT_EQ(side->lost_error, make_error_code(errc::callback_threw));
    EXPECT_EQ(reported, 1);
}

TEST_P(ContractTest, AThrowingConnectionMadeEndsTheConnection) {
    loop.set_exception_handler([](const ExceptionContext&) {});
    open([](RecordingProtocol& p) {
        p.on_made = [](Transport&) { throw std::runtime_error("constructor-like failure"); };
    });
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
    EXPECT_EQ(side->lost_error, make_error_code(errc::callback_threw));
    EXPECT_EQ(side->events, (std::vector<std::string>{"made", "lost"}));
}

TEST_P(ContractTest, ThePeerHangingUpIsReportedOnce) {
    if (!GetParam().peer_close_is_noticed) {
        GTEST_SKIP() << GetParam().name << ": the peer closing is no hang-up (pty_test covers it)";
    }
    open();
    peer_says("bye");
    ASSERT_TRUE(run_until(loop, [&] { return side->data == "bye"; }));
    endpoint->close_peer();
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
    if (GetParam().peer_close_is_eof) {
        EXPECT_EQ(side->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));
        EXPECT_FALSE(side->lost_error);
    } else {
        EXPECT_EQ(side->events, (std::vector<std::string>{"made", "data", "lost"}));
        EXPECT_EQ(side->lost_error, make_error_code(errc::device_removed));
    }
}

// eof_received may close, abort, write or keep the connection half-open (streams with an end;
// a serial port has none, its hang-up is a loss).
TEST_P(ContractTest, EofReceivedMayCloseAbortOrStayHalfOpen) {
    if (!GetParam().peer_close_is_eof) {
        GTEST_SKIP() << GetParam().name << " has no end-of-stream";
    }
    if (!GetParam().peer_can_half_close) {
        GTEST_SKIP() << GetParam().name << ": the peer cannot end its data and keep reading";
    }
    open([](RecordingProtocol& p) {
        p.on_eof = [](Transport& t) {
            t.write("still writing after your EOF");
            return true; // keep the sending side open
        };
    });
    peer().shutdown_write();
    EXPECT_TRUE(run_until(loop, [&] { return side->eof == 1; }));
    EXPECT_EQ(peer_read(loop, peer(), 28), "still writing after your EOF");
    EXPECT_FALSE(lost()); // half-open until closed
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
    EXPECT_EQ(side->events, (std::vector<std::string>{"made", "eof", "lost"}));

    for (const bool use_abort : {false, true}) {
        auto again = std::make_shared<Recording>();
        auto endpoint2 = GetParam().make();
        auto second =
            endpoint2->open(loop, recording_factory(again, [use_abort](RecordingProtocol& p) {
                                p.on_eof = [use_abort](Transport& t) {
                                    use_abort ? t.abort() : t.close();
                                    return true; // ignored: the transport is already closing
                                };
                            }));
        ASSERT_TRUE(second);
        endpoint2->peer().shutdown_write();
        EXPECT_TRUE(run_until(loop, [&] { return again->has_lost(); }));
        EXPECT_EQ(again->events, (std::vector<std::string>{"made", "eof", "lost"}));
        EXPECT_FALSE(again->lost_error);
    }
}

TEST_P(ContractTest, WritelinesSendsEveryPartInOrder) {
    FERRY_CONTRACT_NEEDS_RELIABLE_DELIVERY();
    open();
    const ByteView parts[] = {ByteView("alpha,"), ByteView(""), ByteView("beta,"),
                              ByteView("gamma")};
    transport->writelines(parts);
    EXPECT_EQ(peer_read(loop, peer(), 16), "alpha,beta,gamma");
    // Behind a queue too: fill the OS first, then gather more.
    const std::string bulk(4 << 20, 'q');
    transport->write(bulk);
    transport->writelines(parts);
    const std::string got = peer_read(loop, peer(), bulk.size() + 16, 60s);
    EXPECT_EQ(got.size(), bulk.size() + 16);
    EXPECT_EQ(got.substr(bulk.size()), "alpha,beta,gamma");
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
}

TEST_P(ContractTest, WriteInsidePauseAndResumeWritingIsAllowed) {
    FERRY_CONTRACT_NEEDS_RELIABLE_DELIVERY();
    int writes_in_resume = 0;
    open([&](RecordingProtocol& p) {
        p.on_pause = [](Transport& t) { t.write("x"); }; // still queued, never refused
        p.on_resume = [&](Transport& t) {
            ++writes_in_resume;
            t.write("after resume");
        };
    });
    transport->set_write_buffer_limits(4096, 1024);
    // The peer does not read: write until the OS is full and the protocol is paused.
    const std::string chunk(64 * 1024, 'b');
    std::size_t written = 0;
    while (side->pauses == 0 && written < (256u << 20)) {
        transport->write(chunk);
        written += chunk.size();
    }
    ASSERT_EQ(side->pauses, 1);
    const std::string got = peer_read(loop, peer(), written + 1 + 12, 60s);
    EXPECT_EQ(writes_in_resume, 1);
    ASSERT_EQ(got.size(), written + 13);
    EXPECT_EQ(got.substr(written), "xafter resume");
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
}

TEST_P(ContractTest, PausesAboveTheHighMarkAndResumesAtOrBelowTheLowOne) {
    FERRY_CONTRACT_NEEDS_RELIABLE_DELIVERY();
    std::size_t size_at_pause = 0;
    std::size_t size_at_resume = SIZE_MAX;
    open([&](RecordingProtocol& p) {
        p.on_pause = [&](Transport& t) { size_at_pause = t.write_buffer_size(); };
        p.on_resume = [&](Transport& t) { size_at_resume = t.write_buffer_size(); };
    });
    EXPECT_EQ(transport->write_buffer_limits().high, 64u * 1024);
    EXPECT_EQ(transport->write_buffer_limits().low, 16u * 1024);
    // The peer does not read: write 4 KiB at a time until the protocol is paused.
    const std::string chunk(4096, 'f');
    std::size_t written = 0;
    while (side->pauses == 0 && written < (64u << 20)) {
        transport->write(chunk);
        written += chunk.size();
        if (transport->write_buffer_size() == 0) {
            loop.run_once(false);
        }
    }
    ASSERT_EQ(side->pauses, 1);
    EXPECT_GT(size_at_pause, 64u * 1024);
    EXPECT_LE(size_at_pause, 64u * 1024 + chunk.size()); // the queue stays bounded
    EXPECT_EQ(side->resumes, 0);
    // Now the peer reads: resume_writing comes once, at or below the low mark.
    const std::string got = peer_read(loop, peer(), written, 60s);
    EXPECT_EQ(got.size(), written);
    // A completion backend (a Windows pipe) may hear that its last write finished only after
    // the peer has read it.
    EXPECT_TRUE(run_until(loop, [&] { return side->resumes > 0; }));
    EXPECT_EQ(side->resumes, 1);
    EXPECT_LE(size_at_resume, 16u * 1024);
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return lost(); }));
}

/// Writes `total` random bytes while not paused, checksumming what it sends.
class PacedWriter final : public Protocol {
public:
    PacedWriter(std::size_t total, test::Checksum& sum, std::size_t& most_queued, int& pauses)
        : total_(total), sum_(sum), most_queued_(most_queued), pauses_(pauses) {}
    void connection_made(Transport& transport) override {
        transport_ = &transport;
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
        std::string block(16 * 1024, '\0');
        while (!paused_ && sent_ < total_) {
            block.resize(std::min(block.size(), total_ - sent_));
            test::fill_random(block, random_);
            sum_.add(block.data(), block.size());
            sent_ += block.size();
            transport_->write(block);
            most_queued_ = std::max(most_queued_, transport_->write_buffer_size());
        }
    }
    std::size_t total_;
    std::size_t sent_ = 0;
    test::Checksum& sum_;
    std::size_t& most_queued_;
    int& pauses_;
    Transport* transport_ = nullptr;
    bool paused_ = false;
    std::mt19937_64 random_{42};
};

TEST_P(ContractTest, SixtyFourMebibytesThroughASlowReaderArriveIntactWithABoundedQueue) {
    FERRY_CONTRACT_NEEDS_RELIABLE_DELIVERY();
    constexpr std::size_t total = 64u << 20;
    test::Checksum sent;
    test::Checksum received;
    std::size_t most_queued = 0;
    int pauses = 0;
    transport = endpoint->open(
        loop, [&] { return std::make_unique<PacedWriter>(total, sent, most_queued, pauses); });
    ASSERT_TRUE(transport);
    // The peer reads in small bites with pauses, so the writer keeps hitting the high mark.
    std::size_t got = 0;
    char buffer[8192];
    const bool done = run_until(
        loop,
        [&] {
            for (int bites = 0; bites < 16; ++bites) {
                const std::ptrdiff_t n = peer().read_some(buffer, sizeof buffer);
                if (n <= 0) {
                    break;
                }
                received.add(buffer, static_cast<std::size_t>(n));
                got += static_cast<std::size_t>(n);
            }
            loop.call_later(1ms, [] {});
            return got >= total;
        },
        180s);
    EXPECT_TRUE(done);
    EXPECT_EQ(got, total);
    EXPECT_EQ(received.value, sent.value);
    EXPECT_GT(pauses, 0);                           // the slow reader really pushed back
    EXPECT_LE(most_queued, 64u * 1024 + 16 * 1024); // high mark plus one write
    transport->close();
}

/// Receives into memory it owns, a few bytes at a time; or returns no memory at all.
class SmallBuffers final : public BufferedProtocol {
public:
    SmallBuffers(std::string& got, std::error_code& lost, bool empty)
        : got_(got), lost_(lost), empty_(empty) {}
    std::span<std::byte> get_buffer(std::size_t size_hint) override {
        EXPECT_GT(size_hint, 0u);
        return empty_ ? std::span<std::byte>() : std::span<std::byte>(buffer_);
    }
    void buffer_updated(std::size_t n) override {
        got_.append(reinterpret_cast<const char*>(buffer_.data()), n);
    }
    void connection_lost(std::error_code error) override {
        lost_ = error;
        ended_ = true;
    }
    static inline bool ended_ = false;

private:
    std::string& got_;
    std::error_code& lost_;
    bool empty_;
    std::array<std::byte, 7> buffer_{};
};

TEST_P(ContractTest, ABufferedProtocolReceivesIntoItsOwnMemory) {
    std::string got;
    std::error_code lost_error;
    SmallBuffers::ended_ = false;
    transport = endpoint->open(
        loop, [&] { return std::make_unique<SmallBuffers>(got, lost_error, false); });
    ASSERT_TRUE(transport);
    const std::string sent = "more than seven bytes, in several buffers";
    peer_says(sent);
    EXPECT_TRUE(run_until(loop, [&] { return got.size() == sent.size(); }));
    EXPECT_EQ(got, sent);
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return SmallBuffers::ended_; }));
    EXPECT_FALSE(lost_error);
}

TEST_P(ContractTest, AnEmptyBufferFromGetBufferEndsTheConnectionClearly) {
    std::string got;
    std::error_code lost_error;
    SmallBuffers::ended_ = false;
    int reported = 0;
    loop.set_exception_handler([&](const ExceptionContext& context) {
        ++reported;
        try {
            std::rethrow_exception(context.exception);
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("get_buffer returned an empty buffer"),
                      std::string::npos)
                << e.what();
        }
    });
    transport =
        endpoint->open(loop, [&] { return std::make_unique<SmallBuffers>(got, lost_error, true); });
    ASSERT_TRUE(transport);
    peer_says("data");
    EXPECT_TRUE(run_until(loop, [&] { return SmallBuffers::ended_; }));
    EXPECT_EQ(lost_error, make_error_code(errc::callback_threw));
    EXPECT_EQ(reported, 1);
    EXPECT_TRUE(got.empty());
}

TEST_P(ContractTest, ClosingTheLoopEndsAnOpenTransportOnce) {
    open();
    transport.reset();
    loop.close(); // connection_lost runs for every transport still open
    EXPECT_EQ(side->lost, 1);
    EXPECT_EQ(side->events.back(), "lost");
}

INSTANTIATE_TEST_SUITE_P(EveryTransport, ContractTest, ::testing::ValuesIn(test::contract_kinds()),
                         [](const ::testing::TestParamInfo<ContractKind>& info) {
                             return info.param.name;
                         });

} // namespace
} // namespace ferry
