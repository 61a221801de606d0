// Transports over descriptors the caller already has: pipes, FIFOs, socketpairs.
#include <ferry/pipe.hpp>

#include "stream/socket_platform.hpp"
#include "stream/stream_transport.hpp"

namespace ferry {
namespace {

Result<std::shared_ptr<Transport>> adopt(Loop& loop, ProtocolFactory factory, NativeHandle fd,
                                         detail::StreamTransport::Direction direction,
                                         const char* what) {
    if (!detail::descriptor_is_pollable(static_cast<uv_os_fd_t>(fd))) {
        return Result<std::shared_ptr<Transport>>::failure(
            make_error_code(errc::not_supported),
            std::string(what) + "(" + std::to_string(fd) +
                "): the loop cannot wait on this descriptor (a regular file, a directory or "
                "/dev/null); read or write it directly, or on the executor");
    }
    std::shared_ptr<detail::StreamTransport> transport;
    try {
        transport = detail::StreamTransport::create(loop, detail::StreamTransport::Kind::pipe);
    } catch (const Error&) {
        return std::current_exception();
    }
    const int rc = uv_pipe_open(transport->pipe(), static_cast<uv_file>(fd));
    if (rc != 0) {
        transport->discard();
        return detail::make_uv_failure(rc, std::string(what) + "(" + std::to_string(fd) + ")");
    }
    std::unique_ptr<Protocol> protocol;
    try {
        protocol = detail::make_protocol(factory);
    } catch (...) {
        transport->discard(); // closes fd: ownership was taken by uv_pipe_open
        return std::current_exception();
    }
    transport->start(std::move(protocol), direction);
    return std::shared_ptr<Transport>(transport);
}

} // namespace

Result<std::shared_ptr<Transport>> connect_read_pipe(Loop& loop, ProtocolFactory factory,
                                                     NativeHandle fd) {
    return adopt(loop, std::move(factory), fd, detail::StreamTransport::Direction::read_only,
                 "connect_read_pipe");
}

Result<std::shared_ptr<Transport>> connect_write_pipe(Loop& loop, ProtocolFactory factory,
                                                      NativeHandle fd) {
    return adopt(loop, std::move(factory), fd, detail::StreamTransport::Direction::write_only,
                 "connect_write_pipe");
}

Result<std::shared_ptr<Transport>> connect_stream_fd(Loop& loop, ProtocolFactory factory,
                                                     NativeHandle fd) {
    return adopt(loop, std::move(factory), fd, detail::StreamTransport::Direction::both,
                 "connect_stream_fd");
}

} // namespace ferry
