#pragma once
// Windows error codes as ferry reports them for COM ports: the plain mapping, the readable
// message, and which failures of a read or write mean the device was removed. Windows only.

#include <functional>
#include <string>
#include <system_error>

// uv.h first: it includes winsock2.h, which must come before windows.h.
#include <uv.h>

#include <windows.h>

namespace ferry::detail {

/// A Windows error code as libuv's portable code (ERROR_FILE_NOT_FOUND -> ENOENT...).
std::error_code win32_error(DWORD error);

/// The system's text for `error`, without the trailing period, and its number.
std::string win32_message(DWORD error);

/// What a failed overlapped read or write on a COM port means: errc::device_removed for the
/// codes drivers give when the device is gone (an ERROR_OPERATION_ABORTED the caller did not
/// cause among them; ERROR_GEN_FAILURE only when `port_still_listed()` says the port has left
/// the system), otherwise win32_error(error). `port_still_listed` is called for
/// ERROR_GEN_FAILURE alone.
std::error_code serial_io_failure(DWORD error, const std::function<bool()>& port_still_listed);

} // namespace ferry::detail
