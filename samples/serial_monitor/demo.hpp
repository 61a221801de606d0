#pragma once
// serial_monitor's demo: the monitor against a simulated instrument that is unplugged and
// plugged back in.

namespace sample {

/// Runs the demo, prints what the monitor shows and a verdict; returns the exit status.
int run_monitor_demo();

} // namespace sample
