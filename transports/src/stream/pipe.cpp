// Transports over descriptors the caller already has: pipes, FIFOs, socketpairs.
#include <ferry/pipe.hpp>

#include "stream/socket_platform.hpp"
#include "stream/stream_transport.hpp"

namespace ferry {
namespace {

Result<std::shared_ptr<Transport>> start(std::shared_ptr<detail::StreamTransport> transport,
                                         const ProtocolFactory& factory,
                                         detail::StreamTransport::Direction direction);

Result<std::shared_ptr<Transport>> refuse_unpollable(NativeHandle fd, const char* what) {
    return Result<std::shared_ptr<Transport>>::failure(
        make_error_code(errc::not_supported),
        std::string(what) + "(" + detail::handle_name(fd) +
            "): the loop cannot wait on this descriptor (a regular file, a directory or "
            "/dev/null); read or write it directly, or on the executor");
}

Result<std::shared_ptr<Transport>> adopt(Loop& loop, ProtocolFactory factory, NativeHandle fd,
                                         detail::StreamTransport::Direction direction,
                                         const char* what) {
    if (!detail::descriptor_is_pollable(fd)) {
        return refuse_unpollable(fd, what);
    }
    const bool tcp = detail::descriptor_is_tcp_socket(fd);
    std::shared_ptr<detail::StreamTransport> transport;
    try {
        transport = detail::StreamTransport::create(
            loop, tcp ? detail::StreamTransport::Kind::tcp : detail::StreamTransport::Kind::pipe);
    } catch (const Error&) {
        return std::current_exception();
    }
    const int rc = tcp ? uv_tcp_open(transport->tcp(), detail::socket_of(fd))
                       : uv_pipe_open(transport->pipe(), detail::pipe_file(fd));
    if (rc != 0) {
        transport->discard();
        return detail::make_uv_failure(rc, std::string(what) + "(" + detail::handle_name(fd) + ")");
    }
    return start(std::move(transport), factory, direction);
}

Result<std::shared_ptr<Transport>> start(std::shared_ptr<detail::StreamTransport> transport,
                                         const ProtocolFactory& factory,
                                         detail::StreamTransport::Direction direction) {
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

Result<std::shared_ptr<Transport>> connect_pipe_pair(Loop& loop, ProtocolFactory factory,
                                                     NativeHandle input, NativeHandle output) {
    for (const NativeHandle fd : {input, output}) {
        if (!detail::descriptor_is_pollable(fd)) {
            detail::close_descriptor(input);
            detail::close_descriptor(output);
            return refuse_unpollable(fd, "connect_pipe_pair");
        }
    }
    std::shared_ptr<detail::StreamTransport> transport;
    try {
        transport = detail::StreamTransport::create(loop, detail::StreamTransport::Kind::pipe);
    } catch (const Error&) {
        detail::close_descriptor(input);
        detail::close_descriptor(output);
        return std::current_exception();
    }
    int rc = uv_pipe_open(transport->pipe(), detail::pipe_file(input));
    if (rc != 0) {
        transport->discard();
        detail::close_descriptor(input);
        detail::close_descriptor(output);
        return detail::make_uv_failure(rc, "connect_pipe_pair(" + detail::handle_name(input) + ")");
    }
    rc = transport->set_separate_output(detail::pipe_file(output));
    if (rc != 0) {
        transport->discard();
        detail::close_descriptor(output);
        return detail::make_uv_failure(rc, "connect_pipe_pair(output " +
                                               detail::handle_name(output) + ")");
    }
    return start(std::move(transport), factory, detail::StreamTransport::Direction::both);
}

Result<std::shared_ptr<Transport>> connect_stdio(Loop& loop, ProtocolFactory factory) {
    detail::StdioDescriptors fds{};
    if (const int rc = detail::duplicate_stdio(fds); rc != 0) {
        return detail::make_uv_failure(rc, "connect_stdio");
    }
    for (const uv_os_fd_t fd : {fds.input, fds.output}) {
        // Checked here too, to name the stream rather than a duplicate's number.
        if (!detail::descriptor_is_pollable(fd)) {
            detail::close_descriptor(fds.input);
            detail::close_descriptor(fds.output);
            return Result<std::shared_ptr<Transport>>::failure(
                make_error_code(errc::not_supported),
                std::string("stdio: standard ") + (fd == fds.input ? "input" : "output") +
                    " is a regular file or /dev/null, which the loop cannot wait on (use a "
                    "pipe: cat FILE | ...)");
        }
    }
    auto result = connect_pipe_pair(loop, std::move(factory), fds.input, fds.output);
    if (result.ok()) {
        auto& transport = static_cast<detail::StreamTransport&>(*result.value());
        transport.restore_flags_at_end(fds.original_input, fds.input_flags);
        transport.restore_flags_at_end(fds.original_output, fds.output_flags);
    }
    return result;
}

} // namespace ferry
