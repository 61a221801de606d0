// create_pty on Windows: there are no pseudo-terminals; the failure says what to use instead.
#include <ferry/error.hpp>
#include <ferry/pty.hpp>

namespace ferry {

Result<std::shared_ptr<SerialTransport>> create_pty(Loop&, ProtocolFactory, PtyOptions) {
    return Result<std::shared_ptr<SerialTransport>>::failure(
        make_error_code(errc::not_supported),
        "pseudo-terminals are a POSIX facility: on Windows, make a virtual port pair with a "
        "null-modem driver (com0com) and open its ports with serial:COMn");
}

} // namespace ferry
