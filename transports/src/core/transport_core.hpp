#pragma once
// TransportCore: the Transport/Protocol contract, written once for every transport. Private to
// ferry::transports. docs/design.md ("The transport core") says how a transport plugs in.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>

#include <ferry/detail/loop_access.hpp>
#include <ferry/transport.hpp>

#include "core/write_queue.hpp"

namespace ferry::detail {

/// Calls `factory`; throws ferry::Error(invalid_argument) when it returns null.
std::unique_ptr<Protocol> make_protocol(const ProtocolFactory& factory);

/// Which ways bytes may flow through a transport (a pipe may be read-only or write-only).
enum class TransportDirection : std::uint8_t { both, read_only, write_only };

/// The state machine (idle, open, closing, closed), the self-reference released last, the
/// close / abort / fail ordering, connection_lost scheduled once and last, delivery to a
/// Protocol or BufferedProtocol (with the trace-level hex dump), EOF and half-close, refused
/// writes, and the write queue with coalescing, gathering and water marks. `Interface` is the
/// public type the transport implements (Transport, SerialTransport).
///
/// A transport derives from it and supplies only its OS calls (the virtuals below): an
/// immediate write, how to send what is queued (readiness: arm "writable" and call
/// send_from_queue() when it comes; completion: hand gather() to the OS, begin_flight(), and
/// call send_completed() when it finishes), start/stop reading (and call read_space() and
/// delivered() or os_eof() as data arrives), the half-close, and closing its handles (then
/// handles_closed()). It must never call the protocol itself, never close its handles except
/// from close_handles(), and never report connection_lost. Loop thread only.
template <class Interface>
class TransportCore : public Interface, public LoopResource {
public:
    void write(ByteView data) final;
    void writelines(std::span<const ByteView> parts) final;
    void write_eof() final;
    std::size_t write_buffer_size() const noexcept final { return queue_.bytes(); }
    void close() noexcept final;
    void abort() noexcept final;
    using Transport::abort;
    bool is_closing() const noexcept final { return state_ != State::open; }
    void pause_reading() final;
    void resume_reading() final;
    bool is_reading() const noexcept final { return reading_; }
    void close_for_loop_shutdown() noexcept final { abort(); }

protected:
    /// Where a transport is in its life.
    // One byte each: with the flags below they fill one word (memory per connection).
    enum class State : std::uint8_t { idle, open, closing, closed };
    using Direction = TransportDirection;

    explicit TransportCore(Loop& loop) : Interface(loop) {}

    /// Holds `self` until handles_closed() (the loop owns an open transport) and registers
    /// with the loop so that closing the loop closes it. Called once, by the factory.
    void adopt(std::shared_ptr<TransportCore> self) noexcept;
    /// The connection is up: attaches the protocol, calls connection_made, starts reading
    /// unless the protocol paused it (or the direction is write-only). Returns false when
    /// connection_made threw (the transport is then closing).
    bool start(std::unique_ptr<Protocol> protocol, Direction direction = Direction::both);
    /// Closes a transport that never started; no protocol callback is made.
    void discard() noexcept;
    /// The current state.
    State state() const noexcept { return state_; }
    /// Which ways bytes flow, as given to start().
    Direction direction() const noexcept { return direction_; }
    /// A name for log lines (a device path), or empty.
    virtual std::string log_name() const { return {}; }

    // --- what the backend calls ---

    /// Memory for the next read: the loop's read buffer (all 256 KiB of it: an unused tail
    /// costs nothing, and one large read saves the system calls of several small ones, for
    /// the read and for the protocol's echo of it), or the BufferedProtocol's (get_buffer,
    /// asked for read_size() bytes). Never fails synchronously: if get_buffer throws or
    /// returns nothing, the error is reported, scratch memory is returned and the next
    /// delivered() ends the connection.
    std::span<std::byte> read_space() noexcept {
        if (this->buffered_protocol() == nullptr) {
            const std::span<std::byte> space = LoopAccess::read_buffer(this->loop());
            read_at_ = space.data();
            return space;
        }
        return buffered_read_space(read_size());
    }
    /// `n` bytes arrived at the start of the last read_space(): hands them to the protocol.
    void delivered(std::size_t n) noexcept {
        if (get_buffer_failed_ || n == 0 || state_ != State::open || !reading_) {
            // A late report after close() or pause_reading() delivers nothing; a failed
            // get_buffer ends the connection.
            if (get_buffer_failed_) {
                end_after_failed_get_buffer();
            }
            return;
        }
        deliver(n);
    }
    /// `data`, read into the backend's own memory (a datagram must be read whole, whatever
    /// a BufferedProtocol's buffer holds): hands it to the protocol, to a BufferedProtocol
    /// through get_buffer / buffer_updated in as many pieces as its buffers need.
    void delivered_copy(ByteView data) noexcept;
    /// What the next read asks a BufferedProtocol for: 4 KiB to 256 KiB, adapted to what
    /// reads bring.
    std::size_t read_size() const noexcept { return min_read_size << (2 * read_level_); }
    /// The smallest and largest read_size().
    static constexpr std::size_t min_read_size = 4 * 1024;
    static constexpr std::size_t max_read_size = 256 * 1024;
    /// The OS reported end of data: eof_received, then close unless the protocol keeps the
    /// connection half-open.
    void os_eof() noexcept;
    /// The queued bytes.
    WriteQueue& queue() noexcept { return queue_; }
    /// Readiness backends, when the OS can take more: writes from the queue until it would
    /// block, then settles the queue's state (water marks, close, half-close).
    void send_from_queue() noexcept;
    /// Completion backends, when a write handed over finished: `n` bytes were taken, or
    /// `error` (a cancelled write is no error).
    void send_completed(std::size_t n, std::error_code error) noexcept;
    /// Every handle the backend owns is closed: reports connection_lost (once, last) and
    /// releases the self-reference.
    void handles_closed() noexcept;

    // --- what the backend supplies ---

    /// Writes what the OS takes now of `count` parts (at most WriteQueue::max_gather), without
    /// blocking; returns the bytes taken (0 if it would block), or -1 after calling fail().
    /// (No std::error_code here: this is the hottest path, and building one is a library call.)
    virtual std::ptrdiff_t write_now(const ByteView* parts, std::size_t count) noexcept = 0;
    /// Bytes are queued and nothing is in flight: arm "writable" (readiness) or hand a gather
    /// to the OS (completion).
    virtual void send_queued() noexcept = 0;
    /// Starts watching for data; false (after calling fail) if that failed.
    virtual bool start_reading() noexcept = 0;
    /// Stops watching for data.
    virtual void stop_reading() noexcept = 0;
    /// True when each write is a message of its own (a datagram): queued writes are never
    /// joined, and write_now gets whole ones. Default: a byte stream, joined.
    virtual bool keeps_write_boundaries() const noexcept { return false; }
    /// Closes the sending side (the queue has drained after write_eof). Default: nothing.
    virtual void shutdown_write() noexcept {}
    /// False when the connection cannot stay half-open after the peer's end of data (TLS, as
    /// asyncio's): it closes after eof_received whatever the protocol returned.
    virtual bool stays_half_open() const noexcept { return true; }
    /// Starts closing every handle; handles_closed() must follow, from a close callback.
    /// Called once.
    virtual void close_handles() noexcept = 0;
    /// The queue became empty (serial: drain_to_wire waiters, writable interest off).
    virtual void queue_drained() noexcept {}
    /// After connection_lost returned, before the self-reference goes (servers count clients).
    virtual void released() noexcept {}
    /// abort() or a failure came while close_handles() lingered (see closing_after_flush()):
    /// close the handles now. Default: nothing (no backend but a pty's lingers).
    virtual void stop_lingering() noexcept {}

    void fail(std::error_code error) noexcept final;
    /// What connection_lost reports (empty for a clean close).
    std::error_code loss_reason() const noexcept {
        return error_category_ != nullptr ? std::error_code(error_value_, *error_category_)
                                          : std::error_code();
    }
    /// True while closing because of close() (the queue was flushed), false once abort() or
    /// a failure cut it short: a backend may linger in close_handles() only while this holds.
    bool closing_after_flush() const noexcept { return closing_after_flush_; }

private:
    bool writable() const noexcept {
        return state_ == State::open && !eof_requested_ && direction_ != Direction::read_only;
    }
    bool readable() const noexcept {
        return state_ == State::open && !eof_received_ && direction_ != Direction::write_only;
    }
    void refuse_write(const char* what);
    void queue_and_send(std::span<const ByteView> parts);
    void queue_rest(std::span<const ByteView> parts, std::size_t taken);
    std::span<std::byte> buffered_read_space(std::size_t size_hint) noexcept;
    void end_after_failed_get_buffer() noexcept;
    void deliver(std::size_t n) noexcept;
    [[gnu::noinline]] void deliver_buffered(std::size_t n) noexcept;
    /// The trace-level hex dump of a receive.
    [[gnu::cold, gnu::noinline]] void trace_read(ByteView data) const;
    /// Netty's adaptive receive size, kept in two bytes: a read that filled the space grows
    /// the next one fourfold (4 -> 16 -> 64 -> 256 KiB); two reads in a row that would have
    /// fitted a quarter of it shrink it one step. It sizes the memory a BufferedProtocol
    /// provides (a few KiB for small messages, so a quiet connection holds little; large for
    /// bulk data, so one system call takes it all). data_received needs none of this: the
    /// loop's buffer is shared, so those reads always offer all of it.
    void adapt_read_size(std::size_t n) noexcept {
        if (n >= read_size()) {
            read_level_ = static_cast<std::uint8_t>(read_level_ + (read_level_ < max_read_level));
            small_reads_ = 0;
        } else if (read_level_ > 0 && n <= read_size() / 4 && ++small_reads_ == 2) {
            --read_level_;
            small_reads_ = 0;
        } else if (n > read_size() / 4) {
            small_reads_ = 0;
        }
    }
    static constexpr std::uint8_t max_read_level = 3; // min_read_size << 6 == max_read_size
    void settle_queue() noexcept;
    void begin_close() noexcept;

    WriteQueue queue_;
    std::shared_ptr<TransportCore> self_;
    // The state, the flags (bits), the read size's level and the error's value share one
    // word: an idle connection's memory is mostly this object (docs/benchmarks.md).
    State state_ = State::idle;
    Direction direction_ = Direction::both;
    bool started_ : 1 = false;           // connection_made was called: connection_lost is owed
    bool reading_ : 1 = false;           // the backend is watching for data
    bool read_paused_ : 1 = false;       // the protocol asked for pause_reading
    bool eof_received_ : 1 = false;      // the OS reported end of data
    bool eof_requested_ : 1 = false;     // write_eof: shut down once flushed
    bool closing_handles_ : 1 = false;   // close_handles() was called
    bool get_buffer_failed_ : 1 = false; // the last read_space() gave scratch memory
    bool refusal_logged_ : 1 = false;
    bool closing_after_flush_ : 1 = false; // close() was called and no abort or failure since
    std::uint8_t read_level_ : 2 = 1;      // read_size() is min_read_size << (2 * read_level_)
    std::uint8_t small_reads_ : 2 = 0;     // reads in a row that would have fitted a quarter of it
    int error_value_ = 0;                  // loss_reason(), in two parts
    const std::error_category* error_category_ = nullptr; // null: no error
    std::byte* read_at_ = nullptr;                        // where the last read_space() began
};

} // namespace ferry::detail
