// subprocess_shell on Windows: cmd.exe, as Python's subprocess and Node's child_process run it
// (/d: no AutoRun commands; /s with the command quoted whole: cmd.exe keeps its quotes).
#include "subprocess/shell_command.hpp"

#include <cstdlib>

namespace ferry::detail {

ShellCommand shell_command(const std::string& command) {
    const char* comspec = std::getenv("ComSpec");
    return ShellCommand{{comspec != nullptr && *comspec != '\0' ? comspec : "cmd.exe", "/d", "/s",
                         "/c", "\"" + command + "\""},
                        true};
}

} // namespace ferry::detail
