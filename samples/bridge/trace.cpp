// ferry-bridge's hex-dump trace.
#include "trace.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <fmt/chrono.h>

#include <ferry/log.hpp>

namespace bridge_tool {
namespace {

std::string timestamp() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()) %
        std::chrono::seconds(1);
    const std::tm local = fmt::localtime(seconds); // thread-safe, on every platform
    char text[48];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
    std::snprintf(text + n, sizeof text - n, ".%06lld", static_cast<long long>(micros.count()));
    return text;
}

} // namespace

std::string hex_dump_lines(std::string_view prefix, ferry::ByteView bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t at = 0; at < bytes.size(); at += 16) {
        char offset[24];
        std::snprintf(offset, sizeof offset, "%04zx", at);
        out += prefix;
        out += ' ';
        out += offset;
        out += "  ";
        std::string ascii;
        for (std::size_t i = at; i < at + 16; ++i) {
            if (i < bytes.size()) {
                const auto byte = static_cast<unsigned char>(bytes[i]);
                out += digits[byte >> 4];
                out += digits[byte & 15];
                out += ' ';
                ascii += byte >= 0x20 && byte < 0x7f ? static_cast<char>(byte) : '.';
            } else {
                out += "   ";
            }
        }
        out += " |" + ascii + "|\n";
    }
    return out;
}

Trace::Trace(const std::string& target) {
    if (target == "log") {
        return;
    }
    file_ = std::fopen(target.c_str(), "a");
    if (file_ == nullptr) {
        throw std::runtime_error("cannot open the trace file " + target + ": " +
                                 std::strerror(errno));
    }
}

Trace::~Trace() {
    if (file_ != nullptr) {
        std::fclose(file_);
    }
}

void Trace::record(std::string_view direction, ferry::ByteView bytes) {
    const std::string lines = hex_dump_lines(timestamp() + " " + std::string(direction), bytes);
    if (file_ == nullptr) {
        ferry::log().info("trace\n{}", lines);
        return;
    }
    // A local file: a short blocking write is the price of a trace someone asked for.
    std::fwrite(lines.data(), 1, lines.size(), file_);
    std::fflush(file_);
}

} // namespace bridge_tool
