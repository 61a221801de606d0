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

#include "cli_errors.hpp"
#include "console.hpp"

namespace {

using ferry::StreamReader;
using ferry::StreamWriter;
using ferry::Task;

/// A line as text, without the "\n" that ends it (if it has one: the last may not).
std::string without_newline(const ferry::Bytes& line) {
    std::string text = ferry::ByteView(line).to_string();
    if (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    return text;
}

/// One client: echo each line back until the client closes (asyncio's handle_echo). Output
/// goes through `console`: a server must not stall because nobody reads its stdout. A client
/// that resets ends its task quietly (start_server logs it at debug level).
ferry::ClientConnected handle_echo(sample::Console& console) {
    return [&console](StreamReader reader, StreamWriter writer) -> Task<void> {
        const auto address = writer.transport().peername();
        const std::string peer = address ? address->to_string() : std::string("?");
        for (;;) {
            ferry::Bytes line = co_await reader.readline();
            if (line.empty()) {
                break;
            }
            console.line(peer + " sent: " + without_newline(line));
            writer.write(line);
            co_await writer.drain();
        }
        console.line(peer + " closed the connection");
    };
}

/// Sends `count` numbered lines, waiting for each echo.
Task<bool> echo_client(ferry::Loop& loop, sample::Console& console, std::string host,
                       std::uint16_t port, std::string message, int count) {
    ferry::ConnectOptions options;
    options.timeout = std::chrono::seconds(5);
    auto [reader, writer] = co_await ferry::open_connection(loop, host, port, options);
    bool ok = true;
    for (int i = 1; i <= count && ok; ++i) {
        const std::string line = message + " #" + std::to_string(i) + "\n";
        writer.write(line);
        co_await writer.drain();
        // A slow or silent server must not hang the client forever.
        const ferry::Bytes echo =
            co_await ferry::wait_for(reader.readline(), std::chrono::seconds(5));
        console.line("echo received: " + without_newline(echo));
        ok = ferry::ByteView(echo) == ferry::ByteView(line);
    }
    writer.close();
    co_await writer.wait_closed();
    co_return ok;
}

Task<int> demo(ferry::Loop& loop, sample::Console& console, int count) {
    auto server = co_await ferry::start_server(loop, handle_echo(console), "127.0.0.1", 0);
    console.line("serving on " + server->server().sockets().front().to_string());
    const bool ok =
        co_await echo_client(loop, console, "127.0.0.1", server->port(), "Hello World!", count);
    server->close();
    co_await server->wait_closed();
    console.line(ok ? "demo: " + std::to_string(count) + " round trips ok"
                    : "demo: FAILED after " + std::to_string(count));
    co_return ok ? 0 : 1;
}

Task<int> serve(ferry::Loop& loop, sample::Console& console, std::string host, std::uint16_t port) {
    auto server = co_await ferry::start_server(loop, handle_echo(console), host, port);
    for (const auto& address : server->server().sockets()) {
        console.line("serving on " + address.to_string());
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
    std::string host = "127.0.0.1";
    std::uint16_t port = 8888;
    std::string message = "Hello World!";
    int count = 3;
    auto* server = app.add_subcommand("server", "serve until interrupted");
    server->add_option("--host", host, "address to listen on (\"\" = all)");
    server->add_option("--port", port, "port to listen on (0 = any)")
        ->check(sample::whole_number(0, 65535));
    auto* client = app.add_subcommand("client", "send lines and print the echoes");
    client->add_option("--host", host, "server address");
    client->add_option("--port", port, "server port")
        ->required()
        ->check(sample::whole_number(1, 65535));
    client->add_option("-m,--message", message, "text to send");
    client->add_option("-n,--count", count, "lines to send")
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
        std::fprintf(stderr, "echo_streams: %s\n", e.what());
        return 1;
    }
}
