#pragma once
// ferry-bridge's direct service: two connecting sides joined by bridge().

#include <memory>

#include <ferry/ferry.hpp>

#include "service.hpp"

namespace bridge_tool::detail {

/// Starts opening `a` and `b` and joins them, again after each end (see DirectService).
std::shared_ptr<Service> start_direct_service(ferry::Loop& loop, ServiceOptions options,
                                              ferry::Endpoint a, ferry::Endpoint b);

} // namespace bridge_tool::detail
