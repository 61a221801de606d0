// Windows error codes as ferry reports them for COM ports (see serial_errors_win.hpp).
#include "serial/serial_errors_win.hpp"

#include <ferry/error.hpp>

namespace ferry::detail {

std::error_code win32_error(DWORD error) {
    return uv_error(uv_translate_sys_error(static_cast<int>(error)));
}

std::string win32_message(DWORD error) {
    char* text = nullptr;
    const DWORD length = FormatMessageA(
        FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
        nullptr, error, 0, reinterpret_cast<char*>(&text), 0, nullptr);
    std::string message = length > 0 ? std::string(text, length) : "error " + std::to_string(error);
    LocalFree(text);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r' ||
                                message.back() == ' ' || message.back() == '.')) {
        message.pop_back();
    }
    return message + " (Windows error " + std::to_string(error) + ")";
}

std::error_code serial_io_failure(DWORD error, const std::function<bool()>& port_still_listed) {
    switch (error) {
    case ERROR_ACCESS_DENIED:
    case ERROR_BAD_COMMAND:
    case ERROR_DEVICE_REMOVED:
    case ERROR_DEVICE_NOT_CONNECTED:
    case 433: // ERROR_NO_SUCH_DEVICE (mingw-w64 does not name it)
    case ERROR_OPERATION_ABORTED:
        return make_error_code(errc::device_removed);
    case ERROR_GEN_FAILURE:
        // USB-serial drivers also give it for a transient fault with the device still there.
        return port_still_listed() ? win32_error(error) : make_error_code(errc::device_removed);
    default:
        return win32_error(error);
    }
}

} // namespace ferry::detail
