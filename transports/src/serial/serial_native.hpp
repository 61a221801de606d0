#pragma once
// The platform's serial transport under one name, for the portable code (serial_factory.cpp):
// PosixSerialTransport or WindowsSerialTransport. Private to ferry::transports.

#ifdef _WIN32
#include "serial/serial_transport_win.hpp"
namespace ferry::detail {
using NativeSerialTransport = WindowsSerialTransport;
}
#else
#include "serial/serial_transport_posix.hpp"
namespace ferry::detail {
using NativeSerialTransport = PosixSerialTransport;
}
#endif

#include <memory>

#include <ferry/result.hpp>

namespace ferry::detail {
/// Gives a transport that opened (a port, a pty's device end) its protocol from `factory` and
/// starts it; a factory that throws or returns null closes it and is the failure returned.
/// What create_serial_connection and create_pty share.
Result<std::shared_ptr<SerialTransport>>
start_serial(std::shared_ptr<NativeSerialTransport> transport, const ProtocolFactory& factory);
} // namespace ferry::detail
