// wait_for's timeout error, gather's settling and TaskGroup::wait.
#include <string>
#include <system_error>

#include <ferry/wait.hpp>

namespace ferry {

namespace detail {

void throw_timed_out(std::chrono::milliseconds timeout) {
    throw TimeoutError(std::make_error_code(std::errc::timed_out),
                       "wait_for: timed out after " + std::to_string(timeout.count()) + " ms");
}

Task<void> gather_settle(std::shared_ptr<GatherState> state) {
    try {
        co_await state->settled;
    } catch (const CancelledError&) {
        state->cancel_all(); // the gatherer was cancelled: so are its children
        throw;
    }
    if (state->first_error) {
        std::rethrow_exception(state->first_error);
    }
}

} // namespace detail

Task<void> TaskGroup::wait() {
    std::shared_ptr<State> state = state_;
    bool cancelled = false;
    while (state->running > 0) {
        state->changed.clear();
        try {
            co_await state->changed.wait();
        } catch (const CancelledError&) {
            // asyncio: cancelling the group's owner cancels the children, and the scope still
            // waits for them before the CancelledError goes on.
            cancelled = true;
            state->cancel_all();
        }
    }
    if (state->first_error) {
        std::rethrow_exception(state->first_error);
    }
    if (cancelled) {
        throw CancelledError();
    }
}

} // namespace ferry
