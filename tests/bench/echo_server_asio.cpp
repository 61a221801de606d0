// The Asio echo server: async_read_some -> async_write -> read again, the canonical Asio echo,
// with a 64 KiB buffer per session. `echo_server_asio CERT KEY` serves it over TLS through
// asio::ssl::stream (the same session code, after an async_handshake).
#include <array>
#include <memory>
#include <optional>

#include <asio.hpp>
#include <asio/ssl.hpp>

#include "echo_server.hpp"

namespace {

/// The echo loop over a plain socket or an ssl::stream.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
public:
    explicit Session(Stream stream) : socket_(std::move(stream)) {}
    void start() { read(); }
    void handshake_then_start() {
        socket_.async_handshake(asio::ssl::stream_base::server,
                                [self = this->shared_from_this()](std::error_code ec) {
                                    if (!ec) {
                                        self->read();
                                    }
                                });
    }

private:
    void read() {
        socket_.async_read_some(asio::buffer(data_), [self = this->shared_from_this()](
                                                         std::error_code ec, std::size_t n) {
            if (!ec) {
                self->write(n);
            }
        });
    }
    void write(std::size_t n) {
        asio::async_write(socket_, asio::buffer(data_, n),
                          [self = this->shared_from_this()](std::error_code ec, std::size_t) {
                              if (!ec) {
                                  self->read();
                              }
                          });
    }
    Stream socket_;
    std::array<char, 64 * 1024> data_;
};

void accept(asio::ip::tcp::acceptor& acceptor, asio::ssl::context* tls) {
    acceptor.async_accept([&acceptor, tls](std::error_code ec, asio::ip::tcp::socket socket) {
        if (!ec) {
            socket.set_option(asio::ip::tcp::no_delay(true));
            if (tls != nullptr) {
                using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;
                std::make_shared<Session<TlsStream>>(TlsStream(std::move(socket), *tls))
                    ->handshake_then_start();
            } else {
                std::make_shared<Session<asio::ip::tcp::socket>>(std::move(socket))->start();
            }
        }
        accept(acceptor, tls);
    });
}

} // namespace

int main(int argc, char** argv) {
    std::optional<asio::ssl::context> tls;
    if (argc > 2) {
        tls.emplace(asio::ssl::context::tls_server);
        tls->use_certificate_chain_file(argv[1]);
        tls->use_private_key_file(argv[2], asio::ssl::context::pem);
    }
    asio::io_context context(1);
    asio::ip::tcp::acceptor acceptor(context);
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(bench::echo_backlog);
    bench::announce_port(acceptor.local_endpoint().port());
    accept(acceptor, tls ? &*tls : nullptr);
    context.run();
    return 0;
}
