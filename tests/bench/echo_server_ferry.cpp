// ferry's echo servers: `echo_server_ferry protocol` (data_received -> write, pause_writing ->
// pause_reading), `echo_server_ferry streams` (a task per connection: read(256 KiB) -> write
// -> drain), `echo_server_ferry lines` (the same with readline(), for ping-pong only: the
// load generator's messages are lines, its bulk data is not) or `echo_server_ferry
// timed-lines` (each readline under wait_for) or `echo_server_ferry timed-requests` (each
// readline in a coroutine of the user's, under wait_for). As a user would write them. Built
// again as echo_server_ferry_tls, where
// `... CERT KEY` serves the same over TLS (the plaintext build makes no TlsContext, so it
// does not load OpenSSL).
#include <chrono>
#include <memory>
#include <string>

#include <ferry/ferry.hpp>

#include "echo_server.hpp"

namespace {

class Echo : public ferry::Protocol {
public:
    void connection_made(ferry::Transport& transport) override { transport_ = &transport; }
    void data_received(ferry::ByteView data) override { transport_->write(data); }
    void pause_writing() override { transport_->pause_reading(); }
    void resume_writing() override { transport_->resume_reading(); }

private:
    ferry::Transport* transport_ = nullptr;
};

ferry::Task<void> stream_echo(ferry::StreamReader reader, ferry::StreamWriter writer) {
    try {
        for (;;) {
            ferry::Bytes data = co_await reader.read(256 * 1024);
            if (data.empty()) {
                co_return;
            }
            writer.write(data);
            co_await writer.drain();
        }
    } catch (const ferry::ConnectionResetError&) {
        // The load generator closes its connections abruptly between phases: a normal end.
    }
}

/// What a device-protocol user writes: a line in, a line out.
ferry::Task<void> line_echo(ferry::StreamReader reader, ferry::StreamWriter writer) {
    try {
        for (;;) {
            ferry::Bytes line = co_await reader.readline();
            if (line.empty()) {
                co_return;
            }
            writer.write(line);
            co_await writer.drain();
        }
    } catch (const ferry::ConnectionResetError&) {
        // As stream_echo's.
    }
}

/// The same with a timeout on every line, as the README's client does.
ferry::Task<void> timed_line_echo(ferry::StreamReader reader, ferry::StreamWriter writer) {
    try {
        for (;;) {
            ferry::Bytes line =
                co_await ferry::wait_for(reader.readline(), std::chrono::minutes(1));
            if (line.empty()) {
                co_return;
            }
            writer.write(line);
            co_await writer.drain();
        }
    } catch (const ferry::ConnectionResetError&) {
        // As stream_echo's.
    }
}

/// A user's own coroutine for one request: here only a line, as the load generator sends.
ferry::Task<ferry::Bytes> read_request(ferry::StreamReader reader) {
    co_return co_await reader.readline();
}

/// The same with the user's coroutine under wait_for, as a request with a deadline is written.
ferry::Task<void> timed_request_echo(ferry::StreamReader reader, ferry::StreamWriter writer) {
    try {
        for (;;) {
            ferry::Bytes line =
                co_await ferry::wait_for(read_request(reader), std::chrono::minutes(1));
            if (line.empty()) {
                co_return;
            }
            writer.write(line);
            co_await writer.drain();
        }
    } catch (const ferry::ConnectionResetError&) {
        // As stream_echo's.
    }
}

} // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "protocol";
    const bool streams =
        mode == "streams" || mode == "lines" || mode == "timed-lines" || mode == "timed-requests";
    ferry::Loop loop;
    ferry::ServerOptions options;
    options.backlog = bench::echo_backlog;
#ifdef ECHO_SERVER_TLS
    if (argc > 3) {
        ferry::TlsOptions tls;
        tls.cert_file = argv[2];
        tls.key_file = argv[3];
        options.tls = ferry::TlsContext::server(tls);
    }
#endif
    std::shared_ptr<ferry::StreamServer> stream_server;
    std::shared_ptr<ferry::Server> server;
    if (streams) {
        stream_server = loop.run_until_complete(
            ferry::start_server(loop,
                                mode == "lines"            ? line_echo
                                : mode == "timed-lines"    ? timed_line_echo
                                : mode == "timed-requests" ? timed_request_echo
                                                           : stream_echo,
                                "127.0.0.1", 0, options));
        bench::announce_port(stream_server->port());
    } else {
        server = loop.run_until_complete(ferry::create_server(
            loop, [] { return std::make_unique<Echo>(); }, "127.0.0.1", 0, options));
        bench::announce_port(server->port());
    }
    loop.run();
    return 0;
}
