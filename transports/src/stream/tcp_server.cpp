// create_server: resolve the host, then bind and listen on every address it names.
#include <ferry/detail/loop_access.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/tcp.hpp>

#include "stream/listening_server.hpp"
#include "stream/resolve.hpp"
#include "tls/tls_wrapping.hpp"

namespace ferry {

void create_server(Loop& loop, ProtocolFactory factory, std::string host, std::uint16_t port,
                   ServerOptions options, ServerCallback done) {
    if (detail::LoopAccess::is_shutting_down(loop)) {
        throw Error(make_error_code(errc::loop_closed), "create_server: the loop is closing");
    }
    if (options.tls) {
        if (!options.tls->is_server()) {
            throw Error(make_error_code(errc::invalid_argument),
                        "create_server: the TLS context is a client's (use TlsContext::server)");
        }
        factory = detail::installed_tls_wrapping().accepting_factory(options, std::move(factory));
    }
    const std::string what = detail::host_port(host, port);
    auto on_resolved = [&loop, factory = std::move(factory), host, port, options, what,
                        done = std::move(done)](Result<std::vector<SocketAddress>> resolved) {
        auto report = [&](Result<std::shared_ptr<Server>> result) {
            detail::invoke_guarded(loop, "exception in create_server callback",
                                   [&] { done(std::move(result)); });
        };
        if (!resolved) {
            report(resolved.error());
            return;
        }
        std::shared_ptr<detail::ListeningServer> server;
        try {
            server =
                detail::ListeningServer::create(loop, factory, detail::StreamTransport::Kind::tcp,
                                                {options.nodelay, options.keepalive});
        } catch (const Error&) {
            report(std::current_exception());
            return;
        }
        const detail::ListenSocketOptions socket_options{options.reuse_address, options.reuse_port,
                                                         true};
        std::uint16_t bound_port = port;
        for (SocketAddress address : resolved.value()) {
            if (bound_port != port) {
                // Port 0: every socket shares the ephemeral port the first one got.
                address = *SocketAddress::from_numeric(address.host(), bound_port);
            }
            const int rc = server->listen_tcp(address, socket_options, options.backlog);
            if (rc == UV_EAFNOSUPPORT && host.empty()) {
                log().debug("create_server: skipping {}: {}", address.to_string(), uv_strerror(rc));
                continue;
            }
            if (rc != 0) {
                server->close();
                report(Result<std::shared_ptr<Server>>::failure(
                    uv_error(rc),
                    "cannot listen on " + address.to_string() + ": " + uv_strerror(rc)));
                return;
            }
            if (bound_port == 0) {
                bound_port = server->sockets().back().port();
            }
        }
        if (server->sockets().empty()) {
            server->close();
            report(Result<std::shared_ptr<Server>>::failure(
                uv_error(UV_EADDRNOTAVAIL), "cannot listen on " + what + ": no usable address"));
            return;
        }
        log().debug("listening on {}", what);
        report(std::shared_ptr<Server>(server));
    };
    detail::resolve(loop, host, port, options.family, true, std::move(on_resolved));
}

// The awaitable form: the callback form above, settled into a Future (a server that
// starts listening after the awaiter was cancelled is closed).
Task<std::shared_ptr<Server>> create_server(Loop& loop, ProtocolFactory factory, std::string host,
                                            std::uint16_t port, ServerOptions options) {
    Future<std::shared_ptr<Server>> listening(loop);
    create_server(loop, std::move(factory), std::move(host), port, std::move(options),
                  settle(listening, [](auto& server) { server->close(); }));
    co_return co_await listening;
}

} // namespace ferry
