// The echo sample on the streams API: asyncio's "TCP echo client and server using streams",
// in ferry.
//   echo_streams server [--host H] [--port P]          serve until Ctrl-C
//   echo_streams client --port P [--host H] [-m TEXT]  send lines, print the echoes
//   echo_streams demo [--count N]                      both in one process
#include <csignal>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include <ferry/ferry.hpp>

namespace {

using ferry::StreamReader;
using ferry::StreamWriter;
using ferry::Task;

/// One client: echo each line back until the client closes (asyncio's handle_echo).
Task<void> handle_echo(StreamReader reader, StreamWriter writer) {
    const std::string peer = writer.transport().peername()->to_string();
    for (;;) {
        ferry::Bytes line = co_await reader.readline();
        if (line.empty()) {
            break;
        }
        std::printf("%s sent: %s", peer.c_str(), ferry::ByteView(line).to_string().c_str());
        writer.write(line);
        co_await writer.drain();
    }
    std::printf("%s closed the connection\n", peer.c_str());
}

/// Sends `count` numbered lines, waiting for each echo.
Task<bool> echo_client(ferry::Loop& loop, std::string host, std::uint16_t port, std::string message,
                       int count) {
    auto [reader, writer] = co_await ferry::open_connection(
        loop, host, port, ferry::ConnectOptions{.timeout = std::chrono::seconds(5)});
    bool ok = true;
    for (int i = 1; i <= count && ok; ++i) {
        const std::string line = message + " #" + std::to_string(i) + "\n";
        writer.write(line);
        co_await writer.drain();
        // A slow or silent server must not hang the client forever.
        const ferry::Bytes echo =
            co_await ferry::wait_for(reader.readline(), std::chrono::seconds(5));
        std::printf("echo received: %s", ferry::ByteView(echo).to_string().c_str());
        ok = ferry::ByteView(echo) == ferry::ByteView(line);
    }
    writer.close();
    co_await writer.wait_closed();
    co_return ok;
}

Task<int> demo(ferry::Loop& loop, int count) {
    auto server = co_await ferry::start_server(loop, handle_echo, "127.0.0.1", 0);
    std::printf("serving on %s\n", server->server().sockets().front().to_string().c_str());
    const bool ok = co_await echo_client(loop, "127.0.0.1", server->port(), "Hello World!", count);
    server->close();
    co_await server->wait_closed();
    std::printf(ok ? "demo: %d round trips ok\n" : "demo: FAILED after %d\n", count);
    co_return ok ? 0 : 1;
}

Task<int> serve(ferry::Loop& loop, std::string host, std::uint16_t port) {
    auto server = co_await ferry::start_server(loop, handle_echo, host, port);
    for (const auto& address : server->server().sockets()) {
        std::printf("serving on %s\n", address.to_string().c_str());
    }
    ferry::Event interrupted;
    loop.add_signal_handler(SIGINT, [&] { interrupted.set(); });
    loop.add_signal_handler(SIGTERM, [&] { interrupted.set(); });
    co_await interrupted.wait();
    server->close();
    server->cancel_clients();
    co_await server->wait_closed();
    co_return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"ferry echo sample on the streams API"};
    app.require_subcommand(1);
    std::string host = "127.0.0.1";
    std::uint16_t port = 8888;
    std::string message = "Hello World!";
    int count = 3;
    auto* server = app.add_subcommand("server", "serve until interrupted");
    server->add_option("--host", host, "address to listen on (\"\" = all)");
    server->add_option("--port", port, "port to listen on (0 = any)");
    auto* client = app.add_subcommand("client", "send lines and print the echoes");
    client->add_option("--host", host, "server address");
    client->add_option("--port", port, "server port")->required();
    client->add_option("-m,--message", message, "text to send");
    client->add_option("-n,--count", count, "lines to send")->check(CLI::PositiveNumber);
    auto* demo_mode = app.add_subcommand("demo", "server and client in one process");
    demo_mode->add_option("-n,--count", count, "round trips")->check(CLI::PositiveNumber);
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);

    ferry::Loop loop;
    try {
        if (*server) {
            return loop.run_until_complete(serve(loop, host, port));
        }
        if (*client) {
            return loop.run_until_complete(echo_client(loop, host, port, message, count)) ? 0 : 1;
        }
        return loop.run_until_complete(demo(loop, count));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "echo_streams: %s\n", e.what());
        return 1;
    }
}
