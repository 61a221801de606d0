// StreamWriter: writes through the transport, drain() and wait_closed() on the writer state.
#include <ferry/detail/task_runtime.hpp>
#include <ferry/streams.hpp>

#include "streams/stream_state.hpp"

namespace ferry {
namespace detail {
namespace {

[[noreturn]] void throw_lost(const WriterState& state) {
    if (state.lost_error) {
        throw ConnectionResetError(state.lost_error,
                                   "connection lost: " + state.lost_error.message());
    }
    throw ConnectionResetError(make_error_code(errc::closed), "connection closed");
}

Task<void> drain_writer(std::shared_ptr<WriterState> state) {
    while (state->paused && !state->lost) {
        co_await QueueWait(state->drainers);
    }
    if (state->lost) {
        throw_lost(*state);
    }
}

Task<void> wait_writer_closed(std::shared_ptr<WriterState> state) {
    while (!state->lost) {
        co_await QueueWait(state->closers);
    }
}

} // namespace
} // namespace detail

void StreamWriter::writelines(std::span<const ByteView> parts) const {
    transport_->writelines(parts);
}

// Out of line: reached only when the writer is paused, and the inlined await stays short.
bool StreamWriter::DrainAwaiter::await_suspend(std::coroutine_handle<> awaiting) noexcept {
    if (!park(awaiting)) {
        return false;
    }
    writer_->state_->drainers.push_back(*this);
    return true;
}

void StreamWriter::DrainAwaiter::throw_lost() const {
    detail::throw_lost(*writer_->state_);
}

StreamWriter::DrainAwaiter::operator Task<void>() && {
    return detail::drain_writer(writer_->state_);
}

void StreamWriter::write_eof() const {
    transport_->write_eof();
}

bool StreamWriter::can_write_eof() const noexcept {
    return transport_->can_write_eof();
}

void StreamWriter::close() const {
    transport_->close();
}

bool StreamWriter::is_closing() const noexcept {
    return transport_->is_closing();
}

Task<void> StreamWriter::wait_closed() const {
    return detail::wait_writer_closed(state_);
}

Transport& StreamWriter::transport() const noexcept {
    return *transport_;
}

} // namespace ferry
