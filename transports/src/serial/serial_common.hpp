#pragma once
// What the POSIX and Windows serial transports share beyond the transport core: wire times,
// the "closed" error, and how their callbacks are reported. Private to ferry::transports.

#include <cstddef>
#include <cstdint>
#include <system_error>
#include <vector>

#include <ferry/serial.hpp>

namespace ferry::detail {

/// The error a request on a closed port gets.
std::error_code closed_error() noexcept;

/// Milliseconds (at least 1) that `characters` take on the wire with `options`.
std::uint64_t wire_time_ms(std::size_t characters, const SerialOptions& options) noexcept;

/// Calls `done` (if set) with `error` on a later loop turn: a send_break that cannot start
/// never reports from inside the call.
void report_soon(Loop& loop, SerialCallback& done, std::error_code error);

/// Calls every drain_to_wire waiter with `error` and empties the list (a waiter may add a
/// new one, which waits for the next drain).
void finish_drains(Loop& loop, std::vector<SerialCallback>& waiters,
                   std::error_code error) noexcept;

} // namespace ferry::detail
