// watch_for_port: a PortWatcher on the directory a port lives in.
#include "port_watch.hpp"

#include <filesystem>
#include <regex>

#include <ferry/error.hpp>

namespace sample {
namespace {

std::string regex_escape(const std::string& text) {
    static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
    return std::regex_replace(text, special, R"(\$&)");
}

} // namespace

std::shared_ptr<ferry::PortWatcher> watch_for_port(ferry::Loop& loop, const std::string& port,
                                                   std::function<void()> appeared,
                                                   std::function<void(const std::string&)> report) {
    const std::filesystem::path path(port);
    ferry::PortWatchOptions watch;
    if (port.rfind("/dev/", 0) != 0) {
        watch.dev_root = path.parent_path().string();
        watch.name_pattern = regex_escape(path.filename().string());
        watch.watch_by_id = false;
    }
    try {
        return ferry::watch_ports(
            loop,
            [appeared = std::move(appeared)](const ferry::PortChange& change) {
                if (change.kind == ferry::PortChangeKind::added) {
                    appeared();
                }
            },
            watch);
    } catch (const ferry::Error& e) {
        report(std::string("not watching for ") + port + " (" + e.what() +
               "); retrying on a timer");
        return nullptr;
    }
}

} // namespace sample
