#pragma once
/// Pseudo-terminals as virtual serial ports: create_pty makes one, keeps the device end as a
/// SerialTransport and leaves the terminal end for another program to open as its port.

#include <memory>
#include <string>

#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/result.hpp>
#include <ferry/serial.hpp>

namespace ferry {

/// Options for create_pty.
struct PtyOptions {
    /// A symlink to make to the terminal's name (e.g. /tmp/ttyV0), removed when the transport
    /// closes; an existing symlink there is replaced, any other file is an error. Empty: none.
    std::string link;
    /// The line settings the terminal starts with (raw mode always). A pseudo-terminal keeps
    /// the baud rate, stop bits and flow-control flags it is given, but always has 8 data bits
    /// and no parity; it has no modem lines.
    SerialOptions serial{};
};

/// Makes a pseudo-terminal and returns its device end (the master) as a SerialTransport whose
/// path() is the terminal's name (/dev/pts/N) for another program to open. ferry keeps the
/// terminal end open too, so programs may open and close it any number of times without the
/// transport seeing a hang-up; what is written while no program reads waits in the terminal's
/// queue (write back-pressure once it is full). Fails with a message naming the link or the
/// setting that could not be made; on Windows, which has no pseudo-terminals, always (errc::
/// not_supported, pointing at a null-modem driver such as com0com).
Result<std::shared_ptr<SerialTransport>> create_pty(Loop& loop, ProtocolFactory factory,
                                                    PtyOptions options = {});

} // namespace ferry
