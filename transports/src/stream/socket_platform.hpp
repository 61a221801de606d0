#pragma once
// OS calls libuv does not wrap the way ferry needs them; one implementation per platform
// (socket_platform_posix.cpp, socket_platform_win.cpp).

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

/// Binds the fresh listening TCP handle `tcp` to `address` with `options`. Returns 0 or a
/// libuv-style negative error code. (POSIX: options on the socket, then bind(), because
/// libuv's uv_tcp_bind always sets SO_REUSEADDR and cannot set SO_REUSEPORT. Windows:
/// uv_tcp_bind, which libuv's Windows listen requires, and which leaves SO_REUSEADDR alone.)
int bind_listening_socket(uv_tcp_t* tcp, const SocketAddress& address,
                          const ListenSocketOptions& options);

/// Removes `path` if it is a socket file left behind by an earlier server. Returns 0, or a
/// libuv-style error when `path` exists and is something else (which must not be removed).
int remove_stale_unix_socket(const std::string& path);

/// True when the loop can wait for `fd` to become readable or writable: pipes, sockets,
/// terminals and most character devices. Regular files, directories and /dev/null cannot be
/// (epoll refuses them), and libuv aborts if asked to, so the pipe factories check first.
bool descriptor_is_pollable(uv_os_fd_t fd);

/// True when `fd` must be opened as a TCP handle rather than a pipe: a connected socket on
/// Windows, where libuv's pipe handle takes only pipes (POSIX pipes take any stream socket).
bool descriptor_is_tcp_socket(uv_os_fd_t fd);
/// `fd` as what uv_tcp_open takes.
uv_os_sock_t socket_of(uv_os_fd_t fd) noexcept;

/// The process's standard input and output, duplicated for a transport (closing it leaves
/// descriptors 0 and 1 to the process), with their file status flags as they were.
struct StdioDescriptors {
    uv_os_fd_t input;
    uv_os_fd_t output;
    uv_os_fd_t original_input; // the process's own, whose flags are restored at the end
    uv_os_fd_t original_output;
    int input_flags;
    int output_flags;
};
/// Duplicates standard input and output. Returns a libuv-style error on failure.
int duplicate_stdio(StdioDescriptors& out);
/// Puts file status flags back (libuv makes descriptors non-blocking, and a terminal's flags
/// are shared with the shell that started the program).
void restore_descriptor_flags(uv_os_fd_t fd, int flags) noexcept;
/// Closes a descriptor the caller owns.
void close_descriptor(uv_os_fd_t fd) noexcept;
/// What uv_pipe_open takes for `fd`: the descriptor itself on POSIX, a C runtime descriptor
/// wrapping the handle on Windows (libuv closes it with the pipe). -1 if that failed.
uv_file pipe_file(uv_os_fd_t fd) noexcept;
/// How errors name a descriptor ("7") or a handle ("handle 0x1a4").
std::string handle_name(uv_os_fd_t fd);

} // namespace ferry::detail
