// The raw libuv echo server: read callback -> uv_try_write, the rest copied into a uv_write;
// one static 256 KiB read buffer (the read size raw servers and asyncio use); reading stops
// while more than 64 KiB is queued.
#include <cstdlib>
#include <cstring>

#include <uv.h>

#include "echo_server.hpp"

namespace {

struct Client {
    uv_tcp_t tcp;
    bool reading = true;
};

struct Write {
    uv_write_t req;
    Client* client;
    char data[1];
};

char read_buffer[256 * 1024];

void allocate(uv_handle_t*, std::size_t, uv_buf_t* buf) {
    *buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

void on_close(uv_handle_t* handle) {
    delete reinterpret_cast<Client*>(handle);
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

void on_write(uv_write_t* req, int status) {
    auto* write = reinterpret_cast<Write*>(req);
    Client* client = write->client;
    std::free(write);
    if (status < 0) {
        return;
    }
    auto* stream = reinterpret_cast<uv_stream_t*>(&client->tcp);
    if (!client->reading && uv_stream_get_write_queue_size(stream) <= bench::echo_high_water / 4) {
        client->reading = true;
        uv_read_start(stream, allocate, on_read);
    }
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* client = reinterpret_cast<Client*>(stream);
    if (nread <= 0) {
        if (nread < 0) {
            uv_close(reinterpret_cast<uv_handle_t*>(stream), on_close);
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
            uv_close(reinterpret_cast<uv_handle_t*>(stream), on_close);
            return;
        }
        written = written < 0 ? 0 : written;
    }
    const std::size_t rest = static_cast<std::size_t>(nread - written);
    auto* write = static_cast<Write*>(std::malloc(sizeof(Write) + rest));
    write->client = client;
    std::memcpy(write->data, buf->base + written, rest);
    uv_buf_t queued = uv_buf_init(write->data, static_cast<unsigned int>(rest));
    uv_write(&write->req, stream, &queued, 1, on_write);
    if (uv_stream_get_write_queue_size(stream) > bench::echo_high_water) {
        client->reading = false;
        uv_read_stop(stream);
    }
}

void on_connection(uv_stream_t* server, int status) {
    if (status < 0) {
        return;
    }
    auto* client = new Client();
    uv_tcp_init(server->loop, &client->tcp);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&client->tcp)) != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(&client->tcp), on_close);
        return;
    }
    uv_tcp_nodelay(&client->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&client->tcp), allocate, on_read);
}

} // namespace

int main() {
    uv_loop_t* loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", 0, &address);
    uv_tcp_bind(&server, reinterpret_cast<sockaddr*>(&address), 0);
    if (uv_listen(reinterpret_cast<uv_stream_t*>(&server), bench::echo_backlog, on_connection) !=
        0) {
        return 1;
    }
    int length = sizeof address;
    uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&address), &length);
    bench::announce_port(ntohs(address.sin_port));
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
