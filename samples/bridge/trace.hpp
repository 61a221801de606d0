#pragma once
// ferry-bridge's traffic trace: a hex dump with microsecond timestamps and the direction.

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include <ferry/bytes.hpp>

namespace bridge_tool {

/// Writes every relayed chunk as hex-dump lines (docs/bridge.md, "Trace"):
///   2026-12-04 22:50:01.123456 net->dev 0000  68 65 6c 6c 6f 0d 0a  |hello..|
/// 16 bytes a line; the offset counts within the chunk. To a file (appended, flushed per
/// chunk) or to the log at info level.
class Trace {
public:
    /// "log" traces to the log; anything else is a file path. Throws std::runtime_error
    /// naming the file when it cannot be opened.
    explicit Trace(const std::string& target);
    ~Trace();
    Trace(const Trace&) = delete;
    Trace& operator=(const Trace&) = delete;

    /// Records `bytes` going `direction` ("net->dev" or "dev->net").
    void record(std::string_view direction, ferry::ByteView bytes);

private:
    std::FILE* file_ = nullptr; // null: to the log
};

/// The lines record() writes for one chunk (without the timestamp prefix), for tests.
std::string hex_dump_lines(std::string_view prefix, ferry::ByteView bytes);

} // namespace bridge_tool
