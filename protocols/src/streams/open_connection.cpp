// open_connection, open_unix_connection, open_serial_connection: a transport with the stream
// protocol, handed out as a (StreamReader, StreamWriter) pair.
#include <ferry/serial.hpp>
#include <ferry/streams.hpp>
#include <ferry/unix.hpp>

namespace ferry {

Task<StreamPair> open_connection(Loop& loop, std::string host, std::uint16_t port,
                                 ConnectOptions options, std::size_t limit) {
    auto transport =
        co_await create_connection(loop, detail::StreamConnection::factory(loop, limit, {}),
                                   std::move(host), port, std::move(options));
    co_return detail::StreamConnection::pair_of(*transport);
}

Task<StreamPair> open_unix_connection(Loop& loop, std::string path, std::size_t limit) {
    auto transport = co_await create_unix_connection(
        loop, detail::StreamConnection::factory(loop, limit, {}), std::move(path));
    co_return detail::StreamConnection::pair_of(*transport);
}

Task<StreamPair> open_serial_connection(Loop& loop, std::string path, SerialOptions options,
                                        std::size_t limit) {
    auto transport =
        create_serial_connection(loop, detail::StreamConnection::factory(loop, limit, {}),
                                 std::move(path), std::move(options));
    co_return detail::StreamConnection::pair_of(*transport.value()); // throws the open error
}

} // namespace ferry
