// connect() and listen(): opening what an endpoint description names, through the factory of
// its kind. Portable.
#include <ferry/endpoint.hpp>
#include <ferry/subprocess.hpp>

#include <ferry/error.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/pipe.hpp>
#include <ferry/task_handle.hpp>
#include <ferry/udp.hpp>

namespace ferry {
namespace {

/// Passes a factory's Result of a more specific transport type on as a Result<Transport>.
template <class T>
Result<std::shared_ptr<Transport>> widen(Result<std::shared_ptr<T>> result) {
    if (!result.ok()) {
        return Result<std::shared_ptr<Transport>>(result.error());
    }
    return std::shared_ptr<Transport>(std::move(result).value());
}

/// Runs an awaitable opening on the loop and hands its outcome to `done`.
void deliver(Loop& loop, Task<std::shared_ptr<Transport>> opening, TransportCallback done) {
    TaskHandle<std::shared_ptr<Transport>> task = loop.create_task(std::move(opening));
    task.add_done_callback([task, done = std::move(done)]() mutable {
        try {
            done(task.result());
        } catch (...) {
            done(std::current_exception());
        }
    });
}

Result<std::shared_ptr<Transport>> refused(const Endpoint& endpoint, const char* why) {
    return Result<std::shared_ptr<Transport>>::failure(make_error_code(errc::invalid_argument),
                                                       to_string(endpoint) + ": " + why);
}

} // namespace

void connect(Loop& loop, const Endpoint& endpoint, ProtocolFactory factory,
             TransportCallback done) {
    switch (endpoint.kind) {
    case EndpointKind::serial:
        done(widen(
            create_serial_connection(loop, std::move(factory), endpoint.path, endpoint.serial)));
        return;
    case EndpointKind::tcp:
        create_connection(loop, std::move(factory), endpoint.host, endpoint.port, endpoint.tcp,
                          std::move(done));
        return;
    case EndpointKind::unix_socket:
        create_unix_connection(loop, std::move(factory), endpoint.path, std::move(done));
        return;
    case EndpointKind::stdio:
        done(connect_stdio(loop, std::move(factory)));
        return;
    case EndpointKind::exec:
        done(connect_command(loop, std::move(factory), endpoint.command));
        return;
    case EndpointKind::pty:
        done(widen(create_pty(loop, std::move(factory), endpoint.pty)));
        return;
    case EndpointKind::rfc2217:
        connect_rfc2217(loop, std::move(factory), endpoint.host, endpoint.port, endpoint.rfc2217,
                        [done = std::move(done)](Result<std::shared_ptr<Rfc2217Transport>> r) {
                            done(widen(std::move(r)));
                        });
        return;
    case EndpointKind::udp:
        deliver(loop,
                connect_udp(loop, std::move(factory), endpoint.host, endpoint.port, endpoint.udp),
                std::move(done));
        return;
    case EndpointKind::udp_listen: {
        DatagramOptions options = endpoint.udp;
        options.local_host = endpoint.host;
        options.local_port = endpoint.port;
        const std::string name = to_string(endpoint);
        deliver(loop,
                accept_udp(loop, std::move(factory), std::move(options),
                           [name](const SocketAddress& bound) {
                               log().info("{}: waiting for a datagram on {}", name,
                                          bound.to_string());
                           }),
                std::move(done));
        return;
    }
    case EndpointKind::tls: {
        ConnectOptions options = endpoint.tcp;
        options.tls_options = endpoint.tls_start;
        try {
            options.tls = TlsContext::client(endpoint.tls);
        } catch (const Error& e) {
            done(Result<std::shared_ptr<Transport>>::failure(e.code(), to_string(endpoint) + ": " +
                                                                           e.what()));
            return;
        }
        if (endpoint.rfc2217_client) {
            Rfc2217Options remote = endpoint.rfc2217;
            remote.tcp = options;
            connect_rfc2217(loop, std::move(factory), endpoint.host, endpoint.port,
                            std::move(remote),
                            [done = std::move(done)](Result<std::shared_ptr<Rfc2217Transport>> r) {
                                done(widen(std::move(r)));
                            });
            return;
        }
        create_connection(loop, std::move(factory), endpoint.host, endpoint.port, options,
                          std::move(done));
        return;
    }
    case EndpointKind::tcp_listen:
    case EndpointKind::unix_listen:
    case EndpointKind::tls_listen:
        break;
    }
    done(refused(endpoint, "a listening endpoint cannot be connected to (use listen)"));
}

Task<std::shared_ptr<Transport>> connect(Loop& loop, Endpoint endpoint, ProtocolFactory factory) {
    Future<std::shared_ptr<Transport>> connected(loop);
    connect(loop, endpoint, std::move(factory),
            settle(connected, [](auto& transport) { transport->abort(); }));
    co_return co_await connected;
}

Task<std::shared_ptr<Transport>> connect(Loop& loop, std::string_view description,
                                         ProtocolFactory factory) {
    return connect(loop, parse_endpoint(description), std::move(factory));
}

void listen(Loop& loop, const Endpoint& endpoint, ProtocolFactory factory, ServerCallback done) {
    switch (endpoint.kind) {
    case EndpointKind::tcp_listen:
        create_server(loop, std::move(factory), endpoint.host, endpoint.port, endpoint.tcp_server,
                      std::move(done));
        return;
    case EndpointKind::unix_listen:
        done(create_unix_server(loop, std::move(factory), endpoint.path, endpoint.unix_server));
        return;
    case EndpointKind::tls_listen: {
        ServerOptions options = endpoint.tcp_server;
        options.tls_options = endpoint.tls_start;
        try {
            options.tls = TlsContext::server(endpoint.tls);
        } catch (const Error& e) {
            done(Result<std::shared_ptr<Server>>::failure(e.code(),
                                                          to_string(endpoint) + ": " + e.what()));
            return;
        }
        create_server(loop, std::move(factory), endpoint.host, endpoint.port, options,
                      std::move(done));
        return;
    }
    default:
        break;
    }
    done(Result<std::shared_ptr<Server>>::failure(
        make_error_code(errc::invalid_argument),
        to_string(endpoint) +
            ": only tcp-listen, tls-listen and unix-listen endpoints listen (use connect)"));
}

Task<std::shared_ptr<Server>> listen(Loop& loop, Endpoint endpoint, ProtocolFactory factory) {
    Future<std::shared_ptr<Server>> listening(loop);
    listen(loop, endpoint, std::move(factory),
           settle(listening, [](auto& server) { server->close(); }));
    co_return co_await listening;
}

Task<std::shared_ptr<Server>> listen(Loop& loop, std::string_view description,
                                     ProtocolFactory factory) {
    return listen(loop, parse_endpoint(description), std::move(factory));
}

ConnectFunction endpoint_connector(Loop& loop, Endpoint endpoint) {
    return
        [&loop, endpoint = std::move(endpoint)](ProtocolFactory factory, TransportCallback done) {
            connect(loop, endpoint, std::move(factory), std::move(done));
        };
}

} // namespace ferry
