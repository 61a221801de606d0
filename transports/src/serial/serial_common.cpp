// What both serial transports share (see serial_common.hpp).
#include "serial/serial_common.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <ferry/detail/loop_access.hpp>
#include <ferry/error.hpp>
#include <ferry/loop.hpp>

namespace ferry::detail {

std::error_code closed_error() noexcept {
    return make_error_code(errc::closed);
}

std::uint64_t wire_time_ms(std::size_t characters, const SerialOptions& options) noexcept {
    const double seconds = static_cast<double>(characters) * character_time(options);
    return std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(seconds * 1000.0)));
}

void report_soon(Loop& loop, SerialCallback& done, std::error_code error) {
    if (done) {
        loop.call_soon([done = std::move(done), error] { done(error); });
    }
}

void finish_drains(Loop& loop, std::vector<SerialCallback>& waiters,
                   std::error_code error) noexcept {
    std::vector<SerialCallback> now = std::move(waiters);
    waiters.clear();
    for (SerialCallback& done : now) {
        if (done) {
            invoke_guarded(loop, "exception in drain_to_wire callback", [&] { done(error); });
        }
    }
}

} // namespace ferry::detail
