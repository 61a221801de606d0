#pragma once
// What both UDP transports share: resolving where to bind and what to connect to, opening the
// socket, its options, and the errors' words. Private to ferry::transports.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include <uv.h>

#include <ferry/udp.hpp>

namespace ferry::detail {

/// The largest UDP payload over IPv4 (65535 minus the IP and UDP headers).
inline constexpr std::size_t max_udp_payload = 65507;

/// Where a UDP socket binds, and the peer it is connected to, if any.
struct UdpAddresses {
    SocketAddress local;
    std::optional<SocketAddress> remote;
};

/// Resolves `options`' local and remote addresses (the local one in the remote's family when
/// not given), then calls `done` on the loop. Errors name the address.
void resolve_udp_addresses(Loop& loop, const DatagramOptions& options,
                           std::function<void(Result<UdpAddresses>)> done);

/// Initialises `handle` for `addresses`, applies the reuse and broadcast options, binds and
/// connects. Throws ferry::Error naming the address; the handle is initialised (and must be
/// closed) once this was called, whether it threw or not.
void open_udp_socket(Loop& loop, uv_udp_t& handle, const UdpAddresses& addresses,
                     const DatagramOptions& options);

/// A uv_buf_t over bytes to send.
inline uv_buf_t udp_buf(ByteView data) {
    return uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                       static_cast<unsigned int>(data.size()));
}

/// The socket's bound or peer address.
std::optional<SocketAddress> udp_address(const uv_udp_t& handle, bool peer);

/// Throws ferry::Error(status) "`what`: reason" when status is a libuv error.
void check_udp(int status, const std::string& what);

/// The socket options every UDP transport offers, on `handle` (throwing on refusal).
void set_udp_membership(uv_udp_t& handle, const std::string& group,
                        const std::string& local_interface, bool join);
/// SO_RCVBUF (receive) or SO_SNDBUF, read (bytes 0) or set.
std::size_t udp_buffer_size(const uv_udp_t& handle, bool receive, std::size_t bytes);

} // namespace ferry::detail
