// The ferry and libuv error categories, and mapping codes to exceptions.
#include <ferry/error.hpp>

#include <uv.h>

namespace ferry {
namespace {

class FerryCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "ferry"; }
    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::frame_too_large:
            return "frame too large";
        case errc::limit_overrun:
            return "buffer limit exceeded before a separator was found";
        case errc::device_removed:
            return "device removed";
        case errc::callback_threw:
            return "a callback threw an exception";
        case errc::closed:
            return "transport is closed";
        case errc::connect_timeout:
            return "connection attempt timed out";
        case errc::cancelled:
            return "operation cancelled";
        case errc::not_supported:
            return "not supported by this device";
        case errc::invalid_argument:
            return "invalid argument";
        case errc::loop_closed:
            return "event loop was destroyed";
        case errc::bad_frame:
            return "malformed frame";
        case errc::checksum_mismatch:
            return "checksum mismatch";
        case errc::datagram_truncated:
            return "datagram larger than the endpoint takes";
        case errc::tls_handshake_failed:
            return "TLS handshake failed";
        case errc::tls_certificate_rejected:
            return "TLS certificate rejected";
        case errc::tls_protocol_error:
            return "TLS protocol error";
        case errc::tls_truncated:
            return "TLS connection ended in the middle of a record";
        }
        return "unknown ferry error " + std::to_string(value);
    }
    std::error_condition default_error_condition(int value) const noexcept override {
        switch (static_cast<errc>(value)) {
        case errc::connect_timeout:
            return std::errc::timed_out;
        case errc::cancelled:
            return std::errc::operation_canceled;
        case errc::not_supported:
            return std::errc::operation_not_supported;
        case errc::invalid_argument:
            return std::errc::invalid_argument;
        default:
            return {value, *this};
        }
    }
};

class UvCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "libuv"; }
    std::string message(int value) const override { return uv_strerror(value); }
    // libuv's codes are its own numbers on Windows and negated errno values on POSIX: the
    // table makes them compare equal to std::errc alike on both.
    std::error_condition default_error_condition(int value) const noexcept override {
        switch (value) {
        case UV_EACCES:
            return std::errc::permission_denied;
        case UV_EADDRINUSE:
            return std::errc::address_in_use;
        case UV_EADDRNOTAVAIL:
            return std::errc::address_not_available;
        case UV_EAFNOSUPPORT:
            return std::errc::address_family_not_supported;
        case UV_EAGAIN:
            return std::errc::resource_unavailable_try_again;
        case UV_EALREADY:
            return std::errc::connection_already_in_progress;
        case UV_EBADF:
            return std::errc::bad_file_descriptor;
        case UV_EBUSY:
            return std::errc::device_or_resource_busy;
        case UV_ECANCELED:
            return std::errc::operation_canceled;
        case UV_ECONNABORTED:
            return std::errc::connection_aborted;
        case UV_ECONNREFUSED:
            return std::errc::connection_refused;
        case UV_ECONNRESET:
            return std::errc::connection_reset;
        case UV_EEXIST:
            return std::errc::file_exists;
        case UV_EFAULT:
            return std::errc::bad_address;
        case UV_EHOSTUNREACH:
            return std::errc::host_unreachable;
        case UV_EINTR:
            return std::errc::interrupted;
        case UV_EINVAL:
            return std::errc::invalid_argument;
        case UV_EIO:
            return std::errc::io_error;
        case UV_EISCONN:
            return std::errc::already_connected;
        case UV_EISDIR:
            return std::errc::is_a_directory;
        case UV_ELOOP:
            return std::errc::too_many_symbolic_link_levels;
        case UV_EMFILE:
            return std::errc::too_many_files_open;
        case UV_EMSGSIZE:
            return std::errc::message_size;
        case UV_ENAMETOOLONG:
            return std::errc::filename_too_long;
        case UV_ENETDOWN:
            return std::errc::network_down;
        case UV_ENETUNREACH:
            return std::errc::network_unreachable;
        case UV_ENFILE:
            return std::errc::too_many_files_open_in_system;
        case UV_ENOBUFS:
            return std::errc::no_buffer_space;
        case UV_ENODEV:
            return std::errc::no_such_device;
        case UV_ENOENT:
            return std::errc::no_such_file_or_directory;
        case UV_ENOMEM:
            return std::errc::not_enough_memory;
        case UV_ENOSPC:
            return std::errc::no_space_on_device;
        case UV_ENOSYS:
            return std::errc::function_not_supported;
        case UV_ENOTCONN:
            return std::errc::not_connected;
        case UV_ENOTDIR:
            return std::errc::not_a_directory;
        case UV_ENOTEMPTY:
            return std::errc::directory_not_empty;
        case UV_ENOTSOCK:
            return std::errc::not_a_socket;
        case UV_ENOTSUP:
            return std::errc::not_supported;
        case UV_ENOTTY:
            return std::errc::inappropriate_io_control_operation;
        case UV_ENXIO:
            return std::errc::no_such_device_or_address;
        case UV_EPERM:
            return std::errc::operation_not_permitted;
        case UV_EPIPE:
            return std::errc::broken_pipe;
        case UV_EPROTO:
            return std::errc::protocol_error;
        case UV_EPROTONOSUPPORT:
            return std::errc::protocol_not_supported;
        case UV_ERANGE:
            return std::errc::result_out_of_range;
        case UV_EROFS:
            return std::errc::read_only_file_system;
        case UV_ESPIPE:
            return std::errc::invalid_seek;
        case UV_ETIMEDOUT:
            return std::errc::timed_out;
        case UV_EXDEV:
            return std::errc::cross_device_link;
        default:
            break;
        }
#ifndef _WIN32
        if (value < 0 && value > -4000) {
            return {-value, std::generic_category()};
        }
#endif
        return {value, *this};
    }
};

} // namespace

const std::error_category& ferry_category() noexcept {
    static const FerryCategory category;
    return category;
}

const std::error_category& uv_category() noexcept {
    static const UvCategory category;
    return category;
}

std::error_code make_error_code(errc value) noexcept {
    return {static_cast<int>(value), ferry_category()};
}

std::error_code uv_error(int status) noexcept {
    return {status, uv_category()};
}

void throw_error(std::error_code code, const std::string& what) {
    if (code == std::errc::timed_out) {
        throw TimeoutError(code, what);
    }
    if (code == errc::cancelled) {
        throw CancelledError();
    }
    throw Error(code, what);
}

} // namespace ferry
