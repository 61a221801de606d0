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
    // libuv's codes are negated errno values on POSIX, so most compare equal to std::errc.
    std::error_condition default_error_condition(int value) const noexcept override {
#ifndef _WIN32
        if (value < 0 && value > -4000) {
            return {-value, std::generic_category()};
        }
#endif
        if (value == UV_ETIMEDOUT) {
            return std::errc::timed_out;
        }
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
