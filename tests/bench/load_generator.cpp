// Raw-libuv load generator for echo_bench: ping-pong, bulk and idle clients, in plaintext or
// over TLS (OpenSSL driven through memory BIOs, so the socket side stays plain libuv).
#include "load_generator.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

namespace bench {
namespace {

constexpr std::size_t bulk_write = 64 * 1024;
constexpr std::size_t bulk_window = 256 * 1024;
constexpr std::size_t idle_message = 64;

enum class Mode { ping_pong, bulk, idle };

struct Generator;

/// One client's TLS state: `incoming` takes the ciphertext read from the socket, `outgoing`
/// holds what OpenSSL produced for it.
struct ClientTls {
    SSL* ssl = nullptr;
    BIO* incoming = nullptr;
    BIO* outgoing = nullptr;
    bool handshake_done = false;

    ClientTls(SSL_CTX* context) : ssl(SSL_new(context)) {
        incoming = BIO_new(BIO_s_mem());
        outgoing = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl, incoming, outgoing); // the SSL object owns both BIOs now
        SSL_set_connect_state(ssl);
    }
    ~ClientTls() { SSL_free(ssl); }
    ClientTls(const ClientTls&) = delete;
    ClientTls& operator=(const ClientTls&) = delete;
};

struct Connection {
    uv_tcp_t tcp{};
    uv_connect_t connect{};
    Generator* generator = nullptr;
    std::unique_ptr<ClientTls> tls; // null in plaintext
    std::size_t received = 0;       // ping-pong and idle: bytes of the current echo so far
    std::size_t outstanding = 0;    // bulk: bytes sent and not yet echoed
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
    std::uint64_t all_round_trips = 0;
    std::uint64_t bytes_echoed = 0;
    int connected = 0;
    int idle = 0;                        // idle mode: connections whose one echo came back
    std::function<void()> all_connected; // starts the phase's timers
    std::function<void()> all_idle;
    SSL_CTX* tls_context = nullptr; // null in plaintext
};

char read_buffer[256 * 1024];
char plain_buffer[64 * 1024];

[[noreturn]] void tls_failed(const char* what) {
    char reason[256] = "no reason given";
    if (const unsigned long code = ERR_get_error(); code != 0) {
        ERR_error_string_n(code, reason, sizeof reason);
    }
    throw std::runtime_error(std::string("TLS load generator: ") + what + ": " + reason);
}

/// A client context offering only TLS 1.3 with AES-128-GCM, so every server uses that suite.
SSL_CTX* make_client_context() {
    SSL_CTX* context = SSL_CTX_new(TLS_client_method());
    if (context == nullptr || SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ciphersuites(context, "TLS_AES_128_GCM_SHA256") != 1) {
        tls_failed("cannot make the client context");
    }
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nullptr);
    return context;
}

void close_all(Generator& g) {
    g.stopping = true;
    for (auto& c : g.connections) {
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp))) {
            uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), nullptr);
        }
    }
}

/// Writes `size` bytes at `data` to the socket: at once if nothing is queued, the rest queued.
/// `owned` (malloc'ed, freed here or when its write completes) or constant memory.
void send_wire(Connection& c, char* data, std::size_t size, bool owned) {
    uv_buf_t buf = uv_buf_init(data, static_cast<unsigned int>(size));
    auto* stream = reinterpret_cast<uv_stream_t*>(&c.tcp);
    int written = 0;
    if (uv_stream_get_write_queue_size(stream) == 0) {
        written = uv_try_write(stream, &buf, 1);
        if (written == static_cast<int>(size)) {
            if (owned) {
                std::free(data);
            }
            return;
        }
        written = written < 0 ? 0 : written;
    }
    auto* req = new uv_write_t();
    req->data = owned ? data : nullptr;
    uv_buf_t rest = uv_buf_init(buf.base + written, static_cast<unsigned int>(size - written));
    uv_write(req, stream, &rest, 1, [](uv_write_t* r, int) {
        std::free(r->data);
        delete r;
    });
}

/// Sends whatever OpenSSL has produced for the peer.
void flush_tls(Connection& c) {
    const std::size_t pending = BIO_ctrl_pending(c.tls->outgoing);
    if (pending == 0) {
        return;
    }
    auto* records = static_cast<char*>(std::malloc(pending));
    const int n = BIO_read(c.tls->outgoing, records, static_cast<int>(pending));
    send_wire(c, records, static_cast<std::size_t>(std::max(n, 0)), true);
}

void send(Connection& c, std::size_t size) {
    if (c.tls) {
        if (SSL_write(c.tls->ssl, c.generator->payload.data(), static_cast<int>(size)) !=
            static_cast<int>(size)) {
            tls_failed("SSL_write failed");
        }
        flush_tls(c);
        return;
    }
    // The payload is constant, so queued writes can point straight at it.
    send_wire(c, c.generator->payload.data(), size, false);
}

void top_up(Connection& c) {
    while (c.outstanding + bulk_write <= bulk_window) {
        send(c, bulk_write);
        c.outstanding += bulk_write;
    }
}

/// The connection is ready for load (connected, and over TLS, past its handshake).
void start(Connection& c) {
    Generator& g = *c.generator;
    if (++g.connected == static_cast<int>(g.connections.size()) && g.all_connected) {
        g.all_connected();
    }
    if (g.mode == Mode::bulk) {
        top_up(c);
    } else {
        send(c, g.message_size);
    }
}

/// What the echo brought back, decrypted if need be.
void echoed(Connection* c, std::size_t n) {
    Generator& g = *c->generator;
    switch (g.mode) {
    case Mode::ping_pong:
        c->received += n;
        while (c->received >= g.message_size) {
            c->received -= g.message_size;
            ++g.all_round_trips;
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

/// Feeds ciphertext to the connection's TLS state: finishes the handshake, then decrypts.
void tls_received(Connection* c, const char* data, std::size_t n) {
    ClientTls& tls = *c->tls;
    BIO_write(tls.incoming, data, static_cast<int>(n));
    if (!tls.handshake_done) {
        const int r = SSL_do_handshake(tls.ssl);
        flush_tls(*c);
        if (r != 1) {
            if (SSL_get_error(tls.ssl, r) != SSL_ERROR_WANT_READ) {
                tls_failed("the handshake failed");
            }
            return;
        }
        tls.handshake_done = true;
        start(*c);
    }
    for (;;) {
        const int got = SSL_read(tls.ssl, plain_buffer, sizeof plain_buffer);
        if (got <= 0) {
            if (SSL_get_error(tls.ssl, got) != SSL_ERROR_WANT_READ) {
                tls_failed("SSL_read failed");
            }
            return;
        }
        echoed(c, static_cast<std::size_t>(got));
        if (c->generator->stopping) {
            return;
        }
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
    if (c->tls) {
        tls_received(c, read_buffer, static_cast<std::size_t>(nread));
    } else {
        echoed(c, static_cast<std::size_t>(nread));
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
    if (g.tls_context == nullptr) {
        start(*c);
        return;
    }
    c->tls = std::make_unique<ClientTls>(g.tls_context);
    SSL_do_handshake(c->tls->ssl); // sends the ClientHello; the rest comes with on_read
    flush_tls(*c);
}

void connect_all(Generator& g, std::uint16_t port, int connections, Wire wire) {
    uv_loop_init(&g.loop);
    if (wire == Wire::tls13_aes128gcm) {
        g.tls_context = make_client_context();
    }
    g.payload.assign(std::max(g.message_size, bulk_write), 'x');
    // A ping-pong message is a line, so that a readline server (`echo_server_ferry lines`)
    // answers it too; the other servers echo bytes and do not look.
    g.payload[g.message_size - 1] = '\n';
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
    g.connections.clear();
    SSL_CTX_free(g.tls_context);
}

} // namespace

LoadResult run_load(std::uint16_t port, LoadMode mode, int connections, std::size_t message_size,
                    double warmup, double seconds, const std::function<void(bool)>& mark,
                    Wire wire) {
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
    connect_all(g, port, connections, wire);
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
    result.all_round_trips = g.all_round_trips;
    result.bytes_echoed = g.bytes_echoed;
    return result;
}

void hold_idle(std::uint16_t port, int connections, const std::function<void()>& while_idle,
               Wire wire) {
    Generator g;
    g.mode = Mode::idle;
    g.message_size = idle_message;
    g.all_idle = while_idle;
    connect_all(g, port, connections, wire);
    finish(g);
}

} // namespace bench
