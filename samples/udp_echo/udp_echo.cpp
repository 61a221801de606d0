// UDP echo, asyncio's "UDP echo client and server" in ferry: the server on the protocol API
// (DatagramProtocol), the client on the coroutine API (DatagramEndpoint, with a timeout and
// retries: UDP may lose a datagram).
//   udp_echo server [--host H] [--port P]          serve until Ctrl-C
//   udp_echo client --port P [--host H] [-m TEXT]  send datagrams, print the echoes
//   udp_echo demo [--count N]                      both in one process
#include <csignal>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include <ferry/ferry.hpp>

#include "cli_errors.hpp"
#include "console.hpp"

namespace {

using ferry::Task;

/// Sends every datagram back to its sender (asyncio's EchoServerProtocol).
class EchoServer final : public ferry::DatagramProtocol {
public:
    explicit EchoServer(sample::Console& console) : console_(console) {}
    void connection_made(ferry::DatagramTransport& transport) override { transport_ = &transport; }
    void datagram_received(ferry::ByteView data, const ferry::SocketAddress& from) override {
        console_.line("received " + std::to_string(data.size()) + " bytes from " +
                      from.to_string());
        transport_->sendto(data, from);
    }
    void error_received(const ferry::Error& error) override { console_.line(error.what()); }

private:
    sample::Console& console_;
    ferry::DatagramTransport* transport_ = nullptr;
};

ferry::DatagramOptions on(const std::string& host, std::uint16_t port) {
    ferry::DatagramOptions options;
    options.local_host = host;
    options.local_port = port;
    return options;
}

Task<std::shared_ptr<ferry::DatagramTransport>>
start_server(ferry::Loop& loop, sample::Console& console, std::string host, std::uint16_t port) {
    auto opening = ferry::create_datagram_endpoint(
        loop, [&console] { return std::make_unique<EchoServer>(console); }, on(host, port));
    auto server = co_await std::move(opening);
    console.line("serving on " + server->sockname()->to_string());
    co_return server;
}

/// Sends `count` numbered datagrams, each waiting up to 1 s for its echo, 3 tries each.
Task<bool> echo_client(ferry::Loop& loop, sample::Console& console, std::string host,
                       std::uint16_t port, std::string message, int count) {
    ferry::DatagramOptions connected;
    connected.remote_host = host;
    connected.remote_port = port;
    auto opening = ferry::DatagramEndpoint::open(loop, connected);
    ferry::DatagramEndpoint client = co_await std::move(opening);
    bool ok = true;
    for (int i = 1; i <= count && ok; ++i) {
        const std::string text = message + " #" + std::to_string(i);
        bool answered = false;
        for (int attempt = 0; attempt < 3 && !answered; ++attempt) {
            client.sendto(ferry::ByteView(text));
            try {
                auto receiving = client.recvfrom();
                ferry::Datagram echo =
                    co_await ferry::wait_for(std::move(receiving), std::chrono::seconds(1));
                console.line("echo received: " + ferry::ByteView(echo.data).to_string());
                ok = ferry::ByteView(echo.data) == ferry::ByteView(text);
                answered = true;
            } catch (const ferry::TimeoutError&) {
                console.line("no echo within 1 s; sending again");
            }
        }
        ok = ok && answered;
    }
    client.close();
    co_await client.wait_closed();
    co_return ok;
}

Task<int> demo(ferry::Loop& loop, sample::Console& console, int count) {
    auto starting = start_server(loop, console, "127.0.0.1", 0);
    auto server = co_await std::move(starting);
    auto talking =
        echo_client(loop, console, "127.0.0.1", server->sockname()->port(), "Hello World!", count);
    const bool ok = co_await std::move(talking);
    server->close();
    console.line(ok ? "demo: " + std::to_string(count) + " round trips ok"
                    : "demo: FAILED after " + std::to_string(count));
    co_return ok ? 0 : 1;
}

Task<int> serve(ferry::Loop& loop, sample::Console& console, std::string host, std::uint16_t port) {
    auto starting = start_server(loop, console, host, port);
    auto server = co_await std::move(starting);
    ferry::Event interrupted;
    loop.add_signal_handler(SIGINT, [&] { interrupted.set(); });
    loop.add_signal_handler(SIGTERM, [&] { interrupted.set(); });
    co_await interrupted.wait();
    server->close();
    co_return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"ferry UDP echo sample"};
    std::string host = "127.0.0.1";
    std::uint16_t port = 9999;
    std::string message = "Hello World!";
    int count = 3;
    auto* server = app.add_subcommand("server", "serve until interrupted");
    server->add_option("--host", host, "address to bind");
    server->add_option("--port", port, "port to bind (0 = any)")
        ->check(sample::whole_number(0, 65535));
    auto* client = app.add_subcommand("client", "send datagrams and print the echoes");
    client->add_option("--host", host, "server address");
    client->add_option("--port", port, "server port")
        ->required()
        ->check(sample::whole_number(1, 65535));
    client->add_option("-m,--message", message, "text to send");
    client->add_option("-n,--count", count, "datagrams to send")
        ->check(sample::whole_number(1, 1000000));
    auto* demo_mode = app.add_subcommand("demo", "server and client in one process");
    demo_mode->add_option("-n,--count", count, "round trips")
        ->check(sample::whole_number(1, 1000000));
    CLI11_PARSE(app, argc, argv);
    if (const int status = sample::require_subcommand(app); status >= 0) {
        return status;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    ferry::Loop loop;
    sample::Console console(loop);
    try {
        if (*server) {
            return loop.run_until_complete(serve(loop, console, host, port));
        }
        if (*client) {
            return loop.run_until_complete(echo_client(loop, console, host, port, message, count))
                       ? 0
                       : 1;
        }
        return loop.run_until_complete(demo(loop, console, count));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "udp_echo: %s\n", e.what());
        return 1;
    }
}
