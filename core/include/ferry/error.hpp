#pragma once
/// ferry's error model: std::error_code in callbacks, ferry::Error exceptions in coroutines.

#include <string>
#include <system_error>

namespace ferry {

/// ferry's own error conditions, in ferry::ferry_category().
enum class errc {
    /// A frame exceeded its codec's maximum size.
    frame_too_large = 1,
    /// A reader's buffer limit was exceeded before a separator was found.
    limit_overrun,
    /// The device behind a transport went away (unplugged dongle, closed pty master).
    device_removed,
    /// A user callback threw; the transport was aborted.
    callback_threw,
    /// The operation needs a connection or handle that is closed.
    closed,
    /// The connection attempt did not finish in time.
    connect_timeout,
    /// The operation was cancelled before it finished.
    cancelled,
    /// The device or transport does not support the operation.
    not_supported,
    /// An argument or option was invalid.
    invalid_argument,
    /// The loop was destroyed while the operation was pending.
    loop_closed,
    /// Bytes that do not form a valid frame for the codec (a bad escape, a bad length field).
    bad_frame,
    /// A frame's checksum (CRC) did not match its contents.
    checksum_mismatch,
    /// A datagram was larger than the receiving endpoint takes; it was dropped.
    datagram_truncated,
    /// A TLS handshake failed: the peer does not speak TLS, or no version or cipher is shared.
    tls_handshake_failed,
    /// A TLS peer's certificate was refused (expired, untrusted, wrong name, missing), or the
    /// peer refused ours.
    tls_certificate_rejected,
    /// A TLS peer sent records that do not decrypt or parse, or an alert ended the connection.
    tls_protocol_error,
    /// A TLS peer ended the connection in the middle of a record.
    tls_truncated,
};

/// The category of ferry::errc values.
const std::error_category& ferry_category() noexcept;
/// The category of libuv status codes (negative values); messages come from uv_strerror.
const std::error_category& uv_category() noexcept;

/// Makes a std::error_code from ferry::errc.
std::error_code make_error_code(errc value) noexcept;
/// Makes a std::error_code from a libuv status (a negative UV_E* value).
std::error_code uv_error(int status) noexcept;

/// Base of every exception ferry throws: a std::system_error with a message saying what failed.
/// what() is exactly that message (ferry's messages already name the reason; libstdc++'s
/// system_error would append the code's text a second time).
class Error : public std::system_error {
public:
    /// An error with its code and a message naming what failed (host:port, path, option...).
    Error(std::error_code code, const std::string& what)
        : std::system_error(code, what), message_(what) {}
    /// An error with just a code; what() is the code's message.
    explicit Error(std::error_code code) : std::system_error(code) {}
    /// The message given, or the code's message when none was.
    const char* what() const noexcept override {
        return message_.empty() ? std::system_error::what() : message_.c_str();
    }

private:
    std::string message_;
};

/// The operation timed out (asyncio.TimeoutError).
class TimeoutError : public Error {
public:
    using Error::Error;
};

/// The awaiting operation was cancelled (asyncio.CancelledError).
class CancelledError : public Error {
public:
    CancelledError() : Error(make_error_code(errc::cancelled), "operation cancelled") {}
};

/// The connection was lost or reset while an operation needed it (ConnectionResetError).
class ConnectionResetError : public Error {
public:
    using Error::Error;
};

/// Throws the matching ferry exception for `code`, with `what` as context.
[[noreturn]] void throw_error(std::error_code code, const std::string& what);

} // namespace ferry

template <>
struct std::is_error_code_enum<ferry::errc> : std::true_type {};
