// grep_ports: list_ports (ports_linux.cpp, ports_win.cpp) filtered by a pattern, as pyserial's
// list_ports.grep.
#include <ferry/serial_ports.hpp>

#include <regex>

#include <ferry/error.hpp>

namespace ferry {

std::vector<PortInfo> grep_ports(std::string_view pattern, const PortSearch& where) {
    std::regex matcher;
    try {
        matcher = std::regex(std::string(pattern), std::regex::ECMAScript | std::regex::icase);
    } catch (const std::regex_error& e) {
        throw Error(make_error_code(errc::invalid_argument),
                    "grep_ports: invalid pattern '" + std::string(pattern) + "': " + e.what());
    }
    std::vector<PortInfo> found;
    for (PortInfo& port : list_ports(where)) {
        if (std::regex_search(port.device, matcher) ||
            std::regex_search(port.description, matcher) || std::regex_search(port.hwid, matcher)) {
            found.push_back(std::move(port));
        }
    }
    return found;
}

} // namespace ferry
