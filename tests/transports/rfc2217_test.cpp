// RFC 2217: the telnet decoder in every chunk size, ferry's client against ferry's server end
// (settings, confirmations, modem notifications, break, purge, flow control), servers that
// refuse, stay silent or answer otherwise, malformed input, and the rfc2217: description.
#include <random>

#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../support/recording_port.hpp"
#include "../support/test_support.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

// ---- the telnet decoder ---------------------------------------------------------------------

/// Writes every event as text, so that two decodings can be compared; adjacent data runs are
/// joined (chunking may split them anywhere).
class EventLog final : public telnet::Sink {
public:
    std::string text;
    void telnet_data(ByteView data) override {
        if (last_was_data_) {
            text.pop_back();
        } else {
            text += "D[";
        }
        text += std::string(data.as_string_view()) + "]";
        last_was_data_ = true;
    }
    void telnet_negotiation(telnet::Verb verb, std::uint8_t option) override {
        add(std::string(telnet::verb_name(verb)) + std::to_string(option) + ";");
    }
    void telnet_subnegotiation(std::uint8_t option, ByteView payload) override {
        add("SB" + std::to_string(option) + "[" + std::string(payload.as_string_view()) + "]");
    }
    void telnet_command(std::uint8_t command) override { add("C" + std::to_string(command) + ";"); }
    void telnet_error(std::string_view what) override { add("E[" + std::string(what) + "]"); }

private:
    void add(const std::string& event) {
        text += event;
        last_was_data_ = false;
    }
    bool last_was_data_ = false;
};

std::string decode_in_chunks(const std::string& input, std::size_t chunk) {
    telnet::Decoder decoder;
    EventLog log;
    for (std::size_t i = 0; i < input.size(); i += chunk) {
        decoder.feed(ByteView(input).subview(i, std::min(chunk, input.size() - i)), log);
    }
    return log.text;
}

TEST(TelnetDecoderTest, EveryChunkSizeGivesTheSameEvents) {
    const std::string iac = "\xff";
    const std::string input = "ab" + iac + iac + "c" + iac + "\xfb\x2c" + "x" + iac +
                              "\xfa\x2c\x01\x00\x01\xc2\x00"s + iac + "\xf0" + iac + "\xfa\x2c" +
                              "\x00"s + "sig" + iac + iac + "!" + iac + "\xf0" + iac + "\xf1" +
                              "tail" + iac + "\xfe\x01";
    const std::string whole = decode_in_chunks(input, input.size());
    EXPECT_EQ(whole,
              "D[ab\xff"
              "c]WILL44;D[x]SB44[\x01\x00\x01\xc2\x00]SB44[\x00sig\xff!]C241;D[tail]DONT1;"s);
    for (std::size_t chunk = 1; chunk < input.size(); ++chunk) {
        EXPECT_EQ(decode_in_chunks(input, chunk), whole) << "chunk size " << chunk;
    }
}

TEST(TelnetDecoderTest, BrokenSubnegotiationsAreDroppedAndDecodingResumes) {
    const std::string iac = "\xff";
    // IAC followed by a data byte inside a subnegotiation, then an oversized one.
    const std::string input = iac + "\xfa\x2c\x01" + iac + "x" + "after" + iac + "\xfa\x2c" +
                              std::string(2000, 'z') + iac + "\xf0" + "end";
    const std::string text = decode_in_chunks(input, input.size());
    EXPECT_NE(text.find("E[subnegotiation not ended by IAC SE dropped]"), std::string::npos)
        << text;
    EXPECT_NE(text.find("E[subnegotiation longer than 1024 bytes dropped]"), std::string::npos)
        << text.substr(0, 200);
    EXPECT_NE(text.find("after"), std::string::npos);
    EXPECT_NE(text.find("D[end]"), std::string::npos);
    for (std::size_t chunk : {1, 2, 7, 100}) {
        EXPECT_EQ(decode_in_chunks(input, chunk), text) << "chunk size " << chunk;
    }
}

TEST(TelnetEncoderTest, EscapesEveryFF) {
    Bytes out;
    telnet::append_escaped(ByteView("\xff"
                                    "a\xff\xff"),
                           out);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data()), out.size()),
              "\xff\xff"
              "a\xff\xff\xff\xff");
    out.clear();
    telnet::append_subnegotiation(44, ByteView("\x01\xff"), out);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(out.data()), out.size()),
              "\xff\xfa\x2c\x01\xff\xff\xff\xf0");
}

// ---- client and server ----------------------------------------------------------------------

/// A TCP server on 127.0.0.1 whose connections become RFC 2217 server ends over `port`, each
/// with a RecordingProtocol recording into `recording`.
class Rfc2217Test : public LoopTest {
protected:
    void start(std::function<void(RecordingProtocol&)> setup = {}) {
        ProtocolFactory accept = [this, setup] {
            struct Accept final : Protocol {
                std::function<void(std::shared_ptr<Transport>)> serve;
                void connection_made(Transport& t) override {
                    t.pause_reading();
                    std::weak_ptr<Transport> weak = t.shared_from_this();
                    t.loop().call_soon([weak, serve = serve] {
                        if (auto t = weak.lock()) {
                            serve(t);
                        }
                    });
                }
            };
            auto protocol = std::make_unique<Accept>();
            protocol->serve = [this, setup](std::shared_ptr<Transport> t) {
                servers.push_back(serve_rfc2217(t, port, recording_factory(served, setup)));
            };
            return protocol;
        };
        server = start_server(loop, accept);
    }

    Result<std::shared_ptr<Rfc2217Transport>> connect(Rfc2217Options options = {},
                                                      std::uint16_t to = 0) {
        return wait_result<std::shared_ptr<Rfc2217Transport>>(loop, [&](auto done) {
            connect_rfc2217(loop, recording_factory(client), "127.0.0.1",
                            to != 0 ? to : server->port(), options, done);
        });
    }

    std::shared_ptr<Rfc2217Transport> open(Rfc2217Options options = {}) {
        auto result = connect(options);
        EXPECT_TRUE(result.ok()) << result.message();
        return result.ok() ? result.value() : nullptr;
    }

    void TearDown() override {
        if (server) {
            server->close();
        }
        LoopTest::TearDown();
    }

    std::shared_ptr<RecordingPort> port = std::make_shared<RecordingPort>();
    std::shared_ptr<Server> server;
    std::vector<std::shared_ptr<Rfc2217ServerTransport>> servers;
    std::shared_ptr<Recording> served = std::make_shared<Recording>();
    std::shared_ptr<Recording> client = std::make_shared<Recording>();
};

TEST_F(Rfc2217Test, OpensWithTheSettingsItAskedForAndTheServerApplied) {
    start();
    Rfc2217Options options;
    options.serial.baud_rate = 115200;
    options.serial.data_bits = 7;
    options.serial.parity = Parity::even;
    options.serial.stop_bits = StopBits::two;
    options.serial.flow_control = FlowControl::rts_cts;
    options.serial.dtr = LineOnOpen::clear;
    options.serial.rts = LineOnOpen::set;
    auto port_client = open(options);
    ASSERT_TRUE(port_client);
    EXPECT_EQ(client->made, 1);
    EXPECT_EQ(port->current().baud_rate, 115200u);
    EXPECT_EQ(port->current().data_bits, 7);
    EXPECT_EQ(port->current().parity, Parity::even);
    EXPECT_EQ(port->current().stop_bits, StopBits::two);
    EXPECT_EQ(port->current().flow_control, FlowControl::rts_cts);
    EXPECT_FALSE(port->dtr());
    EXPECT_TRUE(port->rts());
    EXPECT_EQ(port_client->options().baud_rate, 115200u);
    EXPECT_EQ(port_client->options().parity, Parity::even);
    EXPECT_EQ(port_client->path(), "rfc2217://127.0.0.1:" + std::to_string(server->port()));
    // The server sends its modem lines right after negotiating, and its signature on request.
    EXPECT_TRUE(run_until(loop, [&] { return !port_client->server_signature().empty(); }));
    EXPECT_EQ(port_client->server_signature(), "recording port");
    EXPECT_NO_THROW(port_client->modem_status());
    ASSERT_EQ(servers.size(), 1u);
    EXPECT_TRUE(servers[0]->com_port_agreed());
    port_client->close();
    EXPECT_TRUE(run_until(loop, [&] { return client->has_lost() && served->has_lost(); }));
    EXPECT_FALSE(client->lost_error);
}

Task<void> confirm_everything(std::shared_ptr<Rfc2217Transport> remote,
                              std::shared_ptr<RecordingPort> port) {
    SerialOptions wanted = remote->options();
    wanted.baud_rate = 57600;
    wanted.stop_bits = StopBits::two;
    const SerialOptions applied = co_await remote->reconfigure_confirmed(wanted);
    EXPECT_EQ(applied.baud_rate, 57600u);
    EXPECT_EQ(applied.stop_bits, StopBits::two);
    EXPECT_EQ(port->current().baud_rate, 57600u);
    co_await remote->set_dtr_confirmed(false);
    EXPECT_FALSE(port->dtr());
    co_await remote->set_rts_confirmed(false);
    EXPECT_FALSE(port->rts());
    co_await remote->purge_confirmed(Purge::both);
    EXPECT_EQ(port->purges, std::vector<Purge>{Purge::both});
    co_await remote->send_break(20ms);
    EXPECT_EQ(port->breaks, (std::vector<bool>{true, false}));
    co_await remote->drain_to_wire();
}

TEST_F(Rfc2217Test, ConfirmedCommandsCompleteOnTheServersAnswer) {
    start();
    auto remote = open();
    ASSERT_TRUE(remote);
    loop.run_until_complete(confirm_everything(remote, port));
    // The plain forms send and return; the answers update options().
    SerialOptions wanted = remote->options();
    wanted.baud_rate = 1200;
    remote->reconfigure(wanted);
    remote->set_break(true);
    remote->write("during the break");
    EXPECT_TRUE(run_until(loop, [&] { return port->break_on(); }));
    EXPECT_TRUE(run_until(loop, [&] { return remote->options().baud_rate == 1200u; }));
    EXPECT_EQ(served->data, "");
    remote->set_break(false);
    EXPECT_TRUE(run_until(loop, [&] { return served->data == "during the break"; }));
    EXPECT_FALSE(port->break_on());
    remote->abort();
    EXPECT_TRUE(run_until(loop, [&] { return client->has_lost(); }));
}

Task<ModemStatus> wait_for_cts(std::shared_ptr<Rfc2217Transport> remote) {
    ModemStatus watch;
    watch.cts = true;
    co_return co_await remote->wait_modem_change(watch);
}

TEST_F(Rfc2217Test, ModemLineChangesReachTheClient) {
    start();
    auto remote = open();
    ASSERT_TRUE(remote);
    auto waiting = loop.create_task(wait_for_cts(remote));
    EXPECT_FALSE(run_until(
        loop, [&] { return waiting.done(); }, 50ms));
    ModemStatus lines;
    lines.cts = true;
    lines.cd = true;
    servers.at(0)->notify_modem_status(lines);
    EXPECT_TRUE(run_until(loop, [&] { return waiting.done(); }));
    EXPECT_TRUE(waiting.result().cts);
    EXPECT_TRUE(remote->modem_status().cd);
    remote->close();
    EXPECT_TRUE(run_until(loop, [&] { return client->has_lost(); }));
}

TEST_F(Rfc2217Test, DataWithEveryByteValueCrossesBothWaysUnaltered) {
    start([](RecordingProtocol& p) { p.on_data = [](Transport& t, ByteView d) { t.write(d); }; });
    auto remote = open();
    ASSERT_TRUE(remote);
    std::string payload(1 << 20, '\0');
    std::mt19937 random(7);
    for (char& c : payload) {
        c = static_cast<char>(random() & 0xff);
    }
    for (int i = 0; i < 1000; ++i) {
        payload[static_cast<std::size_t>(i) * 997] = '\xff'; // runs of IAC too
    }
    remote->write(payload);
    EXPECT_TRUE(run_until(
        loop, [&] { return client->data.size() >= payload.size(); }, 30s));
    EXPECT_TRUE(client->data == payload) << "the echo arrived altered";
    EXPECT_TRUE(served->data == payload);
    remote->close();
    EXPECT_TRUE(run_until(loop, [&] { return client->has_lost(); }));
}

TEST_F(Rfc2217Test, APausedServerSuspendsTheClientsDataAndResumesIt) {
    start([](RecordingProtocol& p) { p.on_made = [](Transport& t) { t.pause_reading(); }; });
    auto remote = open();
    ASSERT_TRUE(remote);
    EXPECT_TRUE(run_until(loop, [&] { return remote->suspended_by_server(); }));
    remote->write("held");
    EXPECT_EQ(remote->write_buffer_size(), 4u);
    servers.at(0)->resume_reading();
    EXPECT_TRUE(run_until(loop, [&] { return served->data == "held"; }));
    EXPECT_FALSE(remote->suspended_by_server());
    remote->close();
    EXPECT_TRUE(run_until(loop, [&] { return client->has_lost(); }));
}

TEST_F(Rfc2217Test, CloseWaitsUntilASlowServerHasReadEverything) {
    // The server reads in bursts, so it keeps sending FLOWCONTROL-SUSPEND and -RESUME. Were
    // the client's socket closed while one is on its way, the client's kernel would answer it
    // with a reset, and what neither side had read would be lost.
    start([](RecordingProtocol& p) {
        p.on_data = [](Transport& t, ByteView) {
            t.pause_reading();
            std::weak_ptr<Transport> weak = t.shared_from_this();
            t.loop().call_later(2ms, [weak] {
                if (auto held = weak.lock()) {
                    held->resume_reading();
                }
            });
        };
    });
    auto remote = open();
    ASSERT_TRUE(remote);
    const std::string payload(2 << 20, 'c');
    remote->write(payload);
    remote->close();
    EXPECT_TRUE(run_until(
        loop, [&] { return served->data.size() >= payload.size() && client->has_lost(); }, 30s));
    EXPECT_EQ(served->data.size(), payload.size());
    EXPECT_FALSE(client->lost_error) << client->lost_error.message();
    // The server may still be sending a FLOWCONTROL command when the client has gone (it
    // then hears "broken pipe"); what matters is that it read everything first.
    EXPECT_TRUE(run_until(loop, [&] { return served->has_lost(); }));
}

TEST_F(Rfc2217Test, AClientsSuspendHoldsTheServersDataUntilResume) {
    start();
    auto raw = std::make_shared<Recording>();
    auto peer = connect_to(loop, recording_factory(raw), "127.0.0.1", server->port());
    ASSERT_TRUE(peer);
    const std::string iac = "\xff";
    peer->write(iac + "\xfb\x2c" + iac + "\xfa\x2c\x08" + iac + "\xf0"); // SUSPEND
    ASSERT_TRUE(run_until(loop, [&] { return !servers.empty() && servers[0]->com_port_agreed(); }));
    test::run_until(
        loop, [] { return false; }, 50ms); // the SUSPEND is read
    servers[0]->write("held back");
    EXPECT_FALSE(run_until(
        loop, [&] { return raw->data.find("held back") != std::string::npos; }, 100ms));
    EXPECT_EQ(servers[0]->write_buffer_size(), 9u);
    peer->write(iac + "\xfa\x2c\x09" + iac + "\xf0"); // RESUME
    EXPECT_TRUE(run_until(loop, [&] { return raw->data.find("held back") != std::string::npos; }));
    peer->close();
    EXPECT_TRUE(run_until(loop, [&] { return served->has_lost(); }));
}

TEST_F(Rfc2217Test, AStrictClientRefusesAServerThatAppliesAnotherValue) {
    start();
    port->refuse_baud = true;
    Rfc2217Options options;
    options.serial.baud_rate = 115200;
    auto result = connect(options);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.message().find("the server refused SET-BAUDRATE 115200: it answered "
                                    "SET-BAUDRATE 9600"),
              std::string::npos)
        << result.message();
    EXPECT_EQ(client->made, 0);

    options.strict = false;
    auto lenient = connect(options);
    ASSERT_TRUE(lenient.ok()) << lenient.message();
    EXPECT_EQ(lenient.value()->options().baud_rate, 9600u); // what the server holds
    lenient.value()->close();
    EXPECT_TRUE(run_until(loop, [&] { return client->has_lost(); }));
}

/// A server that agrees to COM-PORT-OPTION (and whatever else is asked) but answers nothing.
class SilentServer final : public Protocol {
    void connection_made(Transport& t) override { transport_ = &t; }
    void data_received(ByteView data) override {
        const std::string text(data.as_string_view());
        if (text.find("\xff\xfb\x2c") != std::string::npos) {
            transport_->write("\xff\xfd\x2c"); // DO COM-PORT-OPTION
        }
    }
    Transport* transport_ = nullptr;
};

TEST_F(Rfc2217Test, AServerThatNeverAnswersTimesOutWhenStrictAndIsTrustedWhenNot) {
    server = start_server(loop, [] { return std::make_unique<SilentServer>(); });
    Rfc2217Options options;
    options.command_timeout = 200ms;
    options.serial.baud_rate = 19200;
    auto result = connect(options);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.message().find("did not answer SET-BAUDRATE 19200 within 200 ms"),
              std::string::npos)
        << result.message();

    options.strict = false;
    auto lenient = connect(options);
    ASSERT_TRUE(lenient.ok()) << lenient.message();
    EXPECT_EQ(lenient.value()->options().baud_rate, 19200u); // taken as applied
    lenient.value()->close();
    EXPECT_TRUE(run_until(loop, [&] { return client->has_lost(); }));
}

/// A server that says something and hangs up, or refuses COM-PORT-OPTION, or says nothing.
class ScriptedServer final : public Protocol {
public:
    explicit ScriptedServer(std::string reply, bool hang_up)
        : reply_(std::move(reply)), hang_up_(hang_up) {}
    void connection_made(Transport& t) override {
        t.write(reply_);
        if (hang_up_) {
            t.close();
        }
    }

private:
    std::string reply_;
    bool hang_up_;
};

TEST_F(Rfc2217Test, ServersThatAreNotRfc2217AreReportedClearly) {
    server = start_server(
        loop, [] { return std::make_unique<ScriptedServer>("port already in use\r\n", true); });
    auto busy = connect();
    ASSERT_FALSE(busy.ok());
    EXPECT_NE(busy.message().find("the server said: \"port already in use\""), std::string::npos)
        << busy.message();
    server->close();

    server = start_server(loop, [] {
        return std::make_unique<ScriptedServer>("\xff\xfe\x2c", false); // DONT COM-PORT
    });
    auto refused = connect();
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.message().find("refused COM-PORT-OPTION"), std::string::npos)
        << refused.message();
    server->close();

    server = start_server(loop, [] { return std::make_unique<ScriptedServer>("", false); });
    Rfc2217Options quick;
    quick.command_timeout = 100ms;
    auto silent = connect(quick);
    ASSERT_FALSE(silent.ok());
    EXPECT_NE(silent.message().find("did not agree to COM-PORT-OPTION within 100 ms"),
              std::string::npos)
        << silent.message();
    auto closed = wait_result<std::shared_ptr<Rfc2217Transport>>(loop, [&](auto done) {
        connect_rfc2217(loop, recording_factory(client), "127.0.0.1", 1, {}, done);
    });
    EXPECT_FALSE(closed.ok());
    EXPECT_EQ(client->made, 0);
}

TEST_F(Rfc2217Test, MalformedCommandsAreIgnoredAndTheDataGoesThrough) {
    start();
    auto raw = std::make_shared<Recording>();
    auto peer = connect_to(loop, recording_factory(raw), "127.0.0.1", server->port());
    ASSERT_TRUE(peer);
    const std::string iac = "\xff";
    peer->write(iac + "\xfb\x2c"                               // WILL COM-PORT
                + iac + "\xfa\x2c\x01\x00\x01"s + iac + "\xf0" // SET-BAUDRATE, 2 bytes short
                + iac + "\xfa\x2c\x05\x63" + iac + "\xf0"      // SET-CONTROL 99
                + iac + "\xfa\x2c\x4d\x01" + iac + "\xf0"      // command 77
                + iac + "\xfa\x2c\x0c\x09" + iac + "\xf0"      // PURGE-DATA 9
                + iac + "\xfa\x2c" + std::string(3000, 'x') + iac + "\xf0" // oversized
                + iac + "\xfa\x2c\x01\x00\x00"s + iac + "x"                // IAC x inside
                + "plain data");
    EXPECT_TRUE(run_until(loop, [&] { return served->data == "plain data"; }));
    EXPECT_EQ(port->applies, 0);
    EXPECT_TRUE(port->purges.empty());
    EXPECT_FALSE(served->has_lost());
    peer->close();
    EXPECT_TRUE(run_until(loop, [&] { return served->has_lost(); }));
}

TEST_F(Rfc2217Test, QueriesAreAnsweredWithTheValuesInEffect) {
    start();
    port->current().baud_rate = 38400;
    auto raw = std::make_shared<Recording>();
    auto peer = connect_to(loop, recording_factory(raw), "127.0.0.1", server->port());
    ASSERT_TRUE(peer);
    const std::string iac = "\xff";
    peer->write(iac + "\xfb\x2c" + iac + "\xfa\x2c\x01" + std::string(4, '\0') + iac + "\xf0" +
                iac + "\xfa\x2c\x04\x00"s + iac + "\xf0" + iac + "\xfa\x2c\x05\x07" + iac + "\xf0" +
                iac + "\xfa\x2c\x05\x0d" + iac + "\xf0" + iac + "\xfa\x2c\x05\x04" + iac + "\xf0");
    const std::string baud = iac + "\xfa\x2c\x65\x00\x00\x96\x00"s + iac + "\xf0";
    const std::string stop = iac + "\xfa\x2c\x68\x01" + iac + "\xf0";
    const std::string dtr = iac + "\xfa\x2c\x69\x08" + iac + "\xf0";
    const std::string inbound = iac + "\xfa\x2c\x69\x0e" + iac + "\xf0";
    const std::string brk = iac + "\xfa\x2c\x69\x06" + iac + "\xf0";
    EXPECT_TRUE(run_until(loop, [&] { return raw->data.find(brk) != std::string::npos; }));
    for (const std::string& answer : {baud, stop, dtr, inbound, brk}) {
        EXPECT_NE(raw->data.find(answer), std::string::npos);
    }
    peer->close();
    EXPECT_TRUE(run_until(loop, [&] { return served->has_lost(); }));
}

TEST_F(Rfc2217Test, AClientThatOnlySaysDoComPortIsServedAndToldTheModemLines) {
    // pyserial's reader thread may take the server's DO COM-PORT-OPTION as the answer to a
    // WILL its main thread never gets to send: only its own DO arrives. It still needs the
    // NOTIFY-MODEMSTATE ("remote sends no NOTIFY_MODEMSTATE" otherwise).
    start();
    port->lines = ModemStatus{.cts = true, .dsr = false, .ri = false, .cd = true};
    auto raw = std::make_shared<Recording>();
    auto peer = connect_to(loop, recording_factory(raw), "127.0.0.1", server->port());
    ASSERT_TRUE(peer);
    const std::string iac = "\xff";
    peer->write(iac + "\xfd\x01" + iac + "\xfd\x2c"); // DO ECHO, DO COM-PORT
    const std::string will_com_port = iac + "\xfb\x2c";
    const std::string notify = iac + "\xfa\x2c\x6b\x90" + iac + "\xf0"; // CTS and CD
    EXPECT_TRUE(run_until(loop, [&] { return raw->data.find(notify) != std::string::npos; }));
    EXPECT_LT(raw->data.find(will_com_port), raw->data.find(notify));
    peer->close();
    EXPECT_TRUE(run_until(loop, [&] { return served->has_lost(); }));
}

TEST(Rfc2217EndpointTest, TheDescriptionCarriesSettingsStrictnessAndTimeouts) {
    const Endpoint e =
        parse_endpoint("rfc2217:[::1]:7000:115200e71:flow=rtscts:dtr=off:strict=false:"
                       "command_timeout=500ms:timeout=2s");
    EXPECT_EQ(e.kind, EndpointKind::rfc2217);
    EXPECT_EQ(e.host, "::1");
    EXPECT_EQ(e.port, 7000);
    EXPECT_EQ(e.rfc2217.serial.baud_rate, 115200u);
    EXPECT_EQ(e.rfc2217.serial.parity, Parity::even);
    EXPECT_EQ(e.rfc2217.serial.data_bits, 7);
    EXPECT_EQ(e.rfc2217.serial.flow_control, FlowControl::rts_cts);
    EXPECT_EQ(e.rfc2217.serial.dtr, LineOnOpen::clear);
    EXPECT_FALSE(e.rfc2217.strict);
    EXPECT_EQ(e.rfc2217.command_timeout, 500ms);
    EXPECT_EQ(e.rfc2217.tcp.timeout, 2s);
    EXPECT_EQ(to_string(parse_endpoint(to_string(e))), to_string(e));
    EXPECT_TRUE(parse_endpoint("tcp-listen:7000:rfc2217").rfc2217_server);
    EXPECT_EQ(to_string(parse_endpoint("tcp-listen:7000:rfc2217")),
              "tcp-listen:7000:interface=127.0.0.1:rfc2217");
    try {
        parse_endpoint("rfc2217:localhost:7000:hupcl");
        ADD_FAILURE() << "hupcl is the server's business";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find("unknown option 'hupcl' (rfc2217 keys:"),
                  std::string::npos)
            << error.what();
    }
    EXPECT_THROW(parse_endpoint("rfc2217:localhost"), Error);
}

} // namespace
} // namespace ferry::test
