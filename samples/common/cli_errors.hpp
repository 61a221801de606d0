#pragma once
// Command-line checks that say what is wrong in words, shared by the samples (CLI11's own
// range check prints its bounds as floating point, up to DBL_MAX).

#include <charconv>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace sample {

/// A CLI11 check: the value must be a whole number from `min` to `max`. Its failure message
/// quotes what was typed: "\"0\" is not a whole number from 1 to 1000000".
inline CLI::Validator whole_number(std::int64_t min, std::int64_t max) {
    const std::string range = std::to_string(min) + " to " + std::to_string(max);
    return CLI::Validator(
        [min, max, range](std::string& text) -> std::string {
            std::int64_t value = 0;
            const char* end = text.data() + text.size();
            const auto [stop, error] = std::from_chars(text.data(), end, value);
            if (text.empty() || error != std::errc() || stop != end || value < min || value > max) {
                return "\"" + text + "\" is not a whole number from " + range;
            }
            return {};
        },
        "WHOLE NUMBER " + range);
}

/// Requires one of `app`'s subcommands after parsing (not through CLI11's require_subcommand,
/// which reports a missing subcommand before an unknown option and so hides the typo). Returns
/// the exit status to use, or -1 when a subcommand was given.
inline int require_subcommand(const CLI::App& app) {
    if (!app.get_subcommands().empty()) {
        return -1;
    }
    std::string names;
    for (const CLI::App* sub : app.get_subcommands({})) {
        names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    std::fprintf(stderr, "%s: give a command: %s (--help says more)\n", app.get_name().c_str(),
                 names.c_str());
    return 2;
}

} // namespace sample
