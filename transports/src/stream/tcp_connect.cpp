// create_connection: resolve, then try each address in turn until one connects.
#include <memory>
#include <string>
#include <vector>

#include <ferry/detail/loop_access.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/tcp.hpp>

#include "stream/resolve.hpp"
#include "stream/stream_transport.hpp"
#include "tls/tls_wrapping.hpp"

namespace ferry {
namespace {

/// One create_connection call in progress. Keeps itself alive until it has reported.
class Connector : public std::enable_shared_from_this<Connector> {
public:
    Connector(Loop& loop, ProtocolFactory factory, std::string host, std::uint16_t port,
              ConnectOptions options, TransportCallback done)
        : loop_(loop), factory_(std::move(factory)), host_(std::move(host)), port_(port),
          options_(std::move(options)), done_(std::move(done)),
          what_(detail::host_port(host_, port_)) {}

    void start() {
        starting_ = true;
        if (options_.timeout.count() > 0) {
            timeout_ = loop_.call_later(options_.timeout,
                                        [self = shared_from_this()] { self->on_timeout(); });
        }
        if (options_.local_host) {
            if (auto numeric =
                    SocketAddress::from_numeric(*options_.local_host, options_.local_port)) {
                local_ = *numeric;
            } else {
                detail::resolve(loop_, *options_.local_host, options_.local_port, options_.family,
                                true, [self = shared_from_this()](auto result) {
                                    self->on_local_resolved(std::move(result));
                                });
                return;
            }
        }
        resolve_remote();
        starting_ = false;
    }

private:
    void on_local_resolved(Result<std::vector<SocketAddress>> result) {
        if (finished_) {
            return;
        }
        if (!result) {
            finish(result.error());
            return;
        }
        local_ = result.value().front();
        resolve_remote();
    }

    void resolve_remote() {
        // A numeric address needs no resolver: connect at once, so that nothing waits in
        // the ready queue (which a closing loop drops) and the connect is never orphaned.
        if (auto numeric = SocketAddress::from_numeric(host_, port_)) {
            addresses_ = {*numeric};
            try_next();
            return;
        }
        detail::resolve(
            loop_, host_, port_, options_.family, false,
            [self = shared_from_this()](auto result) { self->on_resolved(std::move(result)); });
    }

    void on_resolved(Result<std::vector<SocketAddress>> result) {
        if (finished_) {
            return;
        }
        if (!result) {
            finish(result.error());
            return;
        }
        addresses_ = std::move(result).value();
        try_next();
    }

    void try_next() {
        if (next_ == addresses_.size()) {
            finish(std::make_exception_ptr(
                Error(last_error_, "connect to " + what_ + " failed: " + failures_)));
            return;
        }
        const SocketAddress& address = addresses_[next_++];
        try {
            attempt_ = detail::StreamTransport::create(
                loop_, detail::StreamTransport::Kind::tcp,
                address.family() == SocketAddress::Family::ipv6 ? AF_INET6 : AF_INET);
        } catch (const Error& e) {
            finish(std::current_exception());
            return;
        }
        int rc = 0;
        if (local_) {
            rc = uv_tcp_bind(attempt_->tcp(), local_->native(), 0);
        }
        if (rc == 0) {
            connect_req_.data = this;
            rc = uv_tcp_connect(&connect_req_, attempt_->tcp(), address.native(),
                                [](uv_connect_t* req, int status) {
                                    static_cast<Connector*>(req->data)->on_connected(status);
                                });
        }
        if (rc == 0) {
            pending_ = shared_from_this(); // alive until the connect callback
            return;
        }
        record_failure(address, rc);
        attempt_->discard();
        attempt_.reset();
        try_next();
    }

    void on_connected(int status) {
        auto keep = std::move(pending_);
        auto attempt = std::move(attempt_);
        const SocketAddress& address = addresses_[next_ - 1];
        if (finished_) {
            return; // timed out: the attempt was already discarded
        }
        if (status != 0) {
            if (status == UV_ECANCELED && detail::LoopAccess::is_shutting_down(loop_)) {
                finish(std::make_exception_ptr(
                    Error(make_error_code(errc::loop_closed),
                          "connect to " + what_ + ": the loop was destroyed")));
                return;
            }
            record_failure(address, status);
            attempt->discard();
            try_next();
            return;
        }
        uv_tcp_nodelay(attempt->tcp(), options_.nodelay ? 1 : 0);
        if (options_.keepalive) {
            uv_tcp_keepalive(attempt->tcp(), 1,
                             static_cast<unsigned int>(options_.keepalive->count()));
        }
        std::unique_ptr<Protocol> protocol;
        try {
            protocol = detail::make_protocol(factory_);
        } catch (...) {
            attempt->discard();
            finish(std::current_exception());
            return;
        }
        timeout_.cancel();
        finished_ = true;
        log().debug("connected to {} ({})", what_, address.to_string());
        attempt->start(std::move(protocol));
        // Asyncio order: connection_made has run before the caller sees the transport.
        detail::invoke_guarded(loop_, "exception in create_connection callback",
                               [&] { done_(std::shared_ptr<Transport>(attempt)); });
    }

    void on_timeout() {
        if (finished_) {
            return;
        }
        if (attempt_) {
            attempt_->discard(); // its connect callback reports UV_ECANCELED, then is ignored
        }
        finish(std::make_exception_ptr(TimeoutError(make_error_code(errc::connect_timeout),
                                                    "connect to " + what_ + " timed out after " +
                                                        std::to_string(options_.timeout.count()) +
                                                        " ms")));
    }

    void record_failure(const SocketAddress& address, int status) {
        last_error_ = uv_error(status);
        if (!failures_.empty()) {
            failures_ += ", ";
        }
        failures_ += std::string(uv_strerror(status)) + " (" + address.to_string() + ")";
    }

    void finish(std::exception_ptr error) {
        finished_ = true;
        timeout_.cancel();
        if (starting_) {
            // Never call back from inside create_connection itself.
            loop_.call_soon([self = shared_from_this(), error] { self->report(error); });
            return;
        }
        report(error);
    }

    void report(std::exception_ptr error) {
        detail::invoke_guarded(loop_, "exception in create_connection callback",
                               [&] { done_(Result<std::shared_ptr<Transport>>(error)); });
    }

    Loop& loop_;
    ProtocolFactory factory_;
    std::string host_;
    std::uint16_t port_;
    ConnectOptions options_;
    TransportCallback done_;
    std::string what_;

    std::optional<SocketAddress> local_;
    std::vector<SocketAddress> addresses_;
    std::size_t next_ = 0;
    std::shared_ptr<detail::StreamTransport> attempt_;
    uv_connect_t connect_req_{};
    std::shared_ptr<Connector> pending_;
    CallbackHandle timeout_;
    bool finished_ = false;
    bool starting_ = false;
    std::error_code last_error_;
    std::string failures_;
};

} // namespace

void create_connection(Loop& loop, ProtocolFactory factory, std::string host, std::uint16_t port,
                       ConnectOptions options, TransportCallback done) {
    if (detail::LoopAccess::is_shutting_down(loop)) {
        throw Error(make_error_code(errc::loop_closed), "create_connection: the loop is closing");
    }
    if (options.tls && options.tls->is_server()) {
        throw Error(make_error_code(errc::invalid_argument),
                    "create_connection: the TLS context is a server's (use TlsContext::client)");
    }
    if (options.tls) {
        // TLS: connect holding the connection, then start_tls hands it to the factory's protocol.
        detail::TlsConnectSteps steps = detail::installed_tls_wrapping().connect_steps(
            host, options, std::move(factory), std::move(done));
        factory = std::move(steps.holding);
        done = std::move(steps.connected);
    }
    auto connector = std::make_shared<Connector>(loop, std::move(factory), std::move(host), port,
                                                 std::move(options), std::move(done));
    connector->start();
}

// The awaitable form: the callback form above, settled into a Future (an attempt that
// completes after the awaiter was cancelled is aborted).
Task<std::shared_ptr<Transport>> create_connection(Loop& loop, ProtocolFactory factory,
                                                   std::string host, std::uint16_t port,
                                                   ConnectOptions options) {
    Future<std::shared_ptr<Transport>> connected(loop);
    create_connection(loop, std::move(factory), std::move(host), port, std::move(options),
                      settle(connected, [](auto& transport) { transport->abort(); }));
    co_return co_await connected;
}

} // namespace ferry
