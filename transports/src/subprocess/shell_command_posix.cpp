// subprocess_shell on POSIX: /bin/sh -c, as asyncio and Python's subprocess do.
#include "subprocess/shell_command.hpp"

namespace ferry::detail {

ShellCommand shell_command(const std::string& command) {
    return ShellCommand{{"/bin/sh", "-c", command}, false};
}

} // namespace ferry::detail
