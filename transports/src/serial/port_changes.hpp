#pragma once
// What a port watcher reports after a rescan: the difference between two sets of port names.

#include <set>
#include <string>
#include <vector>

#include <ferry/port_watcher.hpp>

namespace ferry::detail {

/// The changes from `before` to `now`: removals first (a port replaced by another of the same
/// name shows as nothing), then additions, each in name order.
std::vector<PortChange> port_changes(const std::set<std::string>& before,
                                     const std::set<std::string>& now);

} // namespace ferry::detail
