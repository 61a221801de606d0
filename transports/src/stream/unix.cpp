// Unix domain sockets (named pipes on Windows): connect and serve.
#include <ferry/detail/loop_access.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/unix.hpp>

#include "stream/listening_server.hpp"
#include "stream/stream_transport.hpp"

namespace ferry {
namespace {

/// One create_unix_connection in progress; freed in its connect callback.
struct UnixConnect {
    uv_connect_t req{};
    Loop* loop = nullptr;
    ProtocolFactory factory;
    std::string path;
    TransportCallback done;
    std::shared_ptr<detail::StreamTransport> attempt;

    void report(Result<std::shared_ptr<Transport>> result) {
        detail::invoke_guarded(*loop, "exception in create_unix_connection callback",
                               [&] { done(std::move(result)); });
    }
};

} // namespace

void create_unix_connection(Loop& loop, ProtocolFactory factory, std::string path,
                            TransportCallback done) {
    auto request = std::make_unique<UnixConnect>();
    request->loop = &loop;
    request->factory = std::move(factory);
    request->path = std::move(path);
    request->done = std::move(done);
    request->attempt = detail::StreamTransport::create(loop, detail::StreamTransport::Kind::pipe);
    request->req.data = request.get();
    // uv_pipe_connect reports every failure through its callback, on a later iteration.
    uv_pipe_connect(&request->req, request->attempt->pipe(), request->path.c_str(),
                    [](uv_connect_t* req, int status) {
                        std::unique_ptr<UnixConnect> request(static_cast<UnixConnect*>(req->data));
                        auto attempt = std::move(request->attempt);
                        if (status != 0) {
                            attempt->discard();
                            request->report(detail::make_uv_failure(
                                status, "connect to " + request->path + " failed"));
                            return;
                        }
                        std::unique_ptr<Protocol> protocol;
                        try {
                            protocol = detail::make_protocol(request->factory);
                        } catch (...) {
                            attempt->discard();
                            request->report(std::current_exception());
                            return;
                        }
                        attempt->start(std::move(protocol));
                        request->report(std::shared_ptr<Transport>(attempt));
                    });
    request.release(); // owned by the connect request until its callback
}

Result<std::shared_ptr<Server>> create_unix_server(Loop& loop, ProtocolFactory factory,
                                                   std::string path, UnixServerOptions options) {
    try {
        if (options.remove_stale_socket) {
            if (const int rc = detail::remove_stale_unix_socket(path); rc != 0) {
                return Result<std::shared_ptr<Server>>::failure(
                    uv_error(rc), "cannot listen on " + path + ": " +
                                      (rc == UV_EEXIST ? std::string("a file that is not a socket "
                                                                     "is in the way")
                                                       : std::string(uv_strerror(rc))));
            }
        }
        auto server = detail::ListeningServer::create(loop, std::move(factory),
                                                      detail::StreamTransport::Kind::pipe, {});
        if (const int rc = server->listen_pipe(path, options.backlog); rc != 0) {
            server->close();
            return Result<std::shared_ptr<Server>>::failure(
                uv_error(rc), "cannot listen on " + path + ": " + uv_strerror(rc));
        }
        return std::shared_ptr<Server>(server);
    } catch (const Error&) {
        return std::current_exception();
    }
}

// The awaitable form of create_unix_connection (a late connection is aborted).
Task<std::shared_ptr<Transport>> create_unix_connection(Loop& loop, ProtocolFactory factory,
                                                        std::string path) {
    Future<std::shared_ptr<Transport>> connected(loop);
    create_unix_connection(loop, std::move(factory), std::move(path),
                           settle(connected, [](auto& transport) { transport->abort(); }));
    co_return co_await connected;
}

} // namespace ferry
