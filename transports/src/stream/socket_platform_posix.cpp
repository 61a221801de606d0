// POSIX socket options and socket-file housekeeping for servers; descriptors for stdio.
#include "stream/socket_platform.hpp"

#include <cerrno>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/epoll.h>
#endif

namespace ferry::detail {

int bind_listening_socket(uv_tcp_t* tcp, const SocketAddress& address,
                          const ListenSocketOptions& options) {
    uv_os_fd_t fd{};
    if (const int rc = uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd); rc != 0) {
        return rc;
    }
    int on = 1;
    if (options.reuse_address && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
        return -errno;
    }
#ifdef SO_REUSEPORT
    if (options.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
        return -errno;
    }
#else
    if (options.reuse_port) {
        return UV_ENOTSUP;
    }
#endif
    if (address.family() == SocketAddress::Family::ipv6) {
        int v6only = options.ipv6_only ? 1 : 0;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) {
            return -errno;
        }
    }
    if (bind(fd, address.native(), static_cast<socklen_t>(address.native_length())) != 0) {
        return -errno;
    }
    return 0;
}

int remove_stale_unix_socket(const std::string& path) {
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    if (!S_ISSOCK(info.st_mode)) {
        return UV_EEXIST;
    }
    return unlink(path.c_str()) == 0 ? 0 : -errno;
}

bool descriptor_is_pollable(uv_os_fd_t fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return true; // let uv_pipe_open report the bad descriptor
    }
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        return false;
    }
#ifdef __linux__
    // Character devices vary: a tty polls, /dev/null does not (its driver has no poll method
    // and epoll refuses it with EPERM). Ask epoll itself, as libuv will.
    if (S_ISCHR(st.st_mode)) {
        const int probe = ::epoll_create1(EPOLL_CLOEXEC);
        if (probe < 0) {
            return true;
        }
        epoll_event event{};
        event.events = EPOLLIN;
        const bool accepted = ::epoll_ctl(probe, EPOLL_CTL_ADD, fd, &event) == 0 || errno != EPERM;
        ::close(probe);
        return accepted;
    }
#endif
    return true;
}

bool descriptor_is_tcp_socket(uv_os_fd_t) {
    return false; // uv_pipe_open takes any stream socket
}

uv_os_sock_t socket_of(uv_os_fd_t fd) noexcept {
    return fd;
}

int duplicate_stdio(StdioDescriptors& out) {
    out.original_input = STDIN_FILENO;
    out.original_output = STDOUT_FILENO;
    out.input_flags = ::fcntl(STDIN_FILENO, F_GETFL);
    out.output_flags = ::fcntl(STDOUT_FILENO, F_GETFL);
    if (out.input_flags < 0 || out.output_flags < 0) {
        return -EBADF;
    }
    out.input = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
    if (out.input < 0) {
        return -errno;
    }
    out.output = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (out.output < 0) {
        const int error = errno;
        ::close(out.input);
        return -error;
    }
    return 0;
}

void restore_descriptor_flags(uv_os_fd_t fd, int flags) noexcept {
    ::fcntl(fd, F_SETFL, flags);
}

void close_descriptor(uv_os_fd_t fd) noexcept {
    ::close(fd);
}

uv_file pipe_file(uv_os_fd_t fd) noexcept {
    return fd;
}

std::string handle_name(uv_os_fd_t fd) {
    return std::to_string(fd);
}

} // namespace ferry::detail
