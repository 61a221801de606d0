#pragma once
// Command-line options for a serial port (CLI11), shared by the serial samples.

#include <filesystem>
#include <map>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

#include <ferry/serial.hpp>

namespace sample {

/// Adds --baud, --data-bits, --parity, --stop-bits, --flow, --dtr, --rts, --low-latency and
/// --keep-input (each name prefixed with `prefix`, e.g. "a-" gives --a-baud) writing into
/// `options`.
inline void add_serial_options(CLI::App& app, ferry::SerialOptions& options,
                               const std::string& prefix = "") {
    using ferry::FlowControl;
    using ferry::LineOnOpen;
    using ferry::Parity;
    using ferry::StopBits;
    const std::string p = "--" + prefix;
    app.add_option(p + "baud", options.baud_rate, "bits per second (any rate the driver takes)")
        ->capture_default_str();
    app.add_option(p + "data-bits", options.data_bits, "5, 6, 7 or 8")->capture_default_str();
    app.add_option(p + "parity", options.parity, "none, even, odd, mark or space")
        ->transform(CLI::CheckedTransformer(std::map<std::string, Parity>{{"none", Parity::none},
                                                                          {"even", Parity::even},
                                                                          {"odd", Parity::odd},
                                                                          {"mark", Parity::mark},
                                                                          {"space", Parity::space}},
                                            CLI::ignore_case));
    app.add_option(p + "stop-bits", options.stop_bits, "1, 1.5 or 2")
        ->transform(CLI::CheckedTransformer(std::map<std::string, StopBits>{
            {"1", StopBits::one}, {"1.5", StopBits::one_and_half}, {"2", StopBits::two}}));
    app.add_option(p + "flow", options.flow_control, "none, rts-cts, xon-xoff or dsr-dtr")
        ->transform(CLI::CheckedTransformer(
            std::map<std::string, FlowControl>{{"none", FlowControl::none},
                                               {"rts-cts", FlowControl::rts_cts},
                                               {"xon-xoff", FlowControl::xon_xoff},
                                               {"dsr-dtr", FlowControl::dsr_dtr}},
            CLI::ignore_case));
    const std::map<std::string, LineOnOpen> line_states{
        {"leave", LineOnOpen::leave}, {"on", LineOnOpen::set}, {"off", LineOnOpen::clear}};
    app.add_option(p + "dtr", options.dtr, "DTR on open: leave, on or off (off: no reset pulse)")
        ->transform(CLI::CheckedTransformer(line_states, CLI::ignore_case));
    app.add_option(p + "rts", options.rts, "RTS on open: leave, on or off")
        ->transform(CLI::CheckedTransformer(line_states, CLI::ignore_case));
    app.add_flag(p + "low-latency", options.low_latency, "ask the driver for low latency");
    app.add_flag("!" + p + "keep-input", options.discard_input_on_open,
                 "deliver bytes already waiting in the port when it opens (default: discard them)");
}

/// True when `a` and `b` name the same file (through links), or the same path when either does
/// not exist yet: opening one port twice is a usage error, not a busy port to wait for.
inline bool same_file(const std::string& a, const std::string& b) {
    std::error_code error;
    const bool same = std::filesystem::equivalent(a, b, error);
    return error ? std::filesystem::path(a).lexically_normal() ==
                       std::filesystem::path(b).lexically_normal()
                 : same;
}

} // namespace sample
