// Memory per idle connection, counted exactly: every C++ allocation in this test binary goes
// through the counting operator new below, so the bytes a server keeps per accepted connection
// at rest (after one echo) are deterministic. libuv's own allocations (its epoll watcher
// array) are not C++ allocations and are not counted. docs/benchmarks.md has the breakdown and
// echo_bench the resident-memory figure beside raw libuv.
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../support/test_support.hpp"

namespace {
std::atomic<long> live_bytes{0};
} // namespace

void* operator new(std::size_t size) {
    void* p = std::malloc(size == 0 ? 1 : size);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    live_bytes.fetch_add(static_cast<long>(malloc_usable_size(p)), std::memory_order_relaxed);
    return p;
}
void* operator new[](std::size_t size) {
    return operator new(size);
}
void operator delete(void* p) noexcept {
    if (p != nullptr) {
        live_bytes.fetch_sub(static_cast<long>(malloc_usable_size(p)), std::memory_order_relaxed);
        std::free(p);
    }
}
void operator delete[](void* p) noexcept {
    operator delete(p);
}
void operator delete(void* p, std::size_t) noexcept {
    operator delete(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    operator delete(p);
}

namespace ferry {
namespace {

using namespace std::chrono_literals;

constexpr int connections = 200;

class Echo : public Protocol {
public:
    void connection_made(Transport& transport) override { transport_ = &transport; }
    void data_received(ByteView data) override { transport_->write(data); }

private:
    Transport* transport_ = nullptr;
};

/// Opens `connections` plain sockets to 127.0.0.1:`port`, has each echo 64 bytes through the
/// loop, and returns the live C++ heap bytes per connection the loop's side added (`sockets`
/// must have room reserved, so that it allocates nothing here).
double bytes_per_idle_connection(Loop& loop, std::uint16_t port, std::vector<int>& sockets) {
    const long before = live_bytes.load();
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char message[64] = {};
    for (int i = 0; i < connections; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0)
            << std::strerror(errno);
        EXPECT_EQ(::send(fd, message, sizeof message, 0), static_cast<ssize_t>(sizeof message));
        sockets.push_back(fd);
        loop.run_once(false); // accept as they come: the listen backlog stays short
    }
    std::size_t echoed = 0;
    std::vector<std::size_t> got(sockets.size(), 0);
    EXPECT_TRUE(test::run_until(
        loop,
        [&] {
            for (std::size_t i = 0; i < sockets.size(); ++i) {
                char buffer[64];
                const ssize_t n = ::recv(sockets[i], buffer, sizeof buffer, MSG_DONTWAIT);
                if (n > 0 && (got[i] += static_cast<std::size_t>(n)) == sizeof message) {
                    ++echoed;
                }
            }
            return echoed == sockets.size();
        },
        10s));
    // A few more iterations, so that anything scheduled after the echo has run.
    for (int i = 0; i < 3; ++i) {
        loop.run_once(false);
    }
    return static_cast<double>(live_bytes.load() - before) / connections;
}

TEST(MemoryPerConnection, AnIdleProtocolConnectionKeepsUnder512Bytes) {
    Loop loop;
    auto server = loop.run_until_complete(create_server(
        loop, [] { return std::make_unique<Echo>(); }, "127.0.0.1", 0));
    std::vector<int> sockets;
    sockets.reserve(connections);
    const double per_connection = bytes_per_idle_connection(loop, server->port(), sockets);
    // The transport and its libuv handle in one allocation with the shared_ptr control block
    // (472 bytes usable), the protocol (24): docs/benchmarks.md, "Memory per idle connection".
    RecordProperty("bytes_per_connection", std::to_string(per_connection));
    std::printf("C++ heap per idle Protocol connection: %.1f bytes\n", per_connection);
    EXPECT_LE(per_connection, 512.0);
    for (int fd : sockets) {
        ::close(fd);
    }
    server->close();
}

TEST(MemoryPerConnection, AnIdleStreamsConnectionKeepsNoReceiveBuffer) {
    Loop loop;
    auto server = loop.run_until_complete(start_server(
        loop,
        [](StreamReader reader, StreamWriter writer) -> Task<void> {
            for (;;) {
                Bytes data = co_await reader.read(64 * 1024);
                if (data.empty()) {
                    co_return;
                }
                writer.write(data);
                co_await writer.drain();
            }
        },
        "127.0.0.1", 0));
    std::vector<int> sockets;
    sockets.reserve(connections);
    const double per_connection = bytes_per_idle_connection(loop, server->port(), sockets);
    std::printf("C++ heap per idle streams connection: %.1f bytes\n", per_connection);
    // Before small receives were staged in the loop's buffer, each connection kept a 64 KiB
    // receive buffer; what is left is the transport, the reader's and writer's state, the
    // task and its frame (docs/benchmarks.md).
    EXPECT_LE(per_connection, 2048.0);
    for (int fd : sockets) {
        ::close(fd);
    }
    server->close();
    server->cancel_clients();
    loop.run_until_complete(server->wait_closed());
}

} // namespace
} // namespace ferry
