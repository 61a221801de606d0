#pragma once
// ferry-bridge's listening service: clients of a server sharing one device (BridgeHub).

#include <memory>
#include <string>

#include <ferry/ferry.hpp>

#include "service.hpp"

namespace bridge_tool::detail {

/// Listens on `listener` and serves its clients from `device` (see HubService); done once
/// listening. Throws ferry::Error when it cannot listen.
ferry::Task<std::shared_ptr<Service>>
start_hub_service(ferry::Loop& loop, ServiceOptions options, ferry::Endpoint device,
                  std::string device_text, ferry::Endpoint listener, std::string listener_text);

} // namespace bridge_tool::detail
