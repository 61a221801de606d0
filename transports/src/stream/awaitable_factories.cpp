// Coroutine forms of the connection factories, built on their callback forms with a Future.
#include <ferry/future.hpp>
#include <ferry/tcp.hpp>
#include <ferry/unix.hpp>

namespace ferry {
namespace {

/// Completes `future` from a factory's callback. If the awaiter gave up (cancelled the
/// future) and the operation succeeded anyway, `discard` closes what was opened.
template <class T, class Discard>
std::function<void(Result<T>)> complete_or_discard(Future<T> future, Discard discard) {
    return [future, discard](Result<T> result) mutable {
        if (future.done()) {
            if (result.ok()) {
                discard(result.value());
            }
            return;
        }
        future.set(std::move(result));
    };
}

} // namespace

Task<std::shared_ptr<Transport>> create_connection(Loop& loop, ProtocolFactory factory,
                                                   std::string host, std::uint16_t port,
                                                   ConnectOptions options) {
    Future<std::shared_ptr<Transport>> connected(loop);
    create_connection(loop, std::move(factory), std::move(host), port, std::move(options),
                      complete_or_discard(connected, [](auto& transport) { transport->abort(); }));
    co_return co_await connected;
}

Task<std::shared_ptr<Server>> create_server(Loop& loop, ProtocolFactory factory, std::string host,
                                            std::uint16_t port, ServerOptions options) {
    Future<std::shared_ptr<Server>> listening(loop);
    create_server(loop, std::move(factory), std::move(host), port, std::move(options),
                  complete_or_discard(listening, [](auto& server) { server->close(); }));
    co_return co_await listening;
}

Task<std::shared_ptr<Transport>> create_unix_connection(Loop& loop, ProtocolFactory factory,
                                                        std::string path) {
    Future<std::shared_ptr<Transport>> connected(loop);
    create_unix_connection(
        loop, std::move(factory), std::move(path),
        complete_or_discard(connected, [](auto& transport) { transport->abort(); }));
    co_return co_await connected;
}

} // namespace ferry
