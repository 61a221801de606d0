// create_serial_connection and SerialTransport's awaitable forms. Portable.
#include <ferry/future.hpp>
#include <ferry/serial.hpp>

#include "core/transport_core.hpp" // make_protocol
#include "serial/serial_native.hpp"

namespace ferry {
Task<void> SerialTransport::drain_to_wire() {
    std::shared_ptr<Transport> keep_alive = shared_from_this();
    Future<> done(loop());
    drain_to_wire(settle_on_error(done, [path = path()](std::error_code error) {
        return ConnectionResetError(error, "drain_to_wire on " + path + ": " + error.message());
    }));
    co_await done;
}

Task<void> SerialTransport::send_break(std::chrono::milliseconds duration) {
    std::shared_ptr<Transport> keep_alive = shared_from_this();
    Future<> done(loop());
    send_break(duration, settle_on_error(done, [path = path()](std::error_code error) {
                   return Error(error, "send_break on " + path + ": " + error.message());
               }));
    co_await done;
}

namespace detail {

Result<std::shared_ptr<SerialTransport>>
start_serial(std::shared_ptr<NativeSerialTransport> transport, const ProtocolFactory& factory) {
    std::unique_ptr<Protocol> protocol;
    try {
        protocol = make_protocol(factory);
    } catch (...) {
        transport->discard();
        return std::current_exception();
    }
    transport->start(std::move(protocol));
    return std::shared_ptr<SerialTransport>(std::move(transport));
}

} // namespace detail

Result<std::shared_ptr<SerialTransport>> create_serial_connection(Loop& loop,
                                                                  ProtocolFactory factory,
                                                                  std::string path,
                                                                  SerialOptions options) {
    std::shared_ptr<detail::NativeSerialTransport> transport;
    try {
        transport = detail::NativeSerialTransport::open(loop, std::move(path), std::move(options));
    } catch (const Error&) {
        return std::current_exception();
    }
    return detail::start_serial(std::move(transport), factory);
}

} // namespace ferry
