#pragma once
// How subprocess_shell runs a command on this platform (shell_command_posix.cpp,
// shell_command_win.cpp). Private to ferry::transports.

#include <string>
#include <vector>

namespace ferry::detail {

/// The program and arguments that run `command` through the system's shell.
struct ShellCommand {
    /// argv: the shell, its options, the command.
    std::vector<std::string> argv;
    /// Windows: pass the arguments as written (cmd.exe parses its own command line).
    bool verbatim_arguments = false;
};

/// `/bin/sh -c COMMAND`; on Windows `%ComSpec% /d /s /c "COMMAND"`.
ShellCommand shell_command(const std::string& command);

} // namespace ferry::detail
