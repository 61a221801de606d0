// Windows socket options for servers, and handles for stdio (socket_platform_posix.cpp is the
// POSIX sibling).
#include "stream/socket_platform.hpp"

#include <winsock2.h>
#include <ws2tcpip.h>

#include <windows.h>

#include <fcntl.h>
#include <io.h>

#include <cstdio>

namespace ferry::detail {

int bind_listening_socket(uv_tcp_t* tcp, const SocketAddress& address,
                          const ListenSocketOptions& options) {
    // SO_REUSEADDR on Windows lets another socket steal a bound port, so it is not the POSIX
    // option; Windows already allows binding a port whose old connections are in TIME_WAIT,
    // which is all reuse_address asks for. SO_REUSEPORT has no Windows counterpart.
    if (options.reuse_port) {
        return UV_ENOTSUP;
    }
    const bool v6only = address.family() == SocketAddress::Family::ipv6 && options.ipv6_only;
    return uv_tcp_bind(tcp, address.native(), v6only ? UV_TCP_IPV6ONLY : 0);
}

int remove_stale_unix_socket(const std::string&) {
    return 0; // a named pipe leaves no file behind
}

bool descriptor_is_pollable(uv_os_fd_t fd) {
    // libuv's pipe handle takes pipes and consoles; a disk file would never report readiness.
    return GetFileType(fd) != FILE_TYPE_DISK;
}

bool descriptor_is_tcp_socket(uv_os_fd_t fd) {
    int type = 0;
    int length = sizeof type;
    // getsockopt fails with WSAENOTSOCK on anything but a socket.
    return ::getsockopt(reinterpret_cast<SOCKET>(fd), SOL_SOCKET, SO_TYPE,
                        reinterpret_cast<char*>(&type), &length) == 0 &&
           type == SOCK_STREAM;
}

uv_os_sock_t socket_of(uv_os_fd_t fd) noexcept {
    return reinterpret_cast<uv_os_sock_t>(fd);
}

int duplicate_stdio(StdioDescriptors& out) {
    const HANDLE process = GetCurrentProcess();
    out.original_input = GetStdHandle(STD_INPUT_HANDLE);
    out.original_output = GetStdHandle(STD_OUTPUT_HANDLE);
    out.input_flags = 0; // Windows handles carry no status flags to restore
    out.output_flags = 0;
    if (!DuplicateHandle(process, out.original_input, process, &out.input, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
        return uv_translate_sys_error(static_cast<int>(GetLastError()));
    }
    if (!DuplicateHandle(process, out.original_output, process, &out.output, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
        const int error = static_cast<int>(GetLastError());
        CloseHandle(out.input);
        return uv_translate_sys_error(error);
    }
    return 0;
}

void restore_descriptor_flags(uv_os_fd_t, int) noexcept {
    // Nothing to restore: libuv does not change a Windows handle's mode.
}

void close_descriptor(uv_os_fd_t fd) noexcept {
    CloseHandle(fd);
}

uv_file pipe_file(uv_os_fd_t fd) noexcept {
    return _open_osfhandle(reinterpret_cast<intptr_t>(fd), _O_BINARY);
}

std::string handle_name(uv_os_fd_t fd) {
    char name[32];
    std::snprintf(name, sizeof name, "handle %p", fd);
    return name;
}

} // namespace ferry::detail
