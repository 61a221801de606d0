// PosixSerialTransport: the tty's calls under the transport core — poll-driven reads and
// writes, break, drain_to_wire, modem lines, device removal, closing its handles.
#include "serial/serial_transport_posix.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>

#include <ferry/detail/loop_access.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>

#include "serial/serial_common.hpp"
#include "serial/serial_device_posix.hpp"
#include "serial/serial_modem_wait_posix.hpp"

namespace ferry::detail {
namespace {

// Reads per readiness report before returning to the loop (fairness between ports).
constexpr int max_reads_per_event = 16;

// How long close() on a pty waits for the program on its terminal end to read what was
// written before the kernel would discard it (a serial port's closing_wait is 30 s).
constexpr std::uint64_t pty_close_wait_ms = 5000;
// How long a write to a pty's device end may take to show in its terminal's queue.
constexpr std::uint64_t pty_flip_push_ms = 10;

PosixSerialTransport& transport_of(uv_handle_t* handle) {
    return *static_cast<PosixSerialTransport*>(handle->data);
}

} // namespace

std::shared_ptr<PosixSerialTransport> PosixSerialTransport::open(Loop& loop, std::string path,
                                                                 SerialOptions options) {
    if (detail::LoopAccess::is_shutting_down(loop)) {
        throw Error(make_error_code(errc::loop_closed), "the loop is closing");
    }
    std::optional<PreviousSettings> previous;
    if (options.restore_on_close) {
        previous.emplace();
    }
    const int fd = open_serial_device(path, options, previous ? &*previous : nullptr);
    auto transport = adopt_descriptor(loop, std::move(path), std::move(options), fd);
    transport->previous_settings_ = previous;
    return transport;
}

std::shared_ptr<PosixSerialTransport>
PosixSerialTransport::adopt_descriptor(Loop& loop, std::string path, SerialOptions options, int fd,
                                       std::unique_ptr<DescriptorCompanion> companion) {
    auto transport =
        std::make_shared<PosixSerialTransport>(loop, std::move(path), std::move(options), fd);
    transport->companion_ = std::move(companion);
    transport->pseudo_terminal_ = is_pseudo_terminal(fd);
    const int rc = uv_poll_init(detail::LoopAccess::native(loop), &transport->poll_, fd);
    if (rc != 0) {
        transport->release_descriptor();
        throw Error(uv_error(rc), "cannot watch " + transport->path_ + ": " + uv_strerror(rc));
    }
    uv_timer_init(detail::LoopAccess::native(loop), &transport->break_timer_);
    uv_timer_init(detail::LoopAccess::native(loop), &transport->drain_timer_);
    for (auto* handle : {reinterpret_cast<uv_handle_t*>(&transport->poll_),
                         reinterpret_cast<uv_handle_t*>(&transport->break_timer_),
                         reinterpret_cast<uv_handle_t*>(&transport->drain_timer_)}) {
        handle->data = transport.get();
    }
    transport->open_handles_ = 3;
    transport->adopt(transport);
    return transport;
}

PosixSerialTransport::PosixSerialTransport(Loop& loop, std::string path, SerialOptions options,
                                           int fd)
    : TransportCore(loop), fd_(fd), path_(std::move(path)), options_(std::move(options)) {}

PosixSerialTransport::~PosixSerialTransport() = default;

void PosixSerialTransport::start(std::unique_ptr<Protocol> protocol) {
    log().debug("{} open at {}", path_, describe(options_));
    if (TransportCore::start(std::move(protocol)) && state() == State::open) {
        update_poll(); // registered for hang-ups even if connection_made paused reading
    }
}

// ---- reading ---------------------------------------------------------------------------

void PosixSerialTransport::update_poll() {
    if (state() == State::closed || uv_is_closing(reinterpret_cast<uv_handle_t*>(&poll_))) {
        return;
    }
    // UV_PRIORITIZED (POLLPRI) never fires on a tty; it keeps the descriptor registered while
    // reading is paused and nothing is queued, so a hang-up is still reported.
    int events = UV_PRIORITIZED;
    if (is_reading()) {
        events |= UV_READABLE;
    }
    if (!queue().empty() && !in_break_) {
        events |= UV_WRITABLE;
    }
    if (events == poll_events_) {
        return;
    }
    const int rc = uv_poll_start(&poll_, events, [](uv_poll_t* handle, int status, int ready) {
        transport_of(reinterpret_cast<uv_handle_t*>(handle)).on_poll(status, ready);
    });
    if (rc != 0) {
        fail(uv_error(rc));
        return;
    }
    poll_events_ = events;
}

bool PosixSerialTransport::start_reading() noexcept {
    update_poll();
    return state() == State::open;
}

void PosixSerialTransport::on_poll(int status, int events) {
    if (state() != State::open && state() != State::closing) {
        return;
    }
    if (status < 0) {
        // libuv reports POLLERR this way (and has stopped the handle): what the device still
        // holds is delivered, then the loss. A tty raises POLLERR when it is hung up.
        poll_events_ = -1;
        if (is_reading()) {
            read_ready();
        }
        fail(make_error_code(errc::device_removed));
        return;
    }
    if ((events & UV_READABLE) != 0 && is_reading()) {
        read_ready();
    }
    if ((events & UV_WRITABLE) != 0 && (state() == State::open || state() == State::closing)) {
        send_from_queue();
    }
    if ((events & (UV_READABLE | UV_WRITABLE)) == 0) {
        check_hangup(); // only a hang-up wakes a descriptor registered for nothing else
    }
}

void PosixSerialTransport::read_ready() {
    bool got_data = false;
    int reads = 0;
    while (reads < max_reads_per_event && is_reading() && state() == State::open) {
        // A short read does not mean the device is drained: the line discipline hands over at
        // most its 4 KiB buffer per read while the driver keeps filling it. So read on into
        // the rest of the same space until "nothing yet", and deliver once: the protocol (a
        // bridge) then forwards one large write instead of one per 4 KiB, which is most of
        // what relaying a serial port to TCP costs.
        const std::span<std::byte> space = read_space();
        std::size_t filled = 0;
        ssize_t n = 0;
        int read_errno = 0;
        while (reads < max_reads_per_event && filled < space.size()) {
            n = ::read(fd_, space.data() + filled, space.size() - filled);
            ++reads;
            if (n > 0) {
                filled += static_cast<std::size_t>(n);
                continue;
            }
            read_errno = errno;
            if (n < 0 && read_errno == EINTR) {
                continue;
            }
            break;
        }
        delivered(filled); // 0 delivers nothing but reports a failed get_buffer
        got_data = got_data || filled > 0;
        if (n > 0) {
            continue; // the space is full (a new one is taken) or the read budget is spent
        }
        if (n == 0) {
            // With VMIN = VTIME = 0 the tty answers "nothing yet" with 0 rather than EAGAIN
            // (n_tty checks the zero timeout before O_NONBLOCK), so 0 alone is no hang-up.
            // Only a wake-up that found nothing at all is worth asking poll() about.
            if (!got_data && state() == State::open) {
                check_hangup();
            }
            return;
        }
        if (read_errno != EAGAIN) {
            fail(io_error(read_errno));
        }
        return;
    }
}

void PosixSerialTransport::check_hangup() {
    pollfd probe{fd_, POLLIN, 0};
    if (::poll(&probe, 1, 0) == 1 && (probe.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
        fail(make_error_code(errc::device_removed));
    }
}

std::error_code PosixSerialTransport::io_error(int error) const noexcept {
    if (error == EIO || error == ENXIO || error == ENODEV) {
        return make_error_code(errc::device_removed);
    }
    return uv_error(uv_translate_sys_error(error));
}

// ---- writing ---------------------------------------------------------------------------

std::ptrdiff_t PosixSerialTransport::write_now(const ByteView* parts, std::size_t count) noexcept {
    if (in_break_) {
        return 0; // held until the break ends
    }
    ssize_t n = 0;
    do {
        if (count == 1) {
            n = ::write(fd_, parts[0].data(), parts[0].size());
        } else {
            std::array<iovec, WriteQueue::max_gather> iov;
            for (std::size_t i = 0; i < count; ++i) {
                iov[i].iov_base = const_cast<std::byte*>(parts[i].data());
                iov[i].iov_len = parts[i].size();
            }
            n = ::writev(fd_, iov.data(), static_cast<int>(count));
        }
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
        sent_since_drain_ = true;
        drain_tail_waited_ = false;
        wrote_ = true;
        return n;
    }
    if (n < 0 && errno != EAGAIN) {
        fail(io_error(errno));
        return -1;
    }
    return 0;
}

void PosixSerialTransport::queue_drained() noexcept {
    update_poll(); // no writable interest with nothing to write
    check_drain();
}

// ---- serial controls -------------------------------------------------------------------

void PosixSerialTransport::require_open(const char* what) const {
    if (state() != State::open) {
        throw Error(closed_error(), std::string(what) + " on " + path_ + ": the port is closed");
    }
}

void PosixSerialTransport::reconfigure(const SerialOptions& options) {
    require_open("reconfigure");
    validate(options);
    try {
        options_ = configure_serial_device(fd_, path_, options);
    } catch (const Error&) {
        // Put back what was held, so a refused change changes nothing (best effort).
        try {
            configure_serial_device(fd_, path_, options_);
        } catch (const Error& e) {
            log().warn("{}: restoring {} after a refused change failed: {}", path_,
                       describe(options_), e.what());
        }
        throw;
    }
    log().debug("{} reconfigured to {}", path_, describe(options_));
}

void PosixSerialTransport::set_rts(bool on) {
    require_open("set_rts");
    set_modem_line(fd_, path_, TIOCM_RTS, on);
}

void PosixSerialTransport::set_dtr(bool on) {
    require_open("set_dtr");
    set_modem_line(fd_, path_, TIOCM_DTR, on);
}

ModemStatus PosixSerialTransport::modem_status() const {
    require_open("modem_status");
    return read_modem_status(fd_, path_);
}

Task<ModemStatus> PosixSerialTransport::wait_modem_change(ModemStatus watch) {
    require_open("wait_modem_change");
    read_modem_status(fd_, path_); // fails fast, without an executor trip, if there are none
    // The job's completion holds the transport: the descriptor must stay open (and this
    // object alive to close it) until the job has left the ioctl.
    std::shared_ptr<Transport> keep_alive = shared_from_this();
    auto wait = std::make_shared<ModemWait>(fd_, watch);
    modem_waits_.push_back(wait);
    Future<int> outcome(loop());
    loop().run_in_executor(
        std::function<int()>([wait] { return run_modem_wait(*wait); }),
        std::function<void(Result<int>)>([this, keep_alive, wait, outcome](Result<int> r) mutable {
            std::erase(modem_waits_, wait);
            if (state() == State::closed && modem_waits_.empty()) {
                release_descriptor(); // the close was waiting for this job
            }
            if (!outcome.done()) {
                outcome.set(std::move(r));
            }
        }));
    int result = 0;
    bool cancelled = false;
    try {
        result = co_await outcome;
    } catch (const CancelledError&) {
        cancelled = true;
    }
    if (cancelled) {
        interrupt_modem_wait(loop(), wait);
        throw CancelledError();
    }
    if (result == ECANCELED) {
        throw Error(closed_error(), "wait_modem_change on " + path_ + ": the port was closed");
    }
    if (result == ENOTTY || result == EINVAL) {
        throw Error(make_error_code(errc::not_supported),
                    "wait_modem_change on " + path_ + ": not supported by this device");
    }
    if (result != 0) {
        throw Error(io_error(result), "wait_modem_change on " + path_ + ": " +
                                          uv_strerror(uv_translate_sys_error(result)));
    }
    require_open("wait_modem_change");
    co_return read_modem_status(fd_, path_);
}

void PosixSerialTransport::send_break(std::chrono::milliseconds duration, SerialCallback done) {
    auto report = [this, &done](std::error_code error) { report_soon(loop(), done, error); };
    if (state() != State::open) {
        report(closed_error());
        return;
    }
    if (in_break_) {
        report(make_error_code(errc::invalid_argument));
        return;
    }
    try {
        detail::set_break(fd_, path_, true);
    } catch (const Error& e) {
        report(e.code());
        return;
    }
    in_break_ = true;
    break_done_ = std::move(done);
    update_poll(); // no writable interest while the line is held in break
    // Counted from now, not from the loop's cached time, and rounded up past the current
    // millisecond (as Loop::call_later): a break is never shorter than asked.
    uv_update_time(detail::LoopAccess::native(loop()));
    uv_timer_start(
        &break_timer_,
        [](uv_timer_t* timer) { transport_of(reinterpret_cast<uv_handle_t*>(timer)).end_break(); },
        static_cast<std::uint64_t>(std::max<std::int64_t>(0, duration.count())) + 1, 0);
}

void PosixSerialTransport::set_break(bool on) {
    require_open("set_break");
    if (on == in_break_) {
        return;
    }
    if (on) {
        detail::set_break(fd_, path_, true);
        in_break_ = true;
        update_poll(); // writes wait for the end of the break
        return;
    }
    uv_timer_stop(&break_timer_); // a timed break ends now
    end_break();
}

void PosixSerialTransport::end_break() {
    std::error_code error;
    try {
        detail::set_break(fd_, path_, false);
    } catch (const Error& e) {
        error = e.code();
    }
    in_break_ = false;
    if (SerialCallback done = std::move(break_done_)) {
        detail::invoke_guarded(loop(), "exception in send_break callback", [&] { done(error); });
    }
    if (state() == State::open || state() == State::closing) {
        send_from_queue(); // what was written during the break
    }
}

void PosixSerialTransport::purge(Purge which) {
    require_open("purge");
    if (which != Purge::input) {
        queue().clear();
    }
    purge_device(fd_, path_, which);
    if (which != Purge::input) {
        send_from_queue(); // nothing to send: settles water marks, drains, a pending close
    }
}

std::size_t PosixSerialTransport::input_waiting() const {
    require_open("input_waiting");
    return device_input_waiting(fd_, path_);
}

std::size_t PosixSerialTransport::output_waiting() const {
    require_open("output_waiting");
    return device_output_waiting(fd_, path_);
}

// ---- drain_to_wire ---------------------------------------------------------------------

void PosixSerialTransport::drain_to_wire(SerialCallback done) {
    if (state() != State::open) {
        loop().call_soon([done = std::move(done)] {
            if (done) {
                done(closed_error());
            }
        });
        return;
    }
    drain_waiters_.push_back(std::move(done));
    if (!drain_timer_running_) {
        // Checked from a zero timer, not here: a callback never runs inside drain_to_wire().
        start_drain_timer(0);
    }
}

void PosixSerialTransport::start_drain_timer(std::uint64_t delay_ms) {
    drain_timer_running_ = true;
    uv_timer_start(
        &drain_timer_,
        [](uv_timer_t* timer) {
            auto& self = transport_of(reinterpret_cast<uv_handle_t*>(timer));
            self.drain_timer_running_ = false;
            self.check_drain();
        },
        delay_ms, 0);
}

void PosixSerialTransport::check_drain() {
    if (drain_waiters_.empty() || drain_timer_running_ || state() != State::open) {
        return;
    }
    if (!queue().empty()) {
        return; // queue_drained() calls again once the queue is empty
    }
    std::size_t in_os = 0;
    int pending = 0;
    if (ioctl(fd_, TIOCOUTQ, &pending) == 0 && pending > 0) {
        in_os = static_cast<std::size_t>(pending);
    }
    std::uint64_t wait_ms = 0;
    if (in_os > 0) {
        wait_ms = wire_time_ms(in_os, options_); // when the queue should be empty
    } else if (sent_since_drain_ && !drain_tail_waited_) {
        // The queue is empty but the last character may still be in the shift register.
        drain_tail_waited_ = true;
        wait_ms = wire_time_ms(1, options_);
    }
    if (wait_ms > 0) {
        start_drain_timer(wait_ms);
        return;
    }
    sent_since_drain_ = false;
    drain_tail_waited_ = false;
    finish_drains({});
}

void PosixSerialTransport::finish_drains(std::error_code error) {
    detail::finish_drains(loop(), drain_waiters_, error);
}

// ---- closing ---------------------------------------------------------------------------

bool PosixSerialTransport::linger_until_read() noexcept {
    // close() on a pty: the kernel would discard what the program on the terminal end has not
    // read yet, so wait (bounded) for it to read. Nothing tells the device end when that
    // happens, hence the timer, backing off from 1 ms to 50 ms; abort() ends the wait. A write
    // reaches the terminal's queue through the kernel's flip buffer, pushed by a work item
    // shortly after, so an empty queue right after a write proves nothing: the first
    // pty_flip_push_ms are waited in any case.
    // Restoring the previous settings waits the same way for the OS transmit queue to empty:
    // the tail would otherwise go out at the restored rate.
    if ((!companion_ && !previous_settings_) || !closing_after_flush()) {
        return false;
    }
    const std::uint64_t now = uv_now(LoopAccess::native(loop()));
    if (linger_deadline_ == 0) {
        linger_deadline_ = now + pty_close_wait_ms;
        linger_settled_at_ = wrote_ && companion_ ? now + pty_flip_push_ms : now;
    }
    const std::size_t unread = companion_ ? companion_->unread_by_peer() : 0;
    int unsent = 0;
    if (previous_settings_ && (ioctl(fd_, TIOCOUTQ, &unsent) != 0 || unsent < 0)) {
        unsent = 0; // the device is gone: nothing more will leave
    }
    if (unread == 0 && unsent == 0 && now >= linger_settled_at_) {
        return false;
    }
    if (now >= linger_deadline_) {
        log().warn("{}: closing with {} bytes {} within {} ms", path_, unread + unsent,
                   unread > 0 ? "the program on it did not read" : "not yet sent",
                   pty_close_wait_ms);
        return false;
    }
    uv_timer_start(
        &drain_timer_,
        [](uv_timer_t* timer) {
            transport_of(reinterpret_cast<uv_handle_t*>(timer)).check_linger();
        },
        linger_step_ms_, 0);
    linger_step_ms_ = std::min<std::uint64_t>(linger_step_ms_ * 2, 50);
    lingering_ = true;
    return true;
}

void PosixSerialTransport::stop_lingering() noexcept {
    if (lingering_) {
        uv_timer_stop(&drain_timer_);
        close_handles_now();
    }
}

void PosixSerialTransport::check_linger() noexcept {
    if (!linger_until_read()) {
        close_handles_now();
    }
}

void PosixSerialTransport::close_handles() noexcept {
    if (linger_until_read()) {
        return; // check_linger() closes them
    }
    close_handles_now();
}

void PosixSerialTransport::close_handles_now() noexcept {
    lingering_ = false;
    if (previous_settings_ && fd_ >= 0) {
        restore_previous_settings(fd_, *previous_settings_);
        previous_settings_.reset();
    }
    if (in_break_) {
        ioctl(fd_, TIOCCBRK); // never leave the line in break
        in_break_ = false;
    }
    for (const auto& wait : modem_waits_) {
        interrupt_modem_wait(loop(), wait);
    }
    for (auto* handle :
         {reinterpret_cast<uv_handle_t*>(&poll_), reinterpret_cast<uv_handle_t*>(&break_timer_),
          reinterpret_cast<uv_handle_t*>(&drain_timer_)}) {
        uv_close(handle, [](uv_handle_t* h) { transport_of(h).on_handle_closed(); });
    }
}

void PosixSerialTransport::on_handle_closed() noexcept {
    if (--open_handles_ > 0) {
        return;
    }
    if (modem_waits_.empty()) {
        release_descriptor(); // else the last modem-wait job releases it
    }
    const std::error_code lost = loss_reason() ? loss_reason() : closed_error();
    finish_drains(lost);
    if (SerialCallback done = std::move(break_done_)) {
        detail::invoke_guarded(loop(), "exception in send_break callback", [&] { done(lost); });
    }
    handles_closed(); // connection_lost; may free this object
}

void PosixSerialTransport::release_descriptor() noexcept {
    if (fd_ >= 0) {
        close_serial_device(fd_, options_.exclusive);
        fd_ = -1;
    }
    companion_.reset();
}

} // namespace ferry::detail
