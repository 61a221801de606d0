// Raw-libuv load generator for echo_bench: ping-pong, bulk and idle clients.
#include "load_generator.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <uv.h>

namespace bench {
namespace {

constexpr std::size_t bulk_write = 64 * 1024;
constexpr std::size_t bulk_window = 256 * 1024;
constexpr std::size_t idle_message = 64;

enum class Mode { ping_pong, bulk, idle };

struct Generator;

struct Connection {
    uv_tcp_t tcp{};
    uv_connect_t connect{};
    Generator* generator = nullptr;
    std::size_t received = 0;    // ping-pong and idle: bytes of the current echo so far
    std::size_t outstanding = 0; // bulk: bytes sent and not yet echoed
};

struct Generator {
    uv_loop_t loop{};
    Mode mode{};
    std::size_t message_size = 0;
    std::vector<char> payload;
    std::vector<std::unique_ptr<Connection>> connections;
    bool measuring = false;
    bool stopping = false;
    std::uint64_t round_trips = 0;
    std::uint64_t bytes_echoed = 0;
    int connected = 0;
    int idle = 0;                        // idle mode: connections whose one echo came back
    std::function<void()> all_connected; // starts the phase's timers
    std::function<void()> all_idle;
};

char read_buffer[256 * 1024];

void close_all(Generator& g) {
    g.stopping = true;
    for (auto& c : g.connections) {
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) {
            uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), nullptr);
        }
    }
}

void send(Connection& c, std::size_t size) {
    uv_buf_t buf = uv_buf_init(c.generator->payload.data(), static_cast<unsigned int>(size));
    auto* stream = reinterpret_cast<uv_stream_t*>(&c.tcp);
    int written = 0;
    if (uv_stream_get_write_queue_size(stream) == 0) {
        written = uv_try_write(stream, &buf, 1);
        if (written == static_cast<int>(size)) {
            return;
        }
        written = written < 0 ? 0 : written;
    }
    // The payload is constant, so queued writes can point straight at it.
    auto* req = new uv_write_t();
    uv_buf_t rest = uv_buf_init(buf.base + written, static_cast<unsigned int>(size - written));
    uv_write(req, stream, &rest, 1, [](uv_write_t* r, int) { delete r; });
}

void top_up(Connection& c) {
    while (c.outstanding + bulk_write <= bulk_window) {
        send(c, bulk_write);
        c.outstanding += bulk_write;
    }
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
    auto* c = static_cast<Connection*>(stream->data);
    Generator& g = *c->generator;
    if (nread < 0) {
        if (!g.stopping) {
            throw std::runtime_error(std::string("echo connection failed: ") +
                                     uv_strerror(static_cast<int>(nread)));
        }
        return;
    }
    if (g.stopping) {
        return;
    }
    const auto n = static_cast<std::size_t>(nread);
    switch (g.mode) {
    case Mode::ping_pong:
        c->received += n;
        while (c->received >= g.message_size) {
            c->received -= g.message_size;
            if (g.measuring) {
                ++g.round_trips;
            }
            send(*c, g.message_size);
        }
        return;
    case Mode::bulk:
        if (g.measuring) {
            g.bytes_echoed += n;
        }
        c->outstanding -= n;
        top_up(*c);
        return;
    case Mode::idle:
        c->received += n;
        if (c->received == idle_message && ++g.idle == static_cast<int>(g.connections.size())) {
            g.all_idle();
            close_all(g);
        }
        return;
    }
}

void on_connect(uv_connect_t* req, int status) {
    auto* c = static_cast<Connection*>(req->data);
    Generator& g = *c->generator;
    if (status != 0) {
        throw std::runtime_error(std::string("cannot connect to the echo server: ") +
                                 uv_strerror(status));
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, std::size_t, uv_buf_t* b) {
            *b = uv_buf_init(read_buffer, sizeof read_buffer);
        },
        on_read);
    if (++g.connected == static_cast<int>(g.connections.size()) && g.all_connected) {
        g.all_connected();
    }
    if (g.mode == Mode::bulk) {
        top_up(*c);
    } else {
        send(*c, g.message_size);
    }
}

void connect_all(Generator& g, std::uint16_t port, int connections) {
    uv_loop_init(&g.loop);
    g.payload.assign(std::max(g.message_size, bulk_write), 'x');
    sockaddr_in address{};
    uv_ip4_addr("127.0.0.1", port, &address);
    for (int i = 0; i < connections; ++i) {
        auto c = std::make_unique<Connection>();
        c->generator = &g;
        uv_tcp_init(&g.loop, &c->tcp);
        c->tcp.data = c.get();
        c->connect.data = c.get();
        uv_tcp_connect(&c->connect, &c->tcp, reinterpret_cast<sockaddr*>(&address), on_connect);
        g.connections.push_back(std::move(c));
    }
}

void finish(Generator& g) {
    uv_run(&g.loop, UV_RUN_DEFAULT);
    uv_loop_close(&g.loop);
}

} // namespace

LoadResult run_load(std::uint16_t port, LoadMode mode, int connections, std::size_t message_size,
                    double warmup, double seconds, const std::function<void(bool)>& mark) {
    Generator g;
    g.mode = mode == LoadMode::ping_pong ? Mode::ping_pong : Mode::bulk;
    g.message_size = message_size;
    LoadResult result;
    std::uint64_t started = 0;
    uv_timer_t start_timer;
    uv_timer_t stop_timer;
    struct Phase {
        Generator* g;
        const std::function<void(bool)>* mark;
        LoadResult* result;
        std::uint64_t* started;
    } phase{&g, &mark, &result, &started};
    connect_all(g, port, connections);
    // Connecting 2000 clients takes a while: the clock starts once all are up.
    g.all_connected = [&] {
        uv_timer_init(&g.loop, &start_timer);
        uv_timer_init(&g.loop, &stop_timer);
        start_timer.data = &phase;
        stop_timer.data = &phase;
        uv_timer_start(
            &start_timer,
            [](uv_timer_t* t) {
                auto* p = static_cast<Phase*>(t->data);
                (*p->mark)(true);
                *p->started = uv_hrtime();
                p->g->measuring = true;
                uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
            },
            static_cast<std::uint64_t>(warmup * 1000), 0);
        uv_timer_start(
            &stop_timer,
            [](uv_timer_t* t) {
                auto* p = static_cast<Phase*>(t->data);
                p->g->measuring = false;
                p->result->seconds = static_cast<double>(uv_hrtime() - *p->started) / 1e9;
                (*p->mark)(false);
                close_all(*p->g);
                uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
            },
            static_cast<std::uint64_t>((warmup + seconds) * 1000), 0);
    };
    finish(g);
    result.round_trips = g.round_trips;
    result.bytes_echoed = g.bytes_echoed;
    return result;
}

void hold_idle(std::uint16_t port, int connections, const std::function<void()>& while_idle) {
    Generator g;
    g.mode = Mode::idle;
    g.message_size = idle_message;
    g.all_idle = while_idle;
    connect_all(g, port, connections);
    finish(g);
}

} // namespace bench
