// The difference between two sets of port names, as PortChange events.
#include "serial/port_changes.hpp"

#include <ferry/detail/loop_access.hpp>

namespace ferry::detail {

std::vector<PortChange> port_changes(const std::set<std::string>& before,
                                     const std::set<std::string>& now) {
    std::vector<PortChange> changes;
    for (const std::string& device : before) {
        if (now.count(device) == 0) {
            changes.push_back({PortChangeKind::removed, device});
        }
    }
    for (const std::string& device : now) {
        if (before.count(device) == 0) {
            changes.push_back({PortChangeKind::added, device});
        }
    }
    return changes;
}

void report_port_changes(Loop& loop, std::set<std::string>& known, std::set<std::string> now,
                         const PortWatcher::Callback& changed, const bool& stopped) {
    const std::vector<PortChange> changes = port_changes(known, now);
    known = std::move(now);
    for (const PortChange& change : changes) {
        if (stopped) {
            return;
        }
        invoke_guarded(loop, "exception in port watcher callback", [&] { changed(change); });
    }
}

} // namespace ferry::detail
