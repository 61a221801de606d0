// The Asio echo server: async_read_some -> async_write -> read again, the canonical Asio echo,
// with a 64 KiB buffer per session.
#include <array>
#include <memory>

#include <asio.hpp>

#include "echo_server.hpp"

namespace {

class Session : public std::enable_shared_from_this<Session> {
public:
    explicit Session(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
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
    std::array<char, 64 * 1024> data_;
};

void accept(asio::ip::tcp::acceptor& acceptor) {
    acceptor.async_accept([&acceptor](std::error_code ec, asio::ip::tcp::socket socket) {
        if (!ec) {
            socket.set_option(asio::ip::tcp::no_delay(true));
            std::make_shared<Session>(std::move(socket))->start();
        }
        accept(acceptor);
    });
}

} // namespace

int main() {
    asio::io_context context(1);
    asio::ip::tcp::acceptor acceptor(context);
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(bench::echo_backlog);
    bench::announce_port(acceptor.local_endpoint().port());
    accept(acceptor);
    context.run();
    return 0;
}
