// FramedProtocol, FramedStream and RequestClient on real OS objects: socket pairs for the
// protocol-level tests, a simulated serial device (a pty, or a COM port pair on Windows)
// where a serial port is the point.
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/framed_protocol.hpp>
#include <ferry/framed_stream.hpp>
#include <ferry/framing.hpp>
#include <ferry/pipe.hpp>
#include <ferry/request_client.hpp>
#include <ferry/sleep.hpp>
#include <ferry/streams.hpp>

#include "../support/frame_collector.hpp"
#include "../support/test_support.hpp"
#include "../support/wired.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;
using test::run_until;
using Codec = CrcCodec<CobsCodec>;
using Frames = std::vector<std::string>;

Codec cobs_crc(std::size_t max_frame = 1024) {
    return Codec(CobsCodec(max_frame), crc::crc16_ccitt_false());
}

/// Records frames and errors; connection_lost too.
class Recorder : public FramedProtocol<Codec> {
public:
    explicit Recorder(OversizePolicy policy = OversizePolicy::close)
        : FramedProtocol(cobs_crc(), policy) {}
    void frame_received(ByteView frame) override { frames.push_back(frame.to_string()); }
    void connection_lost(std::error_code error) override {
        FramedProtocol::connection_lost(error);
        lost = error;
        ++lost_count;
    }
    Frames frames;
    std::error_code lost;
    int lost_count = 0;
};

/// A socket pair whose first end carries `protocol` (made by `make`); the test holds the other.
template <class P>
test::Wired attach(Loop& loop, P*& protocol, std::function<std::unique_ptr<P>()> make) {
    return test::wire_socket(loop, [&] {
        auto p = make();
        protocol = p.get();
        return p;
    });
}

std::string frame_bytes(const Codec& codec, const std::string& payload) {
    return test::encoded(codec, payload);
}

void write_all(test::Peer& peer, const std::string& bytes) {
    ASSERT_TRUE(peer.write(bytes));
}

/// Skips the test, saying why, where no serial device can be simulated.
#define SKIP_WITHOUT_SIMULATED_DEVICE()                                                            \
    if (const std::string why = test::SimulatedDevice::unavailable(); !why.empty()) {              \
        GTEST_SKIP() << why;                                                                       \
    }

using FramedProtocolTest = LoopTest;

TEST_F(FramedProtocolTest, FramesSplitAnywhereArriveWholeAndSendFrameFrames) {
    Recorder* protocol = nullptr;
    test::Wired pair =
        attach<Recorder>(loop, protocol, [] { return std::make_unique<Recorder>(); });
    std::string stream;
    Frames sent;
    std::mt19937 random(9);
    for (int i = 0; i < 50; ++i) {
        std::string payload(random() % 300, '\0');
        for (char& c : payload) {
            c = static_cast<char>(random() % 4 == 0 ? 0 : random());
        }
        sent.push_back(payload);
        stream += frame_bytes(cobs_crc(), payload);
    }
    // Written in odd-sized pieces with the loop running in between: reads split frames.
    for (std::size_t at = 0; at < stream.size();) {
        const std::size_t n = std::min<std::size_t>(1 + random() % 37, stream.size() - at);
        write_all(pair.peer, stream.substr(at, n));
        at += n;
        loop.run_once(false);
    }
    ASSERT_TRUE(run_until(
        loop, [&] { return protocol->frames.size() == sent.size(); }, 5s));
    EXPECT_EQ(protocol->frames, sent);
    EXPECT_EQ(protocol->frames_received(), sent.size());

    protocol->send_frame(ByteView("reply"));
    const std::string reply = frame_bytes(cobs_crc(), "reply");
    EXPECT_EQ(test::peer_read(loop, pair.peer, reply.size()), reply);
    pair.transport->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return protocol->lost_count == 1; }, 2s));
    EXPECT_THROW(protocol->send_frame(ByteView("late")), Error);
}

TEST_F(FramedProtocolTest, AnOversizedFrameClosesTheConnectionByDefault) {
    Recorder* protocol = nullptr;
    test::Wired pair =
        attach<Recorder>(loop, protocol, [] { return std::make_unique<Recorder>(); });
    write_all(pair.peer, frame_bytes(cobs_crc(), "before") +
                             frame_bytes(cobs_crc(65536), std::string(5000, 'x')) +
                             frame_bytes(cobs_crc(), "after"));
    ASSERT_TRUE(run_until(
        loop, [&] { return protocol->lost_count == 1; }, 2s));
    EXPECT_EQ(protocol->lost, make_error_code(errc::frame_too_large));
    EXPECT_EQ(protocol->frames, Frames{"before"}); // nothing accepted before it is lost
}

TEST_F(FramedProtocolTest, ResynchronisingSkipsOversizedAndCorruptFrames) {
    Recorder* protocol = nullptr;
    test::Wired pair = attach<Recorder>(
        loop, protocol, [] { return std::make_unique<Recorder>(OversizePolicy::resynchronise); });
    std::string corrupt = frame_bytes(cobs_crc(), "corrupt");
    corrupt[3] = static_cast<char>(corrupt[3] ^ 0x40);
    write_all(pair.peer, frame_bytes(cobs_crc(), "one") +
                             frame_bytes(cobs_crc(65536), std::string(5000, 'x')) + corrupt +
                             frame_bytes(cobs_crc(), "two"));
    ASSERT_TRUE(run_until(
        loop, [&] { return protocol->frames.size() == 2; }, 2s));
    EXPECT_EQ(protocol->frames, (Frames{"one", "two"}));
    EXPECT_EQ(protocol->frame_errors(), 2u);
    EXPECT_EQ(protocol->codec().crc_errors(), 1u);
    EXPECT_EQ(protocol->lost_count, 0);
    pair.transport->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return protocol->lost_count == 1; }, 2s));
}

/// Modbus-RTU-like framing: frames end on silence.
class GapRecorder : public FramedProtocol<IdleGapCodec> {
public:
    // 50 ms: long enough that a busy CI machine does not pause that long between two writes.
    GapRecorder() : FramedProtocol(IdleGapCodec(std::chrono::milliseconds(50), 64)) {}
    void frame_received(ByteView frame) override { frames.push_back(frame.to_string()); }
    Frames frames;
};

TEST_F(FramedProtocolTest, IdleGapFramesEndOnSilenceOverASerialPort) {
    SKIP_WITHOUT_SIMULATED_DEVICE();
    test::SimulatedDevice device;
    GapRecorder* protocol = nullptr;
    SerialOptions options;
    options.baud_rate = 115200;
    auto port = create_serial_connection(
                    loop,
                    [&] {
                        auto p = std::make_unique<GapRecorder>();
                        protocol = p.get();
                        return p;
                    },
                    device.path(), options)
                    .value();
    // Two pieces with no silence between them make one frame...
    write_all(device.peer(), "\x01\x03");
    loop.run_once(false);
    write_all(device.peer(), "\x05\x06");
    ASSERT_TRUE(run_until(
        loop, [&] { return protocol->frames.size() == 1; }, 2s));
    // ...a pause longer than the gap starts the next one.
    write_all(device.peer(), "AB");
    ASSERT_TRUE(run_until(
        loop, [&] { return protocol->frames.size() == 2; }, 2s));
    write_all(device.peer(), "CD");
    ASSERT_TRUE(run_until(
        loop, [&] { return protocol->frames.size() == 3; }, 2s));
    EXPECT_EQ(protocol->frames, (Frames{"\x01\x03\x05\x06", "AB", "CD"}));
    port->close();
    run_until(
        loop, [] { return false; }, 20ms);
}

// ---- FramedStream ----

using FramedStreamTest = LoopTest;

TEST_F(FramedStreamTest, ReadAndWriteFramesOverASerialPort) {
    SKIP_WITHOUT_SIMULATED_DEVICE();
    test::SimulatedDevice device;
    auto body = [](Loop& l, std::string path, test::Peer* uart) -> Task<Frames> {
        SerialOptions options;
        options.baud_rate = 115200;
        auto [reader, writer] = co_await open_serial_connection(l, path, options);
        FramedStream<Codec> framed(reader, writer, cobs_crc());
        const std::string wire =
            frame_bytes(cobs_crc(), "first") + frame_bytes(cobs_crc(), "second");
        EXPECT_TRUE(uart->write(wire.substr(0, 7))); // split inside the first frame
        Frames got;
        EXPECT_TRUE(uart->write(wire.substr(7)));
        for (int i = 0; i < 2; ++i) {
            std::optional<Bytes> frame = co_await framed.read_frame();
            got.push_back(frame ? ByteView(*frame).to_string() : "<eof>");
        }
        co_await framed.write_frame(ByteView("answer").to_bytes());
        writer.close();
        co_await writer.wait_closed();
        co_return got;
    };
    EXPECT_EQ(loop.run_until_complete(body(loop, device.path(), &device.peer())),
              (Frames{"first", "second"}));
    const std::string answer = frame_bytes(cobs_crc(), "answer");
    EXPECT_EQ(test::peer_read(loop, device.peer(), answer.size()), answer);
}

/// A server that sends `wire` to each client, then closes.
ClientConnected send_and_close(std::string wire) {
    return [wire](StreamReader, StreamWriter writer) -> Task<void> {
        writer.write(wire);
        co_await writer.drain();
        writer.close();
    };
}

/// Reads frames until the end of the stream; "<incomplete>" or "<too large>" for the errors.
Task<Frames> read_all(Loop& loop, std::uint16_t port, OversizePolicy policy) {
    auto [reader, writer] = co_await open_connection(loop, "127.0.0.1", port);
    FramedStream<Codec> framed(reader, writer, cobs_crc(64), policy);
    Frames got;
    for (;;) {
        std::string failure;
        try {
            std::optional<Bytes> frame = co_await framed.read_frame();
            if (!frame) {
                break;
            }
            got.push_back(ByteView(*frame).to_string());
            continue;
        } catch (const IncompleteReadError&) {
            failure = "<incomplete>";
        } catch (const FrameError& e) { // the codec's own report, with what it cost
            failure = e.code() == make_error_code(errc::frame_too_large) && e.size() > 0
                          ? "<too large>"
                          : e.what();
        } catch (const Error& e) {
            failure = e.what();
        }
        got.push_back(failure);
        if (failure != "<too large>") {
            break;
        }
    }
    writer.close();
    co_return got;
}

TEST_F(FramedStreamTest, EndOfStreamBetweenFramesIsNothingAndInsideOneIsAnError) {
    const std::string whole = frame_bytes(cobs_crc(), "a") + frame_bytes(cobs_crc(), "b");
    auto server =
        loop.run_until_complete(start_server(loop, send_and_close(whole), "127.0.0.1", 0));
    EXPECT_EQ(loop.run_until_complete(read_all(loop, server->port(), OversizePolicy::close)),
              (Frames{"a", "b"}));
    server->close();
    const std::string cut = whole + frame_bytes(cobs_crc(), "cut").substr(0, 3);
    auto cutting = loop.run_until_complete(start_server(loop, send_and_close(cut), "127.0.0.1", 0));
    EXPECT_EQ(loop.run_until_complete(read_all(loop, cutting->port(), OversizePolicy::close)),
              (Frames{"a", "b", "<incomplete>"}));
    cutting->close();
    run_until(
        loop, [] { return false; }, 20ms);
}

TEST_F(FramedStreamTest, AnOversizedFrameThrowsAndReadingGoesOn) {
    const std::string wire = frame_bytes(cobs_crc(), "a") +
                             frame_bytes(cobs_crc(), std::string(500, 'x')) +
                             frame_bytes(cobs_crc(), "b");
    auto server = loop.run_until_complete(start_server(loop, send_and_close(wire), "127.0.0.1", 0));
    EXPECT_EQ(loop.run_until_complete(read_all(loop, server->port(), OversizePolicy::close)),
              (Frames{"a", "<too large>", "b"}));
    EXPECT_EQ(
        loop.run_until_complete(read_all(loop, server->port(), OversizePolicy::resynchronise)),
        (Frames{"a", "b"}));
    server->close();
    run_until(
        loop, [] { return false; }, 20ms);
}

TEST_F(FramedStreamTest, IdleGapFramesOverASerialPort) {
    SKIP_WITHOUT_SIMULATED_DEVICE();
    test::SimulatedDevice device;
    auto body = [](Loop& l, std::string path, test::Peer* uart) -> Task<Frames> {
        SerialOptions options;
        options.baud_rate = 115200;
        auto [reader, writer] = co_await open_serial_connection(l, path, options);
        FramedStream<IdleGapCodec> framed(reader, writer,
                                          IdleGapCodec(std::chrono::microseconds(5000)));
        EXPECT_TRUE(uart->write("\x11\x22"));
        Frames got;
        std::optional<Bytes> first = co_await framed.read_frame(); // ends after 5 ms of silence
        got.push_back(ByteView(*first).to_string());
        EXPECT_TRUE(uart->write("next"));
        std::optional<Bytes> second = co_await framed.read_frame();
        got.push_back(ByteView(*second).to_string());
        writer.close();
        co_await writer.wait_closed();
        co_return got;
    };
    EXPECT_EQ(loop.run_until_complete(body(loop, device.path(), &device.peer())),
              (Frames{"\x11\x22", "next"}));
}

// ---- RequestClient ----

using Client = RequestClient<Codec>;

/// A device answering requests: "echo X" -> "X"; "slow N X" -> "X" after N ms; "drop N X" ->
/// nothing for the first N times it is asked, then "X"; "push" -> an unsolicited "event" first.
/// Pipelined requests "#<id> ..." are answered in reverse order of arrival once 4 are in.
class Device : public FramedProtocol<Codec> {
public:
    explicit Device(Loop& loop) : FramedProtocol(cobs_crc()), loop_(loop) {}
    void frame_received(ByteView frame) override {
        const std::string request = frame.to_string();
        ++requests;
        if (request.rfind("echo ", 0) == 0) {
            send_frame(ByteView(request.substr(5)));
        } else if (request.rfind("slow ", 0) == 0) {
            const auto space = request.find(' ', 5);
            const int ms = std::stoi(request.substr(5, space - 5));
            const std::string answer = request.substr(space + 1);
            timers_.push_back(loop_.call_later(std::chrono::milliseconds(ms), [this, answer] {
                if (transport() != nullptr) {
                    send_frame(ByteView(answer));
                }
            }));
        } else if (request.rfind("drop ", 0) == 0) {
            if (++dropped_ > std::stoi(request.substr(5, 1))) {
                send_frame(ByteView(request.substr(7)));
            }
        } else if (request == "push") {
            send_frame(ByteView("event"));
            send_frame(ByteView("pushed"));
        } else if (request[0] == '#') {
            held_.push_back(request);
            if (held_.size() == 4) {
                for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
                    send_frame(ByteView(*it + " done"));
                }
                held_.clear();
            }
        }
    }
    ~Device() override {
        for (auto& t : timers_) {
            t.cancel();
        }
    }
    int requests = 0;

private:
    Loop& loop_;
    int dropped_ = 0;
    std::vector<std::string> held_;
    std::vector<CallbackHandle> timers_;
};

struct ClientAndDevice {
    Client* client = nullptr;
    Device* device = nullptr;
    std::shared_ptr<Transport> client_transport;
    std::shared_ptr<Transport> device_transport;
};

ClientAndDevice connect_client(Loop& loop, RequestOptions options) {
    ClientAndDevice both;
    std::tie(both.client_transport, both.device_transport) = test::wire_transports(
        loop,
        [&] {
            auto c = std::make_unique<Client>(cobs_crc(), options);
            both.client = c.get();
            return c;
        },
        [&] {
            auto d = std::make_unique<Device>(loop);
            both.device = d.get();
            return d;
        });
    return both;
}

std::string text_of(const Bytes& bytes) {
    return ByteView(bytes).to_string();
}

using RequestClientTest = LoopTest;

Task<std::string> ask(Client& client, std::string id) {
    co_return text_of(co_await client.request(ByteView(id).to_bytes()));
}

TEST_F(RequestClientTest, AnswersComeBackToTheirRequests) {
    auto both = connect_client(loop, {});
    auto body = [](Client& client) -> Task<Frames> {
        Frames got;
        got.push_back(text_of(co_await client.request(ByteView("echo one").to_bytes())));
        got.push_back(text_of(co_await client.request(ByteView("echo two").to_bytes())));
        co_return got;
    };
    EXPECT_EQ(loop.run_until_complete(body(*both.client)), (Frames{"one", "two"}));
    EXPECT_EQ(both.client->outstanding(), 0u);
    both.client_transport->close();
}

TEST_F(RequestClientTest, ATimedOutRequestIsSentAgain) {
    RequestOptions options;
    options.timeout = 30ms;
    options.retries = 3;
    auto both = connect_client(loop, options);
    auto body = [](Client& client) -> Task<std::string> {
        co_return text_of(co_await client.request(ByteView("drop 2 ok").to_bytes()));
    };
    EXPECT_EQ(loop.run_until_complete(body(*both.client)), "ok");
    EXPECT_EQ(both.device->requests, 3);
    EXPECT_EQ(both.client->timeouts(), 2u);
    EXPECT_EQ(both.client->retries_sent(), 2u);
    both.client_transport->close();
}

TEST_F(RequestClientTest, SilenceEndsInTimeoutErrorAfterEveryAttempt) {
    RequestOptions options;
    options.timeout = 20ms;
    options.retries = 2;
    auto both = connect_client(loop, options);
    auto body = [](Client& client) -> Task<std::string> {
        try {
            co_await client.request(ByteView("drop 9 never").to_bytes());
        } catch (const TimeoutError& e) {
            co_return e.what();
        }
        co_return "answered";
    };
    const std::string result = loop.run_until_complete(body(*both.client));
    EXPECT_NE(result.find("no answer: 3 attempts of 20 ms"), std::string::npos) << result;
    EXPECT_EQ(both.device->requests, 3);
    EXPECT_EQ(both.client->outstanding(), 0u);
    both.client_transport->close();
}

TEST_F(RequestClientTest, ALateAnswerIsDroppedAndCounted) {
    RequestOptions options;
    options.timeout = 20ms;
    auto both = connect_client(loop, options);
    auto body = [](Client& client) -> Task<Frames> {
        Frames got;
        try {
            co_await client.request(ByteView("slow 80 late").to_bytes());
            got.push_back("answered");
        } catch (const TimeoutError&) {
            got.push_back("timed out");
        }
        co_await sleep(150ms); // the late answer arrives meanwhile
        got.push_back(text_of(co_await client.request(ByteView("echo fresh").to_bytes())));
        co_return got;
    };
    EXPECT_EQ(loop.run_until_complete(body(*both.client)), (Frames{"timed out", "fresh"}));
    EXPECT_EQ(both.client->late_responses(), 1u);
    EXPECT_EQ(both.client->unsolicited_frames(), 0u);
    both.client_transport->close();
}

TEST_F(RequestClientTest, PipelinedRequestsMatchByCorrelationId) {
    RequestOptions options;
    options.max_outstanding = 4;
    options.matches = [](ByteView request, ByteView response) {
        return response.as_string_view().substr(0, 2) == request.as_string_view().substr(0, 2);
    };
    auto both = connect_client(loop, options);
    auto body =
        [](Client& client) -> Task<std::tuple<std::string, std::string, std::string, std::string>> {
        co_return co_await gather(ask(client, "#1"), ask(client, "#2"), ask(client, "#3"),
                                  ask(client, "#4"));
    };
    const auto answers = loop.run_until_complete(body(*both.client));
    EXPECT_EQ(answers, std::make_tuple(std::string("#1 done"), std::string("#2 done"),
                                       std::string("#3 done"), std::string("#4 done")));
    both.client_transport->close();
}

TEST_F(RequestClientTest, UnsolicitedFramesGoToTheirHandler) {
    Frames events;
    RequestOptions options;
    options.matches = [](ByteView, ByteView response) {
        return response.as_string_view() != "event";
    };
    options.unsolicited = [&](ByteView frame) { events.push_back(frame.to_string()); };
    auto both = connect_client(loop, options);
    auto body = [](Client& client) -> Task<std::string> {
        co_return text_of(co_await client.request(ByteView("push").to_bytes()));
    };
    EXPECT_EQ(loop.run_until_complete(body(*both.client)), "pushed");
    EXPECT_EQ(events, Frames{"event"});
    EXPECT_EQ(both.client->unsolicited_frames(), 1u);
    both.client_transport->close();
}

TEST_F(RequestClientTest, LosingTheConnectionFailsOutstandingRequests) {
    auto both = connect_client(loop, {});
    auto body = [](Loop& l, Client& client,
                   std::shared_ptr<Transport> device) -> Task<std::string> {
        l.call_later(20ms, [device] { device->abort(); });
        try {
            co_await client.request(ByteView("slow 1000 never").to_bytes());
        } catch (const TimeoutError&) {
            co_return "timed out";
        } catch (const Error& e) {
            co_return e.what();
        }
        co_return "answered";
    };
    const std::string result =
        loop.run_until_complete(body(loop, *both.client, both.device_transport));
    EXPECT_NE(result.find("connection lost"), std::string::npos) << result;
    EXPECT_EQ(both.client->outstanding(), 0u);
    auto after = [](Client& client) -> Task<std::string> {
        try {
            co_await client.request(ByteView("echo x").to_bytes());
        } catch (const Error& e) {
            co_return e.what();
        }
        co_return "answered";
    };
    EXPECT_NE(loop.run_until_complete(after(*both.client)).find("not connected"),
              std::string::npos);
}

TEST_F(RequestClientTest, CancellingARequestLeavesNothingBehind) {
    auto both = connect_client(loop, {});
    auto waiting = loop.create_task([](Client& client) -> Task<Bytes> {
        co_return co_await client.request(ByteView("slow 1000 never").to_bytes());
    }(*both.client));
    ASSERT_TRUE(run_until(
        loop, [&] { return both.client->outstanding() == 1; }, 2s));
    waiting.cancel();
    ASSERT_TRUE(run_until(
        loop, [&] { return waiting.done(); }, 2s));
    EXPECT_EQ(both.client->outstanding(), 0u);
    // The slot was returned: the next request goes through.
    auto body = [](Client& client) -> Task<std::string> {
        co_return text_of(co_await client.request(ByteView("echo after").to_bytes()));
    };
    EXPECT_EQ(loop.run_until_complete(body(*both.client)), "after");
    both.client_transport->close();
}

} // namespace
} // namespace ferry
