#pragma once
// The RFC 2217 client's commands waiting for their answer. Private to ferry::transports.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <list>
#include <set>
#include <string>

#include <ferry/bytes.hpp>
#include <ferry/loop.hpp>

namespace ferry::detail {

/// Commands sent and not yet answered. An answer completes the oldest command with its code
/// (for SET-CONTROL, the oldest whose value is in the same group: flow, break, DTR, RTS,
/// inbound flow). Each command has its own timer: when it runs out, a strict client fails the
/// command, a trusting one takes the value asked for as applied (logged once per command).
/// Loop thread only; the owner must outlive the timers (fail_all() cancels them).
class PendingCommands {
public:
    /// Called when a command's answer came (null), or with why it did not.
    using Completion = std::function<void(std::exception_ptr)>;
    /// What is in effect now, from an answer (or, trusting, from the request): code, value.
    using Applied = std::function<void(std::uint8_t code, ByteView value)>;

    /// `port` names the remote port in messages.
    PendingCommands(Loop& loop, std::string port, std::chrono::milliseconds timeout, bool strict,
                    Applied applied);
    ~PendingCommands();
    PendingCommands(const PendingCommands&) = delete;
    PendingCommands& operator=(const PendingCommands&) = delete;

    /// `code` with `value` was sent: `done` runs on its answer or its timeout.
    void sent(std::uint8_t code, Bytes value, Completion done);
    /// The server answered `code` (without the +100) with `value`.
    void answered(std::uint8_t code, ByteView value);
    /// Fails every command waiting (the connection is closing).
    void fail_all() noexcept;
    /// "SET-BAUDRATE 115200", for messages.
    static std::string describe(std::uint8_t code, ByteView value);

private:
    struct Command {
        std::uint64_t id;
        std::uint8_t code;
        Bytes value; // as sent
        Completion done;
        CallbackHandle timer;
    };
    void timed_out(std::uint64_t id);

    Loop& loop_;
    std::string port_;
    std::chrono::milliseconds timeout_;
    bool strict_;
    Applied applied_;
    std::list<Command> commands_;
    std::uint64_t last_id_ = 0;
    std::set<std::uint8_t> unanswered_logged_;
};

} // namespace ferry::detail
