#pragma once
/// The bridge: relays bytes both ways between two live transports (serial <-> TCP as ser2net
/// does, serial <-> serial, anything <-> anything) with end-to-end back-pressure.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include <ferry/task.hpp>
#include <ferry/transport.hpp>

namespace ferry {

/// Whether the bridge may stop reading a side when the other side cannot keep up.
enum class Pausing {
    /// Pause, unless the side is a serial port whose sender does not wait (no flow control,
    /// not a pty: SerialTransport::pauses_sender), where pausing would only move the loss into
    /// the UART's overrun, unseen.
    automatic,
    /// Pause: the sender waits (TCP's window, a pty's writer, a port with RTS/CTS).
    pause,
    /// Never pause: keep reading into a bounded buffer and drop (and count) what overflows.
    never,
};

/// How a bridge relays.
struct BridgeOptions {
    /// Each side's write-buffer high mark: above it, the other side's reading pauses...
    std::size_t high_water = 64 * 1024;
    /// ...until it drains to this.
    std::size_t low_water = 16 * 1024;
    /// The most bytes queued towards one side whose source cannot pause (bytes beyond it are
    /// dropped, counted and logged). Also the bound when both sides are full at once: then
    /// both keep reading until the two queues together hold twice this, because two peers
    /// that each stop reading while their own write to the bridge blocks (socat does) would
    /// otherwise wait on each other forever (docs/bridge.md, "Back-pressure").
    std::size_t max_buffer = 8 * 1024 * 1024;
    /// Side a's pausing.
    Pausing a_pausing = Pausing::automatic;
    /// Side b's pausing.
    Pausing b_pausing = Pausing::automatic;
    /// Names for log lines, e.g. "serial:/dev/ttyUSB0" and "127.0.0.1:50312".
    std::string a_name = "a";
    /// See a_name.
    std::string b_name = "b";
    /// Every chunk read from a side (`from_a` true: side a), for traces.
    std::function<void(bool from_a, ByteView bytes)> traffic;
};

/// Bytes relayed one way.
struct BridgeFlow {
    /// Bytes read from the source.
    std::uint64_t bytes_read = 0;
    /// Bytes handed to the destination's transport.
    std::uint64_t bytes_written = 0;
    /// Bytes dropped: the destination's buffer was at max_buffer, or it had closed.
    std::uint64_t bytes_dropped = 0;
    /// Times the source was paused because the destination was full.
    std::uint64_t pauses = 0;
};

/// What a bridge has done so far.
struct BridgeStats {
    /// Side a to side b.
    BridgeFlow a_to_b;
    /// Side b to side a.
    BridgeFlow b_to_a;
};

/// Two transports joined (see bridge()). Loop thread only. The bridge keeps both transports
/// until both have closed; the handle may be dropped at any time without ending it.
class Bridge {
public:
    virtual ~Bridge() = default;
    /// Counters both ways.
    virtual BridgeStats stats() const noexcept = 0;
    /// Flushes what each side has queued, then closes both. Safe to call twice.
    virtual void close() noexcept = 0;
    /// Closes both at once, dropping what is queued.
    virtual void abort() noexcept = 0;
    /// True until both sides have closed.
    virtual bool is_open() const noexcept = 0;
    /// Side a. Only while is_open(): once both sides have closed the bridge lets go of them.
    virtual Transport& a() noexcept = 0;
    /// Side b (only while is_open()).
    virtual Transport& b() noexcept = 0;
    /// Calls `callback` once both sides have closed, with the first error that ended either
    /// (empty when both ended cleanly); on the next iteration if that has already happened.
    virtual void on_closed(std::function<void(std::error_code)> callback) = 0;
    /// Awaits the end; returns the error on_closed would give.
    virtual Task<std::error_code> wait_closed() = 0;
};

/// Joins two open transports: what one receives, the other writes. Their protocols are
/// replaced by the bridge's (the old ones get no more callbacks). Back-pressure end to end:
/// when one side's write buffer passes high_water, reading from the other pauses until it
/// drains to low_water. The end of one side's input becomes write_eof() on the other where
/// that exists, else the other side is closed once its queue is flushed; when one side is
/// lost, the other is closed (flushed). Throws ferry::Error(invalid_argument) if either
/// transport is already closing or both are the same.
std::shared_ptr<Bridge> bridge(std::shared_ptr<Transport> a, std::shared_ptr<Transport> b,
                               BridgeOptions options = {});

} // namespace ferry
