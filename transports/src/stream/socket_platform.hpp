#pragma once
// OS calls libuv does not wrap the way ferry needs them; one implementation per platform
// (socket_platform_posix.cpp, later socket_platform_win.cpp).

#include <string>

#include <uv.h>

#include <ferry/address.hpp>

namespace ferry::detail {

/// Socket options a listening socket gets before bind().
struct ListenSocketOptions {
    bool reuse_address = true;
    bool reuse_port = false;
    bool ipv6_only = true;
};

/// Applies `options` to the fresh socket `fd` and binds it to `address`.
/// Returns 0 or a libuv-style negative error code. (libuv's own uv_tcp_bind always sets
/// SO_REUSEADDR and cannot set SO_REUSEPORT, hence this.)
int bind_listening_socket(uv_os_sock_t fd, const SocketAddress& address,
                          const ListenSocketOptions& options);

/// Removes `path` if it is a socket file left behind by an earlier server. Returns 0, or a
/// libuv-style error when `path` exists and is something else (which must not be removed).
int remove_stale_unix_socket(const std::string& path);

/// True when the loop can wait for `fd` to become readable or writable: pipes, sockets,
/// terminals and most character devices. Regular files, directories and /dev/null cannot be
/// (epoll refuses them), and libuv aborts if asked to, so the pipe factories check first.
bool descriptor_is_pollable(uv_os_fd_t fd);

} // namespace ferry::detail
