// The difference between two sets of port names, as PortChange events.
#include "serial/port_changes.hpp"

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

} // namespace ferry::detail
