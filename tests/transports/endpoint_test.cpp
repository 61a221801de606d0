// Endpoint descriptions: parsing every kind, ser2net's shorthand, errors that name the bad
// part, the canonical form, and connect/listen opening real sockets, ptys and pipes.
#include <fcntl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../support/pty_pair.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_support.hpp"

namespace ferry::test {
namespace {

using namespace std::chrono_literals;

/// The message parse_endpoint throws for `description` ("" if it parses).
std::string parse_error(std::string_view description) {
    try {
        parse_endpoint(description);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), make_error_code(errc::invalid_argument));
        return e.what();
    }
    return "";
}

TEST(EndpointParseTest, SerialTakesAPathShorthandAndEveryOption) {
    const Endpoint e = parse_endpoint("serial:/dev/ttyUSB0:115200e71:flow=rtscts:dtr=off:"
                                      "rts=on:exclusive=false:hupcl:low_latency:discard_input");
    EXPECT_EQ(e.kind, EndpointKind::serial);
    EXPECT_FALSE(e.listens());
    EXPECT_EQ(e.path, "/dev/ttyUSB0");
    EXPECT_EQ(e.serial.baud_rate, 115200u);
    EXPECT_EQ(e.serial.parity, Parity::even);
    EXPECT_EQ(e.serial.data_bits, 7);
    EXPECT_EQ(e.serial.stop_bits, StopBits::one);
    EXPECT_EQ(e.serial.flow_control, FlowControl::rts_cts);
    EXPECT_EQ(e.serial.dtr, LineOnOpen::clear);
    EXPECT_EQ(e.serial.rts, LineOnOpen::set);
    EXPECT_FALSE(e.serial.exclusive);
    EXPECT_TRUE(e.serial.hang_up_on_close);
    EXPECT_TRUE(e.serial.low_latency);
    EXPECT_TRUE(e.serial.discard_input_on_open);

    const Endpoint keys = parse_endpoint(
        "serial:/dev/ttyS1:baud=250000:data_bits=5:parity=mark:stop_bits=1.5:flow=xonxoff:"
        "rs485_delay_before=2ms:rs485_receive_during_send=yes");
    EXPECT_EQ(keys.serial.baud_rate, 250000u);
    EXPECT_EQ(keys.serial.data_bits, 5);
    EXPECT_EQ(keys.serial.parity, Parity::mark);
    EXPECT_EQ(keys.serial.stop_bits, StopBits::one_and_half);
    EXPECT_EQ(keys.serial.flow_control, FlowControl::xon_xoff);
    ASSERT_TRUE(keys.serial.rs485);
    EXPECT_EQ(keys.serial.rs485->delay_before_send, 2ms);
    EXPECT_TRUE(keys.serial.rs485->receive_during_send);

    EXPECT_EQ(parse_endpoint("serial:/dev/ttyACM0:9600").serial.baud_rate, 9600u);
    EXPECT_EQ(parse_endpoint("serial:/dev/ttyACM0").serial.baud_rate, SerialOptions{}.baud_rate);
    EXPECT_EQ(parse_endpoint("serial:/dev/ttyACM0:57600N82").serial.stop_bits, StopBits::two);
}

TEST(EndpointParseTest, SocketsStdioAndPty) {
    const Endpoint tcp = parse_endpoint("tcp:example.org:7000:timeout=2s:keepalive=30:family=ipv4");
    EXPECT_EQ(tcp.kind, EndpointKind::tcp);
    EXPECT_EQ(tcp.host, "example.org");
    EXPECT_EQ(tcp.port, 7000);
    EXPECT_EQ(tcp.tcp.timeout, 2000ms);
    EXPECT_EQ(tcp.tcp.keepalive, 30s);
    EXPECT_EQ(tcp.tcp.family, AddressFamily::ipv4);
    EXPECT_EQ(parse_endpoint("tcp:[::1]:80").host, "::1");

    const Endpoint listen_default = parse_endpoint("tcp-listen:7000");
    EXPECT_TRUE(listen_default.listens());
    EXPECT_EQ(listen_default.host, "127.0.0.1") << "never every interface unless asked";
    EXPECT_EQ(listen_default.port, 7000);
    const Endpoint listen_any = parse_endpoint("tcp-listen:0:interface=[::]:backlog=16:reuse_port");
    EXPECT_EQ(listen_any.host, "::");
    EXPECT_EQ(listen_any.port, 0);
    EXPECT_EQ(listen_any.tcp_server.backlog, 16);
    EXPECT_TRUE(listen_any.tcp_server.reuse_port);

    EXPECT_EQ(parse_endpoint("unix:/run/x.sock").path, "/run/x.sock");
    const Endpoint unix_listen = parse_endpoint("unix-listen:/run/y.sock:remove_stale=false");
    EXPECT_TRUE(unix_listen.listens());
    EXPECT_FALSE(unix_listen.unix_server.remove_stale_socket);
    EXPECT_EQ(parse_endpoint("stdio").kind, EndpointKind::stdio);
    const Endpoint pty = parse_endpoint("pty:link=/tmp/ttyV0:baud=115200");
    EXPECT_EQ(pty.kind, EndpointKind::pty);
    EXPECT_EQ(pty.pty.link, "/tmp/ttyV0");
    EXPECT_EQ(pty.pty.serial.baud_rate, 115200u);
}

TEST(EndpointParseTest, EveryErrorNamesTheBadPartAndWhatIsValid) {
    const std::string unknown_kind = parse_error("tpc:localhost:80");
    EXPECT_NE(unknown_kind.find("'tpc:localhost:80'"), std::string::npos) << unknown_kind;
    EXPECT_NE(unknown_kind.find("unknown kind 'tpc'"), std::string::npos) << unknown_kind;
    EXPECT_NE(unknown_kind.find("serial, tcp, tcp-listen"), std::string::npos) << unknown_kind;

    const std::string unknown_key = parse_error("serial:/dev/ttyUSB0:bauds=9600");
    EXPECT_NE(unknown_key.find("unknown option 'bauds=9600'"), std::string::npos) << unknown_key;
    EXPECT_NE(unknown_key.find("serial keys: baud, data_bits"), std::string::npos) << unknown_key;

    const std::string bad_value = parse_error("serial:/dev/ttyUSB0:parity=evn");
    EXPECT_NE(bad_value.find("parity=evn: expected one of none, even, odd"), std::string::npos)
        << bad_value;
    EXPECT_NE(parse_error("serial:/dev/ttyUSB0:data_bits=9").find("from 5 to 8"),
              std::string::npos);
    EXPECT_NE(parse_error("serial:/dev/ttyUSB0:exclusive=maybe").find("true or false"),
              std::string::npos);
    EXPECT_NE(parse_error("serial").find("serial needs PATH"), std::string::npos);
    EXPECT_NE(parse_error("serial:/dev/x:9600:stop_bits=1.5").find("1.5 stop bits need 5 data"),
              std::string::npos);
    EXPECT_NE(parse_error("tcp:localhost").find("tcp needs HOST:PORT"), std::string::npos);
    EXPECT_NE(parse_error("tcp:localhost:70x0").find("port '70x0' is not a number from 1"),
              std::string::npos);
    EXPECT_NE(parse_error("tcp:localhost:0").find("port '0'"), std::string::npos);
    EXPECT_NE(parse_error("tcp-listen:65536").find("from 0 to 65535"), std::string::npos);
    EXPECT_NE(parse_error("tcp:[::1:80").find("unbalanced"), std::string::npos);
    EXPECT_NE(parse_error("tcp:h:1:timeout=soon").find("a duration such as 500ms"),
              std::string::npos);
    EXPECT_NE(parse_error("stdio:raw").find("stdio takes no options"), std::string::npos);
    EXPECT_NE(parse_error("unix:/x:backlog=3").find("unix takes no options"), std::string::npos);
    EXPECT_NE(parse_error("pty:parity=even").find("pty keys: baud, flow, link, stop_bits"),
              std::string::npos)
        << "a pty keeps only these line settings";
    EXPECT_NE(parse_error("").find("unknown kind ''"), std::string::npos);
}

TEST(EndpointParseTest, TheCanonicalFormParsesBackToTheSameEndpoint) {
    for (const char* description :
         {"serial:/dev/ttyUSB0:115200e71:flow=rtscts:dtr=off:hupcl",
          "serial:/dev/ttyS0:110n51:stop_bits=1.5:exclusive=false:rs485:rs485_delay_after=3ms",
          "tcp:[::1]:7000:timeout=1500ms:nodelay=false:bind=127.0.0.1",
          "tcp-listen:7000:interface=0.0.0.0:backlog=4:reuse_port:keepalive=9s:family=ipv4",
          "unix:/tmp/a.sock", "unix-listen:/tmp/b.sock:backlog=7:remove_stale=false", "stdio",
          "pty", "pty:link=/tmp/ttyV1:baud=38400:stop_bits=2:flow=xonxoff",
          "exec:python3 decode.py --port=COM3:9600 'a b'", "udp:[::1]:7001:family=ipv6:bind=[::1]",
          "udp-listen:7002:interface=0.0.0.0:reuse_address:reuse_port"}) {
        const std::string canonical = to_string(parse_endpoint(description));
        EXPECT_EQ(to_string(parse_endpoint(canonical)), canonical) << description;
    }
    EXPECT_EQ(to_string(parse_endpoint("serial:/dev/ttyUSB0:baud=115200")),
              "serial:/dev/ttyUSB0:115200n81");
    EXPECT_EQ(to_string(parse_endpoint("tcp-listen:7000")), "tcp-listen:7000:interface=127.0.0.1");
    EXPECT_EQ(to_string(parse_endpoint("tcp:[::1]:80")), "tcp:[::1]:80");
}

TEST(EndpointParseTest, TheHelpListsEveryKindAndItsKeys) {
    const std::string help = endpoint_help();
    for (const char* part : {"serial:PATH", "tcp:HOST:PORT", "tcp-listen:PORT", "unix:PATH",
                             "unix-listen:PATH", "stdio", "pty", "exec:COMMAND", "udp:HOST:PORT",
                             "udp-listen:PORT", "rs485_delay_before", "interface", "link"}) {
        EXPECT_NE(help.find(part), std::string::npos) << part;
    }
}

TEST(EndpointParseTest, ExecTakesTheWholeRestAsItsCommand) {
    const Endpoint endpoint = parse_endpoint("exec:socat - TCP:127.0.0.1:7000,nodelay");
    EXPECT_EQ(endpoint.kind, EndpointKind::exec);
    EXPECT_EQ(endpoint.command, "socat - TCP:127.0.0.1:7000,nodelay");
    EXPECT_FALSE(endpoint.listens());
    EXPECT_EQ(to_string(endpoint), "exec:socat - TCP:127.0.0.1:7000,nodelay");
    for (const char* empty : {"exec:", "exec", "exec:   "}) {
        try {
            (void)parse_endpoint(empty);
            ADD_FAILURE() << empty << " parsed";
        } catch (const Error& error) {
            EXPECT_NE(std::string(error.what()).find("exec needs COMMAND"), std::string::npos)
                << error.what();
        }
    }
}

class EndpointOpenTest : public LoopTest {};

/// Echoes what it receives.
class Echo : public Protocol {
public:
    void connection_made(Transport& transport) override { transport_ = &transport; }
    void data_received(ByteView data) override { transport_->write(data); }

private:
    Transport* transport_ = nullptr;
};

TEST_F(EndpointOpenTest, TcpListenAndTcpConnectTalkOverLoopback) {
    auto server = loop.run_until_complete(
        listen(loop, "tcp-listen:0", [] { return std::make_unique<Echo>(); }));
    ASSERT_EQ(server->sockets().size(), 1u);
    EXPECT_EQ(server->sockets()[0].host(), "127.0.0.1");
    auto seen = std::make_shared<Recording>();
    auto client = loop.run_until_complete(
        connect(loop, "tcp:127.0.0.1:" + std::to_string(server->port()), recording_factory(seen)));
    client->write("over tcp");
    EXPECT_TRUE(run_until(loop, [&] { return seen->data == "over tcp"; }));
    client->close();
    server->close();
    EXPECT_TRUE(run_until(loop, [&] { return seen->has_lost(); }));
}

TEST_F(EndpointOpenTest, UnixListenAndUnixConnectTalk) {
    TempDir dir;
    const std::string path = (dir / "bridge.sock").string();
    auto server = loop.run_until_complete(
        listen(loop, "unix-listen:" + path, [] { return std::make_unique<Echo>(); }));
    auto seen = std::make_shared<Recording>();
    auto client = loop.run_until_complete(connect(loop, "unix:" + path, recording_factory(seen)));
    client->write("over unix");
    EXPECT_TRUE(run_until(loop, [&] { return seen->data == "over unix"; }));
    client->close();
    server->close();
    EXPECT_TRUE(run_until(loop, [&] { return seen->has_lost(); }));
}

TEST_F(EndpointOpenTest, SerialOpensThePortWithTheDescribedSettings) {
    PtyPair pty;
    auto seen = std::make_shared<Recording>();
    auto transport = loop.run_until_complete(connect(
        loop, "serial:" + pty.path() + ":115200n82:exclusive=false", recording_factory(seen)));
    auto& serial = dynamic_cast<SerialTransport&>(*transport);
    EXPECT_EQ(serial.options().baud_rate, 115200u);
    EXPECT_EQ(serial.options().stop_bits, StopBits::two);
    termios settings{};
    ASSERT_EQ(::tcgetattr(pty.master(), &settings), 0);
    EXPECT_EQ(::cfgetospeed(&settings), B115200);
    EXPECT_NE(settings.c_cflag & CSTOPB, 0u);
    ASSERT_EQ(::write(pty.master(), "from device", 11), 11);
    EXPECT_TRUE(run_until(loop, [&] { return seen->data == "from device"; }));
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return seen->has_lost(); }));
}

TEST_F(EndpointOpenTest, OpenErrorsNameWhatFailedAndWrongDirectionsAreRefused) {
    const auto message_of = [&](Task<std::shared_ptr<Transport>> task) {
        try {
            loop.run_until_complete(std::move(task));
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    const auto factory = [] { return std::make_unique<Echo>(); };
    EXPECT_NE(
        message_of(connect(loop, "serial:/dev/ttyFERRYNONE", factory)).find("/dev/ttyFERRYNONE"),
        std::string::npos);
    EXPECT_NE(message_of(connect(loop, "tcp-listen:7000", factory))
                  .find("tcp-listen:7000:interface=127.0.0.1: a listening endpoint cannot be "
                        "connected to"),
              std::string::npos);
    try {
        loop.run_until_complete(listen(loop, "tcp:127.0.0.1:1", factory));
        ADD_FAILURE() << "listen on a connecting endpoint must fail";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("only tcp-listen, tls-listen and unix-listen"),
                  std::string::npos);
    }
    EXPECT_THROW(static_cast<void>(connect(loop, "bogus", factory)), Error)
        << "the parse error comes first";
}

TEST_F(EndpointOpenTest, APtyIsAVirtualSerialPortThatProgramsMayOpenAndCloseAgain) {
    TempDir dir;
    const std::string link = (dir / "ttyV0").string();
    auto seen = std::make_shared<Recording>();
    auto transport = loop.run_until_complete(
        connect(loop, "pty:link=" + link + ":baud=57600", recording_factory(seen)));
    auto& pty = dynamic_cast<SerialTransport&>(*transport);
    EXPECT_EQ(pty.path().rfind("/dev/pts/", 0), 0u) << pty.path();
    EXPECT_EQ(std::filesystem::read_symlink(link).string(), pty.path());
    EXPECT_EQ(pty.options().baud_rate, 57600u);

    for (int round = 0; round < 3; ++round) {
        // A program opens the port by its link, talks, and closes it: no hang-up for ferry.
        const int program = ::open(link.c_str(), O_RDWR | O_NOCTTY);
        ASSERT_GE(program, 0);
        termios settings{};
        ASSERT_EQ(::tcgetattr(program, &settings), 0);
        EXPECT_EQ(::cfgetispeed(&settings), B57600) << "the program sees the pty's settings";
        EXPECT_EQ(settings.c_lflag & (ICANON | ECHO), 0u) << "raw mode";
        const std::string hello = "hello " + std::to_string(round);
        ASSERT_EQ(::write(program, hello.data(), hello.size()), static_cast<ssize_t>(hello.size()));
        EXPECT_TRUE(run_until(loop, [&] { return seen->data == hello; }));
        seen->data.clear();
        transport->write("reply");
        run_until(
            loop, [] { return false; }, 20ms);
        char reply[5];
        ASSERT_EQ(::read(program, reply, 5), 5);
        EXPECT_EQ(std::string(reply, 5), "reply");
        ::close(program);
        run_until(
            loop, [] { return false; }, 20ms);
        EXPECT_FALSE(seen->has_lost()) << "closing the terminal end is no hang-up";
    }
    transport->close();
    EXPECT_TRUE(run_until(loop, [&] { return seen->has_lost(); }));
    EXPECT_FALSE(seen->lost_error);
    EXPECT_FALSE(std::filesystem::is_symlink(link)) << "the link goes with the pty";
}

TEST_F(EndpointOpenTest, APtyClosesOnceItsProgramHasReadAndAbortEndsTheWait) {
    auto seen = std::make_shared<Recording>();
    auto transport = create_pty(loop, recording_factory(seen)).value();
    const int program = ::open(transport->path().c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK);
    ASSERT_GE(program, 0);
    transport->write("read me before I go");
    transport->close(); // lingers: the kernel would drop what the program has not read
    run_until(
        loop, [] { return false; }, 50ms);
    EXPECT_FALSE(seen->has_lost()) << "closed before the program read";
    char text[64];
    ASSERT_EQ(::read(program, text, sizeof text), 19);
    EXPECT_EQ(std::string(text, 19), "read me before I go");
    EXPECT_TRUE(run_until(
        loop, [&] { return seen->has_lost(); }, 2s));

    auto unread = std::make_shared<Recording>();
    auto second = create_pty(loop, recording_factory(unread)).value();
    second->write("nobody reads this");
    second->close();
    run_until(
        loop, [] { return false; }, 30ms);
    EXPECT_FALSE(unread->has_lost());
    second->abort(); // ends the wait at once
    EXPECT_TRUE(run_until(
        loop, [&] { return unread->has_lost(); }, 1s));
    ::close(program);
}

TEST_F(EndpointOpenTest, APtyLinkNeverReplacesAFileThatIsNotASymlink) {
    TempDir dir;
    const std::string path = (dir / "precious").string();
    { std::ofstream(path) << "keep me"; }
    try {
        loop.run_until_complete(
            connect(loop, "pty:link=" + path, [] { return std::make_unique<Echo>(); }));
        ADD_FAILURE() << "the link must be refused";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not a symlink is in the way"), std::string::npos)
            << e.what();
    }
    EXPECT_TRUE(std::filesystem::is_regular_file(path));
}

/// In a child process with stdin and stdout on pipes: upper-cases stdin to stdout through the
/// stdio endpoint until EOF, then checks stdin's flags were put back. Exit status 0 = good.
int run_stdio_child(int in_fd, int out_fd) {
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    const int flags_before = ::fcntl(0, F_GETFL);
    struct Upper : Protocol {
        Transport* t = nullptr;
        void connection_made(Transport& transport) override { t = &transport; }
        void data_received(ByteView data) override {
            std::string text(data.as_string_view());
            for (char& c : text) {
                c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            }
            t->write(text);
        }
        bool eof_received() override { return false; } // close: flush, then end
    };
    {
        Loop child_loop;
        bool lost = false;
        struct Ending : Upper {
            bool* lost;
            explicit Ending(bool* l) : lost(l) {}
            void connection_lost(std::error_code) override { *lost = true; }
        };
        auto result = connect_stdio(child_loop, [&] { return std::make_unique<Ending>(&lost); });
        if (!result.ok()) {
            return 2;
        }
        while (!lost) {
            child_loop.run_once();
        }
    }
    return ::fcntl(0, F_GETFL) == flags_before ? 0 : 3;
}

TEST_F(EndpointOpenTest, ExecRunsACommandWhoseStdinAndStdoutAreTheTransport) {
    auto seen = std::make_shared<Recording>();
    auto child = loop.run_until_complete(connect(loop, "exec:tr a-z A-Z", recording_factory(seen)));
    child->write("through a child\n");
    child->write_eof(); // the child's stdin ends: tr finishes, its stdout ends
    EXPECT_TRUE(run_until(loop, [&] { return seen->has_lost(); }));
    EXPECT_EQ(seen->data, "THROUGH A CHILD\n");
    EXPECT_EQ(seen->eof, 1);
    EXPECT_FALSE(seen->lost_error) << seen->lost_error.message();
}

TEST_F(EndpointOpenTest, UdpAndUdpListenTalkToEachOther) {
    // udp-listen on a port picked here (bound and released), then udp: to it.
    DatagramOptions on_loopback;
    on_loopback.local_host = "127.0.0.1";
    auto probe = loop.run_until_complete(create_datagram_endpoint(
        loop, [] { return std::make_unique<DatagramProtocol>(); }, on_loopback));
    const std::uint16_t port = probe->sockname()->port();
    probe->abort();
    run_until(
        loop, [&] { return false; }, 20ms);

    auto listening = std::make_shared<Recording>();
    auto accepted =
        loop.create_task(connect(loop, "udp-listen:" + std::to_string(port),
                                 recording_factory(listening, [](RecordingProtocol& p) {
                                     p.on_data = [](Transport& t, ByteView data) { t.write(data); };
                                 })));
    run_until(
        loop, [&] { return false; }, 20ms);
    EXPECT_EQ(parse_endpoint("udp-listen:7000").host, "127.0.0.1") << "loopback unless asked";
    EXPECT_FALSE(parse_endpoint("udp-listen:7000").listens()) << "opened with connect, as socat";

    auto talking = std::make_shared<Recording>();
    auto client = loop.run_until_complete(
        connect(loop, "udp:127.0.0.1:" + std::to_string(port), recording_factory(talking)));
    client->write("over udp");
    EXPECT_TRUE(run_until(loop, [&] { return talking->data == "over udp"; }));
    ASSERT_TRUE(run_until(loop, [&] { return accepted.done(); }));
    EXPECT_EQ(*accepted.result()->peername(), *client->sockname());
    client->close();
    accepted.result()->close();
    EXPECT_TRUE(run_until(loop, [&] { return talking->has_lost() && listening->has_lost(); }));
}

TEST_F(EndpointOpenTest, ClosingAnExecEndpointEndsItsChild) {
    TempDir dir;
    const auto marker = dir / "ended";
    auto seen = std::make_shared<Recording>();
    // The child outlives its stdin's end; only the SIGTERM ends it (and its trap leaves a mark).
    auto child = loop.run_until_complete(connect(loop,
                                                 "exec:trap 'touch " + marker.string() +
                                                     "; exit 0' TERM; echo up; "
                                                     "while :; do sleep 0.05; done",
                                                 recording_factory(seen)));
    ASSERT_TRUE(run_until(loop, [&] { return seen->data == "up\n"; }));
    child->close();
    EXPECT_TRUE(run_until(loop, [&] { return seen->has_lost(); }));
    EXPECT_TRUE(run_until(
        loop, [&] { return std::filesystem::exists(marker); }, 10s))
        << "the child was not asked to end";
}

TEST_F(EndpointOpenTest, AnExecCommandThatCannotRunEndsWithTheShellsWords) {
    auto seen = std::make_shared<Recording>();
    auto child = loop.run_until_complete(
        connect(loop, "exec:ferry-no-such-command 2>/dev/null", recording_factory(seen)));
    EXPECT_TRUE(run_until(loop, [&] { return seen->has_lost(); }));
    EXPECT_EQ(seen->data, "") << "the shell reports on stderr; stdout just ends";
}

TEST_F(EndpointOpenTest, StdioReadsStandardInputAndWritesStandardOutput) {
    int to_child[2];
    int from_child[2];
    ASSERT_EQ(::pipe(to_child), 0);
    ASSERT_EQ(::pipe(from_child), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(to_child[1]);
        ::close(from_child[0]);
        ::_exit(run_stdio_child(to_child[0], from_child[1]));
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    ASSERT_EQ(::write(to_child[1], "shout this", 10), 10);
    ::close(to_child[1]); // EOF: the child flushes and ends
    std::string out;
    char buffer[64];
    for (ssize_t n; (n = ::read(from_child[0], buffer, sizeof buffer)) > 0;) {
        out.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(from_child[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_EQ(out, "SHOUT THIS");
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "2: connect_stdio failed, 3: stdin's flags not restored";
}

TEST_F(EndpointOpenTest, StdioOnAFileSaysTheLoopCannotWaitOnIt) {
    // connect_stdio in this process: point stdin at a regular file for the duration.
    TempDir dir;
    const std::string path = (dir / "input.txt").string();
    { std::ofstream(path) << "data"; }
    const int saved = ::dup(0);
    const int file = ::open(path.c_str(), O_RDONLY);
    ::dup2(file, 0);
    ::close(file);
    auto result = connect_stdio(loop, [] { return std::make_unique<Echo>(); });
    ::dup2(saved, 0);
    ::close(saved);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.message().find("standard input is a regular file"), std::string::npos)
        << result.message();
}

} // namespace
} // namespace ferry::test
