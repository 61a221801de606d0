// Echo servers for echo_bench: ferry, raw libuv and Asio, written as each library's users
// would write them, with the same buffer size and back-pressure.
#include "echo_servers.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>

#include <unistd.h>

#include <asio.hpp>
#include <uv.h>

#include <ferry/ferry.hpp>

namespace bench {
namespace {

using ferry::Task;

constexpr std::size_t buffer_size = 64 * 1024;
constexpr std::size_t high_water = 64 * 1024;

void report_port(int port_fd, unsigned short port) {
    if (write(port_fd, &port, sizeof port) != sizeof port) {
        std::abort();
    }
    close(port_fd);
}

// --- ferry -----------------------------------------------------------------------------

class FerryEcho : public ferry::Protocol {
public:
    void connection_made(ferry::Transport& transport) override { transport_ = &transport; }
    void data_received(ferry::ByteView data) override { transport_->write(data); }
    void pause_writing() override { transport_->pause_reading(); }
    void resume_writing() override { transport_->resume_reading(); }

private:
    ferry::Transport* transport_ = nullptr;
};

Task<void> stream_echo(ferry::StreamReader reader, ferry::StreamWriter writer) {
    try {
        for (;;) {
            ferry::Bytes data = co_await reader.read(buffer_size);
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

// --- raw libuv -------------------------------------------------------------------------

struct UvClient {
    uv_tcp_t tcp;
    bool reading = true;
};

struct UvWrite {
    uv_write_t req;
    UvClient* client;
    char data[1];
};

char uv_read_buffer[buffer_size];

void uv_on_close(uv_handle_t* handle) {
    delete reinterpret_cast<UvClient*>(handle);
}

void uv_on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

void uv_on_write(uv_write_t* req, int status) {
    auto* write = reinterpret_cast<UvWrite*>(req);
    UvClient* client = write->client;
    std::free(write);
    if (status < 0) {
        return;
    }
    auto* stream = reinterpret_cast<uv_stream_t*>(&client->tcp);
    if (!client->reading && uv_stream_get_write_queue_size(stream) <= high_water / 4) {
        client->reading = true;
        uv_read_start(
            stream,
            [](uv_handle_t*, std::size_t, uv_buf_t* b) {
                *b = uv_buf_init(uv_read_buffer, buffer_size);
            },
            uv_on_read);
    }
}

void uv_on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* client = reinterpret_cast<UvClient*>(stream);
    if (nread <= 0) {
        if (nread < 0) {
            uv_close(reinterpret_cast<uv_handle_t*>(stream), uv_on_close);
        }
        return;
    }
    uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned int>(nread));
    int written = 0;
    if (uv_stream_get_write_queue_size(stream) == 0) {
        written = uv_try_write(stream, &out, 1);
        if (written == nread) {
            return;
        }
        if (written < 0 && written != UV_EAGAIN) {
            uv_close(reinterpret_cast<uv_handle_t*>(stream), uv_on_close);
            return;
        }
        written = written < 0 ? 0 : written;
    }
    const std::size_t rest = static_cast<std::size_t>(nread - written);
    auto* write = static_cast<UvWrite*>(std::malloc(sizeof(UvWrite) + rest));
    write->client = client;
    std::memcpy(write->data, buf->base + written, rest);
    uv_buf_t queued = uv_buf_init(write->data, static_cast<unsigned int>(rest));
    uv_write(&write->req, stream, &queued, 1, uv_on_write);
    if (uv_stream_get_write_queue_size(stream) > high_water) {
        client->reading = false;
        uv_read_stop(stream);
    }
}

void uv_on_connection(uv_stream_t* server, int status) {
    if (status < 0) {
        return;
    }
    auto* client = new UvClient();
    uv_tcp_init(server->loop, &client->tcp);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&client->tcp)) != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&client->tcp), uv_on_close);
        return;
    }
    uv_tcp_nodelay(&client->tcp, 1);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&client->tcp),
        [](uv_handle_t*, std::size_t, uv_buf_t* b) {
            *b = uv_buf_init(uv_read_buffer, buffer_size);
        },
        uv_on_read);
}

// --- Asio ------------------------------------------------------------------------------

class AsioSession : public std::enable_shared_from_this<AsioSession> {
public:
    explicit AsioSession(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
    void start() { read(); }

private:
    void read() {
        socket_.async_read_some(asio::buffer(data_),
                                [self = shared_from_this()](std::error_code ec, std::size_t n) {
                                    if (!ec) {
                                        self->write(n);
                                    }
                                });
    }
    void write(std::size_t n) {
        asio::async_write(socket_, asio::buffer(data_, n),
                          [self = shared_from_this()](std::error_code ec, std::size_t) {
                              if (!ec) {
                                  self->read();
                              }
                          });
    }
    asio::ip::tcp::socket socket_;
    std::array<char, buffer_size> data_;
};

void asio_accept(asio::ip::tcp::acceptor& acceptor) {
    acceptor.async_accept([&acceptor](std::error_code ec, asio::ip::tcp::socket socket) {
        if (!ec) {
            socket.set_option(asio::ip::tcp::no_delay(true));
            std::make_shared<AsioSession>(std::move(socket))->start();
        }
        asio_accept(acceptor);
    });
}

} // namespace

void run_ferry_server(int port_fd) {
    ferry::Loop loop;
    ferry::create_server(
        loop, [] { return std::make_unique<FerryEcho>(); }, "127.0.0.1", 0, {},
        [&](ferry::Result<std::shared_ptr<ferry::Server>> server) {
            report_port(port_fd, server.value()->port());
        });
    loop.run();
    std::exit(0);
}

void run_ferry_streams_server(int port_fd) {
    ferry::Loop loop;
    auto server = loop.run_until_complete(ferry::start_server(loop, stream_echo, "127.0.0.1", 0));
    report_port(port_fd, server->port());
    loop.run();
    std::exit(0);
}

void run_libuv_server(int port_fd) {
    uv_loop_t* loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", 0, &address);
    uv_tcp_bind(&server, reinterpret_cast<sockaddr*>(&address), 0);
    uv_listen(reinterpret_cast<uv_stream_t*>(&server), 128, uv_on_connection);
    int length = sizeof address;
    uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&address), &length);
    report_port(port_fd, ntohs(address.sin_port));
    uv_run(loop, UV_RUN_DEFAULT);
    std::exit(0);
}

void run_asio_server(int port_fd) {
    asio::io_context context(1);
    asio::ip::tcp::acceptor acceptor(
        context, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    report_port(port_fd, acceptor.local_endpoint().port());
    asio_accept(acceptor);
    context.run();
    std::exit(0);
}

} // namespace bench
