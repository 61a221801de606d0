#pragma once
/// Transport: the abstract byte stream every ferry connection (socket, pipe, serial) implements.

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <system_error>

#include <ferry/address.hpp>
#include <ferry/bytes.hpp>
#include <ferry/detail/loop_access.hpp>
#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>

namespace ferry {

/// The OS handle behind a transport: a file descriptor on POSIX, a HANDLE on Windows.
#ifdef _WIN32
using NativeHandle = void*;
#else
using NativeHandle = int;
#endif

/// Write-buffer water marks: pause_writing above high, resume_writing at or below low.
struct WriteBufferLimits {
    /// Above this many queued bytes the protocol is paused.
    std::size_t high = 64 * 1024;
    /// At or below this many queued bytes a paused protocol is resumed.
    std::size_t low = 16 * 1024;
};

/// The water marks asyncio's set_write_buffer_limits(high, low) sets: high defaults to 64 KiB
/// (4 * low when only low is given), low to high / 4. Throws ferry::Error(invalid_argument)
/// when low > high.
WriteBufferLimits make_write_buffer_limits(std::optional<std::size_t> high,
                                           std::optional<std::size_t> low);

/// A byte stream the loop owns while it is open. Loop thread only.
/// write() never blocks and never fails synchronously: errors arrive as connection_lost.
/// The transport owns its protocol and stays valid until connection_lost returns; users
/// hold std::shared_ptr<Transport>.
class Transport : public std::enable_shared_from_this<Transport> {
public:
    virtual ~Transport();
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    /// Sends bytes: tries the OS at once and copies only what it did not take. Never blocks.
    /// Ignored (with one debug log line) after close(), abort() or write_eof().
    virtual void write(ByteView data) = 0;
    /// Sends several buffers as one gathered write.
    virtual void writelines(std::span<const ByteView> parts);
    /// Closes the sending side once the queue is flushed (TCP shutdown); reading goes on.
    virtual void write_eof() = 0;
    /// True when write_eof() is supported.
    virtual bool can_write_eof() const noexcept = 0;
    /// Bytes queued and not yet handed to the OS.
    virtual std::size_t write_buffer_size() const noexcept = 0;
    /// Sets the water marks (asyncio semantics: low defaults to high / 4 when only high is
    /// given). Throws ferry::Error(invalid_argument) when low > high.
    void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                                 std::optional<std::size_t> low = std::nullopt);
    /// The current water marks.
    WriteBufferLimits write_buffer_limits() const noexcept { return limits_; }

    /// Flushes what is queued, then closes; connection_lost follows. Safe to call twice.
    virtual void close() noexcept = 0;
    /// Closes at once, dropping what is queued; connection_lost follows. Safe to call twice.
    virtual void abort() noexcept = 0;
    /// Closes at once, dropping what is queued, and hands `reason` to connection_lost: for a
    /// protocol that found the peer's input unusable (e.g. errc::frame_too_large).
    void abort(std::error_code reason) noexcept { fail(reason); }
    /// True once close() or abort() was called or the connection was lost.
    virtual bool is_closing() const noexcept = 0;

    /// Stops delivering data_received until resume_reading(). Idempotent.
    virtual void pause_reading() = 0;
    /// Delivers data again after pause_reading(). Idempotent.
    virtual void resume_reading() = 0;
    /// True while data is being delivered.
    virtual bool is_reading() const noexcept = 0;

    /// The protocol this transport feeds.
    Protocol& protocol() noexcept { return *protocol_; }
    /// The protocol, as its concrete type (throws std::bad_cast if it is not one).
    template <class P>
    P& protocol_as() {
        return dynamic_cast<P&>(*protocol_);
    }
    /// Switches to another protocol (it gets no connection_made); returns the old one.
    std::unique_ptr<Protocol> set_protocol(std::unique_ptr<Protocol> protocol);

    /// The remote address, for socket transports.
    virtual std::optional<SocketAddress> peername() const { return std::nullopt; }
    /// The local address, for socket transports.
    virtual std::optional<SocketAddress> sockname() const { return std::nullopt; }
    /// The OS handle (fd or HANDLE); -1 / null once closed.
    virtual NativeHandle native_handle() const noexcept = 0;
    /// The loop this transport runs on.
    Loop& loop() const noexcept { return *loop_; }

protected:
    /// A transport without a protocol yet; set_protocol() must be called before any event.
    explicit Transport(Loop& loop) : loop_(&loop) {}

    /// The protocol as a BufferedProtocol, or null.
    BufferedProtocol* buffered_protocol() const noexcept { return buffered_; }
    /// Calls pause_writing once when the buffer goes above the high mark.
    void maybe_pause_protocol();
    /// Calls resume_writing once when a paused buffer drains to the low mark.
    void maybe_resume_protocol();
    /// True between pause_writing and resume_writing.
    bool protocol_paused() const noexcept { return protocol_paused_; }
    /// Runs a protocol callback; if it throws, reports it to the loop's exception handler and
    /// calls fail(errc::callback_threw). Returns false when it threw.
    template <class Fn>
    bool call_protocol(const char* where, Fn&& fn) noexcept {
        if (detail::invoke_guarded(*loop_, where, std::forward<Fn>(fn))) {
            return true;
        }
        fail(make_error_code(errc::callback_threw));
        return false;
    }
    /// Closes at once because of `error`; connection_lost(error) follows.
    virtual void fail(std::error_code error) noexcept = 0;

private:
    Loop* loop_;
    std::unique_ptr<Protocol> protocol_;
    BufferedProtocol* buffered_ = nullptr;
    WriteBufferLimits limits_;
    bool protocol_paused_ = false;
};

} // namespace ferry
