#pragma once
// What a port watcher reports after a rescan: the difference between two sets of port names.

#include <set>
#include <string>
#include <vector>

#include <ferry/port_watcher.hpp>

namespace ferry {
class Loop;
}

namespace ferry::detail {

/// The changes from `before` to `now`: removals first (a port replaced by another of the same
/// name shows as nothing), then additions, each in name order.
std::vector<PortChange> port_changes(const std::set<std::string>& before,
                                     const std::set<std::string>& now);

/// What a watcher knew becomes `now`, and `changed` hears the difference, change by change
/// (each call guarded: an exception is logged), until `stopped` turns true (the callback may
/// stop the watcher: nothing more runs then). Loop thread.
void report_port_changes(Loop& loop, std::set<std::string>& known, std::set<std::string> now,
                         const PortWatcher::Callback& changed, const bool& stopped);

} // namespace ferry::detail
