// Unix domain sockets, fd pipes and socketpairs: round trips, EOF, ownership of descriptors,
// and the failures a user meets (missing path, a file in the way, an invalid fd, EPIPE).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "../support/test_support.hpp"

namespace ferry {
namespace {

using test::LoopTest;
using test::Recording;
using test::recording_factory;
using test::RecordingProtocol;
using test::run_until;
using test::wait_result;

std::string temp_socket_path(const char* name) {
    return (std::filesystem::temp_directory_path() /
            (std::string("ferry-") + std::to_string(getpid()) + "-" + name + ".sock"))
        .string();
}

/// Binds a Unix socket at `path` and closes it without unlinking, as a crashed server would.
bool leave_stale_socket(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return bound;
}

class UnixSocketTest : public LoopTest {};

TEST_F(UnixSocketTest, EchoOverAUnixSocketAndCleanup) {
    const std::string path = temp_socket_path("echo");
    auto server_side = std::make_shared<Recording>();
    auto server = create_unix_server(
        loop,
        recording_factory(
            server_side,
            [](RecordingProtocol& p) { p.on_data = [](Transport& t, ByteView d) { t.write(d); }; }),
        path);
    ASSERT_TRUE(server.ok()) << server.message();
    EXPECT_EQ(server.value()->sockets().front().to_string(), path);

    auto client_side = std::make_shared<Recording>();
    auto client = wait_result<std::shared_ptr<Transport>>(loop, [&](auto done) {
        create_unix_connection(loop, recording_factory(client_side), path, done);
    });
    ASSERT_TRUE(client.ok()) << client.message();
    EXPECT_EQ(client.value()->peername()->to_string(), path);
    client.value()->write("over unix");
    EXPECT_TRUE(run_until(loop, [&] { return client_side->data == "over unix"; }));
    client.value()->write_eof();
    EXPECT_TRUE(run_until(loop, [&] { return client_side->has_lost(); }));
    EXPECT_EQ(client_side->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));

    server.value()->close();
    EXPECT_FALSE(std::filesystem::exists(path)); // cleanup_socket removes the file
}

TEST_F(UnixSocketTest, StaleSocketFileIsReplaced) {
    // A crashed server leaves its socket file behind: bind one and close without unlinking.
    const std::string path = temp_socket_path("stale");
    ASSERT_TRUE(leave_stale_socket(path));
    ASSERT_TRUE(std::filesystem::exists(path));
    auto server = create_unix_server(
        loop, [] { return std::make_unique<Protocol>(); }, path);
    ASSERT_TRUE(server.ok()) << server.message();
    server.value()->close();
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(UnixSocketTest, StaleSocketIsKeptWhenAskedTo) {
    const std::string path = temp_socket_path("kept");
    ASSERT_TRUE(leave_stale_socket(path));
    auto server = create_unix_server(
        loop, [] { return std::make_unique<Protocol>(); }, path,
        UnixServerOptions{.backlog = 10, .remove_stale_socket = false});
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.code(), std::errc::address_in_use);
    std::filesystem::remove(path);
}

TEST_F(UnixSocketTest, AFileInTheWayIsNotRemoved) {
    const std::string path = temp_socket_path("file");
    {
        std::FILE* f = std::fopen(path.c_str(), "w");
        std::fclose(f);
    }
    auto server = create_unix_server(
        loop, [] { return std::make_unique<Protocol>(); }, path);
    ASSERT_FALSE(server.ok());
    EXPECT_NE(server.message().find("cannot listen on " + path), std::string::npos);
    EXPECT_NE(server.message().find("not a socket"), std::string::npos);
    EXPECT_TRUE(std::filesystem::exists(path));
    std::filesystem::remove(path);
}

TEST_F(UnixSocketTest, ConnectingToAMissingPathNamesIt) {
    auto result = wait_result<std::shared_ptr<Transport>>(loop, [&](auto done) {
        create_unix_connection(
            loop, [] { return std::make_unique<Protocol>(); }, "/nonexistent/ferry.sock", done);
    });
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.code(), std::errc::no_such_file_or_directory);
    EXPECT_NE(result.message().find("/nonexistent/ferry.sock"), std::string::npos);
}

class PipeTest : public LoopTest {};

TEST_F(PipeTest, ReadAndWritePipesCarryDataAndEof) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    auto reader_side = std::make_shared<Recording>();
    auto writer_side = std::make_shared<Recording>();
    auto reader = connect_read_pipe(loop, recording_factory(reader_side), fds[0]);
    auto writer = connect_write_pipe(loop, recording_factory(writer_side), fds[1]);
    ASSERT_TRUE(reader.ok()) << reader.message();
    ASSERT_TRUE(writer.ok()) << writer.message();
    EXPECT_FALSE(reader.value()->can_write_eof());
    EXPECT_TRUE(writer.value()->can_write_eof());
    EXPECT_FALSE(writer.value()->is_reading());

    const std::string big(1 << 20, 'p');
    writer.value()->write(big);
    writer.value()->write_eof(); // flush, then close the write end: the reader's EOF
    reader.value()->write("ignored: read-only");
    EXPECT_TRUE(
        run_until(loop, [&] { return reader_side->has_lost() && writer_side->has_lost(); }));
    EXPECT_EQ(reader_side->data, big);
    EXPECT_EQ(reader_side->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));
    EXPECT_FALSE(writer_side->lost_error);
    // Both descriptors were owned, and closed, by the transports.
    EXPECT_EQ(fcntl(fds[0], F_GETFD), -1);
    EXPECT_EQ(fcntl(fds[1], F_GETFD), -1);
}

TEST_F(PipeTest, WritingToAPipeWithoutReaderLosesTheConnectionWithEpipe) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    ::close(fds[0]);
    auto side = std::make_shared<Recording>();
    auto writer = connect_write_pipe(loop, recording_factory(side), fds[1]);
    ASSERT_TRUE(writer.ok());
    writer.value()->write("nobody listens"); // no SIGPIPE: the loop ignores it
    EXPECT_TRUE(run_until(loop, [&] { return side->has_lost(); }));
    EXPECT_EQ(side->lost_error, std::errc::broken_pipe);
}

TEST_F(PipeTest, SocketpairIsAFullDuplexStream) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    auto a_side = std::make_shared<Recording>();
    auto b_side = std::make_shared<Recording>();
    auto a = connect_stream_fd(loop, recording_factory(a_side), fds[0]);
    auto b = connect_stream_fd(loop,
                               recording_factory(b_side,
                                                 [](RecordingProtocol& p) {
                                                     p.on_data = [](Transport& t, ByteView d) {
                                                         t.write(d);
                                                     };
                                                     p.on_eof = [](Transport&) { return false; };
                                                 }),
                               fds[1]);
    ASSERT_TRUE(a.ok() && b.ok());
    a.value()->write("ping");
    EXPECT_TRUE(run_until(loop, [&] { return a_side->data == "ping"; }));
    a.value()->write_eof();
    EXPECT_TRUE(run_until(loop, [&] { return a_side->has_lost() && b_side->has_lost(); }));
    EXPECT_EQ(b_side->events, (std::vector<std::string>{"made", "data", "eof", "lost"}));
}

TEST_F(PipeTest, InvalidDescriptorsAreRefusedClearly) {
    bool factory_called = false;
    auto result = connect_read_pipe(
        loop,
        [&]() -> std::unique_ptr<Protocol> {
            factory_called = true;
            return std::make_unique<Protocol>();
        },
        987654);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.code(), std::errc::bad_file_descriptor);
    EXPECT_NE(result.message().find("connect_read_pipe(987654)"), std::string::npos)
        << result.message();
    EXPECT_FALSE(factory_called);
    EXPECT_FALSE(connect_write_pipe(
                     loop, [] { return std::make_unique<Protocol>(); }, -1)
                     .ok());
}

TEST_F(PipeTest, DescriptorsTheLoopCannotWaitOnAreRefusedClearly) {
    // epoll refuses regular files, directories and /dev/null, and libuv aborts when it does:
    // the factories must say so instead (stdin redirected from a file is the usual case).
    for (const char* path : {"/dev/null", "/etc/hostname", "/tmp"}) {
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0) << path;
        auto result = connect_read_pipe(
            loop, [] { return std::make_unique<Protocol>(); }, fd);
        ASSERT_FALSE(result.ok()) << path;
        EXPECT_EQ(result.code(), make_error_code(errc::not_supported)) << path;
        EXPECT_NE(result.message().find("the loop cannot wait on this descriptor"),
                  std::string::npos)
            << result.message();
        ::close(fd); // not taken: the caller still owns it
    }
}

TEST_F(PipeTest, BufferedProtocolReceivesIntoItsOwnMemory) {
    /// Collects into a fixed 7-byte window to exercise partial buffers.
    class Collector : public BufferedProtocol {
    public:
        explicit Collector(std::string& out) : out_(out) {}
        std::span<std::byte> get_buffer(std::size_t hint) override {
            EXPECT_GT(hint, 0u);
            return {window_.data(), window_.size()};
        }
        void buffer_updated(std::size_t n) override {
            EXPECT_LE(n, window_.size());
            out_.append(reinterpret_cast<const char*>(window_.data()), n);
        }

    private:
        std::array<std::byte, 7> window_{};
        std::string& out_;
    };
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::string collected;
    auto reader = connect_read_pipe(
        loop, [&] { return std::make_unique<Collector>(collected); }, fds[0]);
    auto writer = connect_write_pipe(
        loop, [] { return std::make_unique<Protocol>(); }, fds[1]);
    const std::string message = "buffered protocols read in place, seven bytes at a time";
    writer.value()->write(message);
    EXPECT_TRUE(run_until(loop, [&] { return collected.size() == message.size(); }));
    EXPECT_EQ(collected, message);
    writer.value()->close();
    EXPECT_TRUE(run_until(loop, [&] { return reader.value()->is_closing(); }));
}

TEST_F(PipeTest, ABufferedProtocolIsAskedForMoreWhileReadsFillAndLessWhenTheyDoNot) {
    // The adaptive read size: 16 KiB at first, up a step (x4, to 256 KiB) after each read that
    // filled what was asked, down a step after two reads in a row that would have fitted a
    // quarter, to 4 KiB.
    class Recorder : public BufferedProtocol {
    public:
        explicit Recorder(std::vector<std::size_t>& hints, std::size_t& received)
            : hints_(hints), received_(received) {}
        std::span<std::byte> get_buffer(std::size_t hint) override {
            hints_.push_back(hint);
            buffer_.resize(hint);
            return {buffer_.data(), hint};
        }
        void buffer_updated(std::size_t n) override { received_ += n; }

    private:
        std::vector<std::size_t>& hints_;
        std::size_t& received_;
        std::vector<std::byte> buffer_;
    };
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    std::vector<std::size_t> hints;
    std::size_t received = 0;
    auto transport = connect_stream_fd(
        loop, [&] { return std::make_unique<Recorder>(hints, received); }, fds[0]);
    ASSERT_TRUE(transport) << transport.message();
    ASSERT_EQ(::fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);

    // Bulk: fill the socket before the loop reads, so that reads fill what they ask for.
    const std::vector<char> chunk(64 * 1024, 'x');
    std::size_t sent = 0;
    for (ssize_t n; (n = ::write(fds[1], chunk.data(), chunk.size())) > 0;) {
        sent += static_cast<std::size_t>(n);
    }
    ASSERT_GE(sent, 96u * 1024) << "the socketpair buffers less than 96 KiB";
    EXPECT_TRUE(run_until(loop, [&] { return received == sent; }));
    ASSERT_FALSE(hints.empty());
    EXPECT_EQ(hints.front(), 16u * 1024);
    EXPECT_EQ(*std::max_element(hints.begin(), hints.end()), 256u * 1024);

    // Small messages: each read brings 10 bytes.
    for (int i = 0; i < 8; ++i) {
        const std::size_t before = received;
        ASSERT_EQ(::write(fds[1], "0123456789", 10), 10);
        EXPECT_TRUE(run_until(loop, [&] { return received == before + 10; }));
    }
    EXPECT_EQ(hints.back(), 4u * 1024);
    transport.value()->abort();
    ::close(fds[1]);
    EXPECT_TRUE(run_until(loop, [&] { return transport.value()->is_closing(); }));
}

} // namespace
} // namespace ferry
