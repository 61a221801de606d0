// TransportCore: the contract's state machine, delivery and write queue, for every transport.
#include "core/transport_core.hpp"

#include <array>

#include <ferry/detail/loop_access.hpp>
#include <ferry/log.hpp>
#include <ferry/rfc2217.hpp>
#include <ferry/serial.hpp>
#include <ferry/tls.hpp>

namespace ferry::detail {

std::unique_ptr<Protocol> make_protocol(const ProtocolFactory& factory) {
    std::unique_ptr<Protocol> protocol = factory();
    if (!protocol) {
        throw Error(make_error_code(errc::invalid_argument), "the protocol factory returned null");
    }
    return protocol;
}

template <class Interface>
void TransportCore<Interface>::adopt(std::shared_ptr<TransportCore> self) noexcept {
    self_ = std::move(self);
    detail::LoopAccess::register_resource(this->loop(), *this);
}

template <class Interface>
bool TransportCore<Interface>::start(std::unique_ptr<Protocol> protocol, Direction direction) {
    this->set_protocol(std::move(protocol));
    direction_ = direction;
    state_ = State::open;
    started_ = true;
    if (!this->call_protocol("exception in connection_made",
                             [this] { this->protocol().connection_made(*this); })) {
        return false;
    }
    if (readable() && !read_paused_ && !reading_) {
        reading_ = true;
        reading_ = start_reading();
    }
    return true;
}

template <class Interface>
void TransportCore<Interface>::discard() noexcept {
    state_ = State::closing;
    begin_close();
}

// ---- reading ---------------------------------------------------------------------------

template <class Interface>
std::span<std::byte> TransportCore<Interface>::buffered_read_space(std::size_t size_hint) noexcept {
    std::span<std::byte> space;
    // Not call_protocol: failing here could close a handle inside the backend's read machinery
    // (libuv's allocation callback). The bytes go to scratch memory and the next delivered()
    // ends the connection.
    get_buffer_failed_ = !detail::invoke_guarded(this->loop(), "exception in get_buffer", [&] {
        space = this->buffered_protocol()->get_buffer(size_hint);
        if (space.empty()) {
            throw Error(make_error_code(errc::invalid_argument),
                        "BufferedProtocol::get_buffer returned an empty buffer");
        }
    });
    if (get_buffer_failed_) {
        space = detail::LoopAccess::read_buffer(this->loop()).first(size_hint);
    }
    read_at_ = space.data();
    return space;
}

template <class Interface>
void TransportCore<Interface>::end_after_failed_get_buffer() noexcept {
    get_buffer_failed_ = false;
    fail(make_error_code(errc::callback_threw)); // what was read is dropped
}

template <class Interface>
void TransportCore<Interface>::deliver(std::size_t n) noexcept {
    // Every receive of every connection passes here: the trace and the BufferedProtocol's
    // path are out of line, so this is a check, a check and a call (inlined, the trace's
    // formatting gave it a 600-byte frame and six saved registers: ~15 instructions per echo).
    if (log().should_log(spdlog::level::trace)) [[unlikely]] {
        trace_read(ByteView(read_at_, n));
    }
    if (this->buffered_protocol() != nullptr) {
        deliver_buffered(n);
        return;
    }
    const ByteView data(read_at_, n);
    this->call_protocol("exception in data_received",
                        [&] { this->protocol().data_received(data); });
}

template <class Interface>
void TransportCore<Interface>::deliver_buffered(std::size_t n) noexcept {
    adapt_read_size(n); // only a BufferedProtocol is asked for read_size()
    BufferedProtocol* buffered = this->buffered_protocol();
    this->call_protocol("exception in buffer_updated", [&] { buffered->buffer_updated(n); });
}

template <class Interface>
void TransportCore<Interface>::trace_read(ByteView data) const {
    log().trace("{}read {} bytes\n{}", log_name().empty() ? "" : log_name() + ": ", data.size(),
                hex_dump(data));
}

template <class Interface>
void TransportCore<Interface>::delivered_copy(ByteView data) noexcept {
    if (data.empty() || state_ != State::open || !reading_) {
        return;
    }
    if (log().should_log(spdlog::level::trace)) {
        trace_read(data);
    }
    // BufferedProtocol::data_received copies through get_buffer / buffer_updated.
    this->call_protocol("exception in data_received",
                        [&] { this->protocol().data_received(data); });
}

template <class Interface>
void TransportCore<Interface>::os_eof() noexcept {
    if (reading_) {
        reading_ = false;
        stop_reading();
    }
    eof_received_ = true;
    log().debug("EOF received");
    if (state_ != State::open) {
        return;
    }
    bool keep_open = false;
    if (!this->call_protocol("exception in eof_received",
                             [&] { keep_open = this->protocol().eof_received(); })) {
        return;
    }
    // Both directions shut (EOF was sent too): nothing more can happen, so close.
    if (!keep_open || eof_requested_ || !stays_half_open()) {
        close();
    }
}

template <class Interface>
void TransportCore<Interface>::pause_reading() {
    read_paused_ = true;
    if (reading_) {
        reading_ = false;
        stop_reading();
    }
}

template <class Interface>
void TransportCore<Interface>::resume_reading() {
    read_paused_ = false;
    if (!reading_ && readable()) {
        reading_ = true;
        reading_ = start_reading();
    }
}

// ---- writing ---------------------------------------------------------------------------

template <class Interface>
void TransportCore<Interface>::refuse_write(const char* what) {
    // Once per transport: a protocol that keeps writing into a closed transport would
    // otherwise flood the log.
    if (!refusal_logged_) {
        refusal_logged_ = true;
        log().debug("{}{} ignored: the transport is {}",
                    log_name().empty() ? "" : log_name() + ": ", what,
                    direction_ == Direction::read_only ? "read-only"
                    : eof_requested_                   ? "past write_eof"
                                                       : "closing");
    }
}

template <class Interface>
void TransportCore<Interface>::write(ByteView data) {
    if (!writable()) {
        refuse_write("write");
        return;
    }
    if (data.empty()) {
        return;
    }
    if (queue_.empty()) {
        // Nothing queued: try the OS at once and copy only what it did not take.
        const std::ptrdiff_t taken = write_now(&data, 1);
        if (taken < 0 || static_cast<std::size_t>(taken) == data.size()) {
            return; // failed (fail() was called), or all sent
        }
        data = data.subview(static_cast<std::size_t>(taken));
    }
    queue_rest(std::span<const ByteView>(&data, 1), 0);
}

template <class Interface>
void TransportCore<Interface>::writelines(std::span<const ByteView> parts) {
    if (!writable()) {
        refuse_write("writelines");
        return;
    }
    queue_and_send(parts);
}

template <class Interface>
void TransportCore<Interface>::queue_and_send(std::span<const ByteView> parts) {
    std::size_t total = 0;
    for (const ByteView& part : parts) {
        total += part.size();
    }
    if (total == 0) {
        return;
    }
    std::size_t taken = 0;
    if (queue_.empty()) {
        // Nothing queued: one gathered write at once, and queue only the rest.
        const std::ptrdiff_t n =
            write_now(parts.data(), std::min(parts.size(), WriteQueue::max_gather));
        if (n < 0) {
            return; // fail() was called
        }
        taken = static_cast<std::size_t>(n);
        if (taken == total) {
            return;
        }
    }
    queue_rest(parts, taken);
}

template <class Interface>
void TransportCore<Interface>::queue_rest(std::span<const ByteView> parts, std::size_t taken) {
    for (const ByteView& part : parts) {
        if (taken >= part.size()) {
            taken -= part.size();
            continue;
        }
        queue_.push(part.subview(taken), this->keeps_write_boundaries());
        taken = 0;
    }
    if (!queue_.in_flight()) {
        send_queued();
    }
    this->maybe_pause_protocol();
}

template <class Interface>
void TransportCore<Interface>::send_from_queue() noexcept {
    while (!queue_.empty() && (state_ == State::open || state_ == State::closing)) {
        // One array per thread, not per call: filling 64 fresh views each time cost more than
        // the write itself (loop thread only, and write_now never reenters the queue).
        static thread_local std::array<ByteView, WriteQueue::max_gather> views;
        const std::size_t count = queue_.gather(views, WriteQueue::readiness_gather_bytes);
        const std::ptrdiff_t n = write_now(views.data(), count);
        if (n < 0) {
            return; // fail() was called
        }
        queue_.consume(static_cast<std::size_t>(n));
        std::size_t offered = 0;
        for (std::size_t i = 0; i < count; ++i) {
            offered += views[i].size();
        }
        if (static_cast<std::size_t>(n) < offered) {
            // The OS took what it had room for: asking again now would only hear "would
            // block" (a pty under load answered every other write so). Wait for writable.
            break;
        }
    }
    settle_queue();
}

template <class Interface>
void TransportCore<Interface>::send_completed(std::size_t n, std::error_code error) noexcept {
    queue_.complete(n);
    if (error) {
        // A write cut short by abort() reports whatever the OS says about it (a Windows pipe:
        // end of file, not "cancelled"); that is not how the connection ended.
        const bool aborted = closing_handles_ && !closing_after_flush_;
        if (error != std::errc::operation_canceled && !aborted) {
            fail(error);
        }
        return;
    }
    settle_queue();
}

template <class Interface>
void TransportCore<Interface>::settle_queue() noexcept {
    this->maybe_resume_protocol(); // may write more, which queues or sends by itself
    if (state_ == State::closed || closing_handles_) {
        return;
    }
    if (!queue_.empty()) {
        if (!queue_.in_flight()) {
            send_queued();
        }
        return;
    }
    queue_drained();
    if (eof_requested_ && state_ == State::open) {
        shutdown_write();
    }
    if (state_ == State::closing) {
        begin_close();
    }
}

template <class Interface>
void TransportCore<Interface>::write_eof() {
    if (!this->can_write_eof()) {
        log().debug("{}write_eof ignored: this transport has no end-of-stream",
                    log_name().empty() ? "" : log_name() + ": ");
        return;
    }
    if (eof_requested_ || state_ != State::open) {
        return;
    }
    eof_requested_ = true;
    if (eof_received_) {
        close(); // the peer already finished: both directions are now shut
        return;
    }
    if (queue_.empty()) {
        shutdown_write();
    }
}

// ---- closing ---------------------------------------------------------------------------

template <class Interface>
void TransportCore<Interface>::close() noexcept {
    if (state_ != State::open) {
        return;
    }
    state_ = State::closing;
    closing_after_flush_ = true;
    if (reading_) {
        reading_ = false;
        stop_reading();
    }
    if (queue_.empty()) {
        begin_close();
    }
    // Otherwise settle_queue() closes once the queue has drained.
}

template <class Interface>
void TransportCore<Interface>::abort() noexcept {
    if (state_ == State::closed) {
        return;
    }
    state_ = State::closing;
    closing_after_flush_ = false;
    if (closing_handles_) {
        stop_lingering(); // a close() waiting in close_handles() ends now
        return;
    }
    begin_close(); // for a transport that never started, this is discard()
}

template <class Interface>
void TransportCore<Interface>::fail(std::error_code error) noexcept {
    if (state_ == State::closed) {
        return;
    }
    if (!loss_reason()) {
        error_value_ = error.value();
        error_category_ = &error.category();
    }
    log().debug("{}transport failed: {}", log_name().empty() ? "" : log_name() + ": ",
                error.message());
    state_ = State::closing;
    closing_after_flush_ = false;
    if (closing_handles_) {
        stop_lingering();
        return;
    }
    begin_close();
}

template <class Interface>
void TransportCore<Interface>::begin_close() noexcept {
    if (closing_handles_) {
        return;
    }
    closing_handles_ = true;
    reading_ = false;
    // Queued bytes are dropped; a completion backend's in-flight buffers stay allocated until
    // its (cancelled) completion or handles_closed().
    close_handles();
}

template <class Interface>
void TransportCore<Interface>::handles_closed() noexcept {
    // The self-reference is released last: connection_lost and released() may drop every
    // other reference.
    std::shared_ptr<TransportCore> keep_alive = std::move(self_);
    state_ = State::closed;
    queue_.clear();
    if (started_) {
        this->call_protocol("exception in connection_lost",
                            [this] { this->protocol().connection_lost(loss_reason()); });
    }
    released();
    detail::LoopAccess::unregister_resource(this->loop(), *this);
}

template class TransportCore<Transport>;
template class TransportCore<SerialTransport>;
template class TransportCore<Rfc2217Transport>;
template class TransportCore<Rfc2217ServerTransport>;
template class TransportCore<TlsTransport>;

} // namespace ferry::detail
