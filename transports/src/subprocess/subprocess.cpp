// subprocess_exec and subprocess_shell: the public entry points over ChildProcess.
#include <ferry/subprocess.hpp>

#include "subprocess/child_process.hpp"
#include "subprocess/shell_command.hpp"

namespace ferry {
namespace {

Result<std::shared_ptr<SubprocessTransport>>
start(Loop& loop, const SubprocessProtocolFactory& factory, const std::vector<std::string>& argv,
      const SubprocessOptions& options, bool verbatim_arguments) {
    try {
        return std::shared_ptr<SubprocessTransport>(
            detail::ChildProcess::spawn(loop, factory, argv, options, verbatim_arguments));
    } catch (...) {
        return std::current_exception();
    }
}

} // namespace

Result<std::shared_ptr<SubprocessTransport>> subprocess_exec(Loop& loop,
                                                             SubprocessProtocolFactory factory,
                                                             std::vector<std::string> argv,
                                                             SubprocessOptions options) {
    return start(loop, factory, argv, options, false);
}

Result<std::shared_ptr<SubprocessTransport>> subprocess_shell(Loop& loop,
                                                              SubprocessProtocolFactory factory,
                                                              std::string command,
                                                              SubprocessOptions options) {
    const detail::ShellCommand shell = detail::shell_command(command);
    return start(loop, factory, shell.argv, options, shell.verbatim_arguments);
}

Result<std::shared_ptr<Transport>> connect_command(Loop& loop, ProtocolFactory factory,
                                                   std::string command) {
    const detail::ShellCommand shell = detail::shell_command(command);
    try {
        return detail::ChildProcess::spawn_joined(loop, factory, shell.argv,
                                                  shell.verbatim_arguments);
    } catch (...) {
        return std::current_exception();
    }
}

} // namespace ferry
