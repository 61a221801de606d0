// The RFC 2217 client's commands waiting for their answer.
#include "rfc2217/pending_commands.hpp"

#include <algorithm>

#include <ferry/error.hpp>
#include <ferry/log.hpp>

#include "rfc2217/com_port.hpp"

namespace ferry::detail {
namespace {

namespace cp = com_port;

/// Which SET-CONTROL answers belong to which request: flow, break, DTR, RTS, inbound flow.
std::uint8_t control_group(std::uint8_t value) noexcept {
    namespace c = cp::control;
    if (value >= c::break_query && value <= c::break_off) {
        return 1;
    }
    if (value >= c::dtr_query && value <= c::dtr_off) {
        return 2;
    }
    if (value >= c::rts_query && value <= c::rts_off) {
        return 3;
    }
    if ((value >= c::inbound_query && value <= c::inbound_hardware) || value == c::inbound_dtr) {
        return 4;
    }
    return 0; // outbound flow: 0-3, 17, 19
}

/// True for a command that asks for the value in effect instead of setting one.
bool is_query(std::uint8_t code, const Bytes& value) noexcept {
    namespace c = cp::control;
    if (value.empty()) {
        return true;
    }
    if (code == cp::set_baudrate) {
        return value.size() >= 4 && cp::read_u32(value) == 0;
    }
    const auto first = std::to_integer<std::uint8_t>(value[0]);
    if (code == cp::set_control) {
        return first == c::flow_query || first == c::break_query || first == c::dtr_query ||
               first == c::rts_query || first == c::inbound_query;
    }
    return first == 0;
}

} // namespace

PendingCommands::PendingCommands(Loop& loop, std::string port, std::chrono::milliseconds timeout,
                                 bool strict, Applied applied)
    : loop_(loop), port_(std::move(port)), timeout_(timeout), strict_(strict),
      applied_(std::move(applied)) {}

PendingCommands::~PendingCommands() {
    for (Command& command : commands_) {
        command.timer.cancel();
    }
}

std::string PendingCommands::describe(std::uint8_t code, ByteView value) {
    std::string text(cp::command_name(code));
    if (code == cp::set_baudrate && value.size() >= 4) {
        text += " " + std::to_string(cp::read_u32(value));
    } else if (!value.empty() && code != cp::signature) {
        text += " " + std::to_string(std::to_integer<int>(value.data()[0]));
    }
    return text;
}

void PendingCommands::sent(std::uint8_t code, Bytes value, Completion done) {
    const std::uint64_t id = ++last_id_;
    CallbackHandle timer = loop_.call_later(timeout_, [this, id] { timed_out(id); });
    commands_.push_back({id, code, std::move(value), std::move(done), timer});
}

void PendingCommands::timed_out(std::uint64_t id) {
    auto it = std::find_if(commands_.begin(), commands_.end(),
                           [id](const Command& c) { return c.id == id; });
    if (it == commands_.end()) {
        return;
    }
    Command command = std::move(*it);
    commands_.erase(it);
    if (strict_) {
        command.done(std::make_exception_ptr(TimeoutError(
            std::make_error_code(std::errc::timed_out),
            port_ + ": the server did not answer " + describe(command.code, command.value) +
                " within " + std::to_string(timeout_.count()) + " ms")));
        return;
    }
    if (unanswered_logged_.insert(command.code).second) {
        log().info("{}: the server does not answer {}; taking the values asked for as applied "
                   "(non-strict mode)",
                   port_, cp::command_name(command.code));
    }
    applied_(command.code, command.value);
    command.done(nullptr);
}

void PendingCommands::answered(std::uint8_t code, ByteView value) {
    const std::uint8_t first = value.empty() ? 0 : std::to_integer<std::uint8_t>(value.data()[0]);
    auto it = std::find_if(commands_.begin(), commands_.end(), [&](const Command& c) {
        if (c.code != code) {
            return false;
        }
        return code != cp::set_control || c.value.empty() ||
               control_group(std::to_integer<std::uint8_t>(c.value[0])) == control_group(first);
    });
    applied_(code, value);
    if (it == commands_.end()) {
        return; // unsolicited (a server that reports changes made by another client)
    }
    Command command = std::move(*it);
    commands_.erase(it);
    command.timer.cancel();
    const bool same = value.size() >= command.value.size() &&
                      std::equal(command.value.begin(), command.value.end(), value.data());
    if (!is_query(code, command.value) && !same && code != cp::purge_data &&
        code != cp::signature) {
        if (strict_) {
            command.done(std::make_exception_ptr(
                Error(make_error_code(errc::not_supported),
                      port_ + ": the server refused " + describe(code, command.value) +
                          ": it answered " + describe(code, value))));
            return;
        }
        log().info("{}: the server answered {} to {}", port_, describe(code, value),
                   describe(code, command.value));
    }
    command.done(nullptr);
}

void PendingCommands::fail_all() noexcept {
    auto commands = std::move(commands_);
    commands_.clear();
    for (Command& command : commands) {
        command.timer.cancel();
        command.done(std::make_exception_ptr(
            Error(make_error_code(errc::closed), port_ + ": closed before the server answered " +
                                                     describe(command.code, command.value))));
    }
}

} // namespace ferry::detail
