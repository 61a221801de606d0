// Resolving, opening and configuring UDP sockets for both UDP transports.
#include "udp/udp_socket.hpp"

#ifndef _WIN32
#include <sys/socket.h>
#endif

#include <memory>
#include <utility>
#include <vector>

#include <ferry/detail/loop_access.hpp>

#include "stream/resolve.hpp"

namespace ferry::detail {
namespace {

/// The wildcard address of `family` (IPv4 unless IPv6 was asked for).
std::string any_address(AddressFamily family) {
    return family == AddressFamily::ipv6 ? "::" : "0.0.0.0";
}

AddressFamily family_of(const SocketAddress& address) {
    return address.family() == SocketAddress::Family::ipv6 ? AddressFamily::ipv6
                                                           : AddressFamily::ipv4;
}

void resolve_local(Loop& loop, const DatagramOptions& options, AddressFamily family,
                   std::optional<SocketAddress> remote,
                   std::function<void(Result<UdpAddresses>)> done) {
    const std::string host = options.local_host.empty() ? any_address(family) : options.local_host;
    resolve(loop, host, options.local_port, family, true,
            [done = std::move(done), remote](Result<std::vector<SocketAddress>> locals) {
                if (!locals.ok()) {
                    done(Result<UdpAddresses>::failure(locals.code(),
                                                       "UDP local address: " + locals.message()));
                    return;
                }
                done(UdpAddresses{locals.value().front(), remote});
            });
}

} // namespace

void resolve_udp_addresses(Loop& loop, const DatagramOptions& options,
                           std::function<void(Result<UdpAddresses>)> done) {
    if (options.max_datagram_size == 0 || options.max_datagram_size > max_udp_payload) {
        loop.call_soon([done = std::move(done)] {
            done(Result<UdpAddresses>::failure(make_error_code(errc::invalid_argument),
                                               "UDP: max_datagram_size must be 1 to 65507"));
        });
        return;
    }
    if (!options.remote_host) {
        resolve_local(loop, options, options.family, std::nullopt, std::move(done));
        return;
    }
    resolve(loop, *options.remote_host, options.remote_port, options.family, false,
            [&loop, options, done = std::move(done)](Result<std::vector<SocketAddress>> remotes) {
                if (!remotes.ok()) {
                    done(Result<UdpAddresses>::failure(remotes.code(), remotes.message()));
                    return;
                }
                const SocketAddress remote = remotes.value().front();
                resolve_local(loop, options, family_of(remote), remote, done);
            });
}

void open_udp_socket(Loop& loop, uv_udp_t& handle, const UdpAddresses& addresses,
                     const DatagramOptions& options) {
    const int family = addresses.local.family() == SocketAddress::Family::ipv6 ? AF_INET6 : AF_INET;
    const int init = uv_udp_init_ex(LoopAccess::native(loop), &handle, family);
    if (init != 0) {
        // Nothing to close when even the socket could not be made; the caller closes the
        // handle regardless, so give it a socket-less one.
        uv_udp_init(LoopAccess::native(loop), &handle);
        check_udp(init, "UDP socket");
    }
    const std::string local = addresses.local.to_string();
    if (options.reuse_port) {
#ifdef SO_REUSEPORT
        uv_os_fd_t fd{};
        uv_fileno(reinterpret_cast<uv_handle_t*>(&handle), &fd);
        const int on = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
            check_udp(uv_translate_sys_error(errno), "UDP " + local + ": SO_REUSEPORT");
        }
#else
        check_udp(UV_ENOTSUP, "UDP " + local + ": reuse_port (no SO_REUSEPORT here)");
#endif
    }
    check_udp(uv_udp_bind(&handle, addresses.local.native(),
                          options.reuse_address ? UV_UDP_REUSEADDR : 0),
              "UDP: cannot bind " + local);
    if (options.broadcast) {
        check_udp(uv_udp_set_broadcast(&handle, 1), "UDP " + local + ": broadcast");
    }
    if (addresses.remote) {
        check_udp(uv_udp_connect(&handle, addresses.remote->native()),
                  "UDP: cannot connect to " + addresses.remote->to_string());
    }
}

std::optional<SocketAddress> udp_address(const uv_udp_t& handle, bool peer) {
    sockaddr_storage storage{};
    int length = sizeof storage;
    auto* udp = const_cast<uv_udp_t*>(&handle);
    const int rc = peer ? uv_udp_getpeername(udp, reinterpret_cast<sockaddr*>(&storage), &length)
                        : uv_udp_getsockname(udp, reinterpret_cast<sockaddr*>(&storage), &length);
    if (rc != 0) {
        return std::nullopt;
    }
    return SocketAddress(reinterpret_cast<const sockaddr*>(&storage),
                         static_cast<std::size_t>(length));
}

void check_udp(int status, const std::string& what) {
    if (status < 0) {
        throw Error(uv_error(status), what + ": " + uv_strerror(status));
    }
}

void set_udp_membership(uv_udp_t& handle, const std::string& group,
                        const std::string& local_interface, bool join) {
    check_udp(uv_udp_set_membership(&handle, group.c_str(),
                                    local_interface.empty() ? nullptr : local_interface.c_str(),
                                    join ? UV_JOIN_GROUP : UV_LEAVE_GROUP),
              std::string("UDP: cannot ") + (join ? "join" : "leave") + " multicast group " +
                  group + (local_interface.empty() ? "" : " on " + local_interface));
}

std::size_t udp_buffer_size(const uv_udp_t& handle, bool receive, std::size_t bytes) {
    int value = static_cast<int>(bytes);
    auto* as_handle = reinterpret_cast<uv_handle_t*>(const_cast<uv_udp_t*>(&handle));
    const int rc =
        receive ? uv_recv_buffer_size(as_handle, &value) : uv_send_buffer_size(as_handle, &value);
    check_udp(rc, receive ? "UDP: receive buffer size" : "UDP: send buffer size");
    return bytes == 0 ? static_cast<std::size_t>(value) : bytes;
}

} // namespace ferry::detail
