#pragma once
// Watching for a serial port to come back, shared by the samples that reopen ports
// (serial_monitor, serial_link): the moment the node appears, retry instead of waiting out
// the backoff.

#include <functional>
#include <memory>
#include <string>

#include <ferry/loop.hpp>
#include <ferry/port_watcher.hpp>

namespace sample {

/// Calls `appeared` whenever a serial device appears that may be `port`: for a port under
/// /dev, any serial device (the port's own node may be named differently from the path given,
/// e.g. a by-id link to ttyUSB0), also following /dev/serial/by-id; for any other path, that
/// name in its directory. If watching is impossible, `report` says so and null is returned
/// (the backoff still finds the port, only later).
std::shared_ptr<ferry::PortWatcher> watch_for_port(ferry::Loop& loop, const std::string& port,
                                                   std::function<void()> appeared,
                                                   std::function<void(const std::string&)> report);

} // namespace sample
