// The echo sample on the Protocol API: asyncio's "TCP echo server/client using protocols",
// in ferry. Three modes:
//   echo server [--host H] [--port P]           serve until Ctrl-C
//   echo client --port P [--host H] [-m TEXT]   send one message, print the echo, exit
//   echo demo [--count N]                       both in one process, N round trips
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include <ferry/ferry.hpp>

#include "cli_errors.hpp"
#include "console.hpp"

namespace {

/// Server side: sends back whatever arrives (asyncio's EchoServerProtocol).
/// Output goes through a Console: a server must not stall because nobody reads its stdout.
class EchoServerProtocol : public ferry::Protocol {
public:
    explicit EchoServerProtocol(sample::Console& console) : console_(console) {}
    void connection_made(ferry::Transport& transport) override {
        transport_ = &transport;
        const auto peer = transport.peername();
        console_.line("connection from " + (peer ? peer->to_string() : std::string("?")));
    }
    void data_received(ferry::ByteView data) override {
        console_.line("data received: " + data.to_string());
        transport_->write(data);
    }
    void connection_lost(std::error_code error) override {
        console_.line(error ? "connection closed: " + error.message() : "connection closed");
    }

private:
    sample::Console& console_;
    ferry::Transport* transport_ = nullptr;
};

/// Client side: sends `count` messages one at a time, each after the previous echo.
class EchoClientProtocol : public ferry::Protocol {
public:
    EchoClientProtocol(ferry::Loop& loop, sample::Console& console, std::string message, int count,
                       bool& ok)
        : loop_(loop), console_(console), message_(std::move(message)), remaining_(count), ok_(ok) {
    }

    void connection_made(ferry::Transport& transport) override {
        transport_ = &transport;
        send();
    }
    void data_received(ferry::ByteView data) override {
        pending_.append(data.as_string_view());
        if (pending_.size() < expected_.size()) {
            return; // an echo may arrive in pieces
        }
        console_.line("echo received: " + pending_);
        if (pending_ != expected_) {
            console_.line("mismatch: expected " + expected_);
            transport_->close();
            return;
        }
        pending_.clear();
        if (--remaining_ == 0) {
            ok_ = true;
            transport_->close();
            return;
        }
        send();
    }
    void connection_lost(std::error_code error) override {
        console_.line(error ? "connection to the server closed: " + error.message()
                            : "connection to the server closed");
        loop_.stop();
    }

private:
    void send() {
        expected_ = message_ + " #" + std::to_string(++sent_);
        transport_->write(expected_);
        console_.line("data sent: " + expected_);
    }

    ferry::Loop& loop_;
    sample::Console& console_;
    std::string message_;
    int remaining_;
    bool& ok_;
    ferry::Transport* transport_ = nullptr;
    std::string expected_;
    std::string pending_;
    int sent_ = 0;
};

int run_server(const std::string& host, std::uint16_t port) {
    ferry::Loop loop;
    sample::Console console(loop);
    std::shared_ptr<ferry::Server> server;
    int status = 0;
    ferry::create_server(
        loop, [&console] { return std::make_unique<EchoServerProtocol>(console); }, host, port, {},
        [&](ferry::Result<std::shared_ptr<ferry::Server>> result) {
            if (!result) {
                std::fprintf(stderr, "echo server: %s\n", result.message().c_str());
                status = 1;
                loop.stop();
                return;
            }
            server = result.value();
            for (const auto& address : server->sockets()) {
                console.line("serving on " + address.to_string());
            }
        });
    loop.add_signal_handler(SIGINT, [&] { loop.stop(); });
    loop.add_signal_handler(SIGTERM, [&] { loop.stop(); });
    loop.run();
    return status;
}

int run_client(ferry::Loop& loop, sample::Console& console, const std::string& host,
               std::uint16_t port, const std::string& message, int count) {
    bool ok = false;
    bool failed = false;
    ferry::ConnectOptions options;
    options.timeout = std::chrono::seconds(5);
    ferry::create_connection(
        loop,
        [&] { return std::make_unique<EchoClientProtocol>(loop, console, message, count, ok); },
        host, port, options,
        [&](ferry::Result<std::shared_ptr<ferry::Transport>> result) {
            if (!result) {
                std::fprintf(stderr, "echo client: %s\n", result.message().c_str());
                failed = true;
                loop.stop();
            }
        });
    loop.run();
    return ok && !failed ? 0 : 1;
}

int run_demo(int count) {
    ferry::Loop loop;
    sample::Console console(loop);
    std::shared_ptr<ferry::Server> server;
    int status = 1;
    ferry::create_server(
        loop, [&console] { return std::make_unique<EchoServerProtocol>(console); }, "127.0.0.1", 0,
        {},
        [&](ferry::Result<std::shared_ptr<ferry::Server>> result) {
            if (!result) {
                std::fprintf(stderr, "echo demo: %s\n", result.message().c_str());
                loop.stop();
                return;
            }
            server = result.value();
            console.line("serving on " + server->sockets().front().to_string());
            loop.stop();
        });
    loop.run();
    if (server) {
        status = run_client(loop, console, "127.0.0.1", server->port(), "Hello World!", count);
        server->close();
    }
    console.line(status == 0 ? "demo: " + std::to_string(count) + " round trips ok"
                             : "demo: FAILED after " + std::to_string(count));
    console.flush();
    return status;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"ferry echo sample: asyncio's TCP echo server and client on the Protocol API"};
    std::string host = "127.0.0.1";
    std::uint16_t port = 8888;
    std::string message = "Hello World!";
    int count = 3;

    auto* server = app.add_subcommand("server", "serve until interrupted");
    server->add_option("--host", host, "address to listen on (\"\" = all)");
    server->add_option("--port", port, "port to listen on (0 = any)")
        ->check(sample::whole_number(0, 65535));

    auto* client = app.add_subcommand("client", "send messages and print the echoes");
    client->add_option("--host", host, "server address");
    client->add_option("--port", port, "server port")
        ->required()
        ->check(sample::whole_number(1, 65535));
    client->add_option("-m,--message", message, "text to send");
    client->add_option("-n,--count", count, "messages to send")
        ->check(sample::whole_number(1, 1000000));

    auto* demo = app.add_subcommand("demo", "server and client in one process");
    demo->add_option("-n,--count", count, "round trips")->check(sample::whole_number(1, 1000000));

    CLI11_PARSE(app, argc, argv);
    if (const int status = sample::require_subcommand(app); status >= 0) {
        return status;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    try {
        if (*server) {
            return run_server(host, port);
        }
        if (*client) {
            ferry::Loop loop;
            sample::Console console(loop);
            return run_client(loop, console, host, port, message, count);
        }
        return run_demo(count);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo: %s\n", e.what());
        return 1;
    }
}
