#pragma once
// Console: the samples' standard output, written without ever blocking the loop.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <ferry/loop.hpp>
#include <ferry/transport.hpp>

namespace sample {

/// Lines for standard output that never stall the loop. When stdout is a pipe or a socket it is
/// written through a ferry pipe transport (the pipe reopened, so the non-blocking mode stays
/// ours and never reaches the shell); past `bound` bytes queued — nobody is reading — further
/// lines are dropped and counted, and the count is printed once output flows again. A
/// terminal or a regular file is written directly: both keep up, and a terminal is shared
/// with the shell, whose descriptor must stay blocking. Loop thread only.
class Console {
public:
    /// Output for `loop`; `bound` bytes at most wait to be written.
    explicit Console(ferry::Loop& loop, std::size_t bound = 1 << 20);
    ~Console();
    Console(const Console&) = delete;
    Console& operator=(const Console&) = delete;

    /// Writes `text` and a newline, or counts it as dropped when the bound is reached.
    void line(const std::string& text);
    /// Lines dropped so far because stdout was not being read.
    std::uint64_t dropped() const noexcept { return dropped_; }
    /// Bytes waiting to be written.
    std::size_t queued() const noexcept;
    /// Runs the loop (which must not be running) until what is queued is written, for at most
    /// `limit`; says on stderr how many lines were dropped, if any. The destructor calls it.
    void flush(std::chrono::milliseconds limit = std::chrono::seconds(2));

private:
    void write(const std::string& text);

    ferry::Loop& loop_;
    std::shared_ptr<ferry::Transport> pipe_; // null: stdout is written directly
    std::size_t bound_;
    std::uint64_t dropped_ = 0;
    std::uint64_t reported_dropped_ = 0;
};

} // namespace sample
