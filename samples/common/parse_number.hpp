#pragma once
// Strict number parsing for the samples' hand-split arguments (PATH@BAUD, host:port): the whole
// text must be a number in range, checked before any conversion narrows it.

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sample {

/// Parses `text` as an integer in [min, max]; throws std::invalid_argument quoting `text` and
/// naming `what` and the range when it is not a number, has trailing characters or is out of
/// range ("bad baud rate in a1@9600x: "9600x" is not a number from 1 to 4294967295").
inline std::uint64_t parse_number(std::string_view text, const std::string& what,
                                  const std::string& context, std::uint64_t min,
                                  std::uint64_t max) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc() || stop != end || value < min || value > max) {
        throw std::invalid_argument("bad " + what + " in " + context + ": \"" + std::string(text) +
                                    "\" is not a whole number from " + std::to_string(min) +
                                    " to " + std::to_string(max));
    }
    return value;
}

} // namespace sample
