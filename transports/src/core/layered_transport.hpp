#pragma once
// LayeredTransport: a transport over another transport (RFC 2217's client and server, TLS
// later). Private to ferry::transports; docs/design.md ("Wrapping transports") explains it.

#include <chrono>
#include <cstddef>
#include <memory>
#include <system_error>

#include <ferry/bytes.hpp>
#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>

#include "core/transport_core.hpp"

namespace ferry::detail {

/// What a layer puts on the transport below it as that transport's protocol: it lets whoever
/// holds only the lower transport (a server closing its clients) reach the layer on top.
class LayerBelow {
public:
    /// The started, not yet closed layer on top, or null (mid-handshake, detached, closed).
    virtual Transport* layer_above() noexcept = 0;

protected:
    ~LayerBelow() = default;
};

/// The layer on top of `transport` that its user holds (TLS over TCP: the TLS transport),
/// through any number of layers; `transport` itself when none has started on it.
Transport& topmost_layer(Transport& transport) noexcept;

/// The transport core's backend for a layer: the "OS" is a lower Transport. A readiness
/// backend: write_now() encodes and hands everything to the lower transport unless it is
/// full (its pause_writing) or the layer holds sending (may_send()); its resume_writing is
/// "writable". Lower input is decoded by the subclass (lower_data()), which hands plain bytes
/// to deliver_plain(); what arrives while the protocol is paused waits in a buffer bounded by
/// one lower read, and the lower transport is paused. Closing closes the lower transport
/// (flushing it after close(), dropping after abort()); its connection_lost is this layer's
/// handles_closed(). Before a close() closes the lower transport, the layer may ask the peer
/// for a receipt (ask_for_receipt()): closing a socket while the peer still sends (a telnet
/// answer crossing our close) makes our kernel reset the connection, and a reset discards
/// what was not read or sent yet. Loop thread only.
template <class Interface>
class LayeredTransport : public TransportCore<Interface> {
public:
    NativeHandle native_handle() const noexcept override;
    std::optional<SocketAddress> peername() const override { return lower_->peername(); }
    std::optional<SocketAddress> sockname() const override { return lower_->sockname(); }

protected:
    using State = typename TransportCore<Interface>::State;

    explicit LayeredTransport(std::shared_ptr<Transport> lower);
    ~LayeredTransport() override;

    /// Takes over the lower transport (its protocol becomes this layer's receiver) and starts
    /// reading it: a layer negotiates before its own protocol starts. Called once, after
    /// adopt(). Returns the lower transport's protocol until now, which may be the caller
    /// (start_tls from inside data_received): destroy it later, or adopt it.
    std::unique_ptr<Protocol> attach();
    /// The transport underneath.
    Transport& lower() noexcept { return *lower_; }
    /// True once the lower transport reported connection_lost.
    bool lower_gone() const noexcept { return lower_gone_; }
    /// True once the lower transport reported end of data.
    bool lower_ended() const noexcept { return lower_ended_; }

    // --- what the subclass supplies ---

    /// Bytes from the lower transport: decode, call deliver_plain() with the plain bytes.
    virtual void lower_data(ByteView data) = 0;
    /// Appends `plain` as it goes on the wire (escaped, encrypted) to `out`.
    virtual void encode(ByteView plain, Bytes& out) = 0;
    /// The lower transport ended before this layer started (a negotiation that failed).
    virtual void lower_lost_before_start(std::error_code error) = 0;
    /// The lower transport reported end of data: false when the layer deals with it itself
    /// (TLS: ends a handshake, or the connection through end_after_pending() when the peer
    /// left mid-record, or has passed its own EOF up already) instead of passing it up.
    virtual bool lower_eof_passes_up() noexcept { return true; }
    /// True when a layer that never started has last words on the way (TLS's alert saying
    /// why the handshake failed): closing it flushes the lower transport instead of aborting.
    virtual bool flushes_lower_when_discarded() const noexcept { return false; }
    /// False while the layer holds back plain data (RFC 2217's FLOWCONTROL-SUSPEND).
    virtual bool may_send() const noexcept { return true; }
    /// close() flushed everything: send what the peer answers once it has read all of it
    /// (telnet's DO TIMING-MARK) and return how long to wait for it, or zero to close at once.
    virtual std::chrono::milliseconds ask_for_receipt() noexcept {
        return std::chrono::milliseconds{0};
    }

    // --- what the subclass calls ---

    /// Hands decoded bytes to the protocol, in pieces the size of read_space(); keeps what
    /// arrives while the protocol is paused or not yet started.
    void deliver_plain(ByteView data);
    /// The layer's own end of data (TLS's close_notify): eof_received after what waits.
    void deliver_eof() noexcept;
    /// Ends the connection with `error` once what was decoded before it is delivered.
    void end_after_pending(std::error_code error) noexcept;
    /// Sends layer traffic (commands, handshakes) straight to the lower transport, ahead of
    /// queued plain data.
    void send_control(ByteView bytes);
    /// may_send() may have become true: sends what is queued.
    void sending_allowed() noexcept;
    /// The peer answered ask_for_receipt(): the lower transport closes now.
    void receipt_arrived() noexcept;
    /// True while a close() waits for the receipt.
    bool awaiting_receipt() const noexcept { return awaiting_receipt_; }
    /// Whether the lower transport should be read while the protocol has not started or is
    /// paused (a negotiation waits for answers). Default: only while started and reading.
    void set_reading_for_layer(bool on) noexcept;

    // --- the core's backend ---

    std::ptrdiff_t write_now(const ByteView* parts, std::size_t count) noexcept override;
    void send_queued() noexcept override;
    bool start_reading() noexcept override;
    void stop_reading() noexcept override;
    void shutdown_write() noexcept override;
    void close_handles() noexcept override;
    void stop_lingering() noexcept override;

private:
    class Receiver;
    friend class Receiver;
    void update_lower_reading() noexcept;
    void deliver_pending() noexcept;
    void on_lower_data(ByteView data) noexcept;
    void on_lower_eof() noexcept;
    void on_lower_lost(std::error_code error) noexcept;
    void on_lower_pause() noexcept { lower_full_ = true; }
    void on_lower_resume() noexcept;
    void close_lower_after_receipt() noexcept;
    /// Returns `taken` after releasing a bulk-sized encoding scratch.
    std::ptrdiff_t trimmed(std::ptrdiff_t taken) noexcept;

    std::shared_ptr<Transport> lower_;
    Receiver* receiver_ = nullptr; // owned by lower_ while it is attached
    Bytes pending_;                // plain bytes the protocol has not been given yet
    Bytes encoded_;                // scratch for write_now
    bool lower_full_ = false;
    bool lower_gone_ = false;
    bool layer_reading_ = false; // the layer itself needs lower input
    bool plain_reading_ = false; // the core asked for data
    bool eof_pending_ = false;   // lower EOF seen, reported after pending_
    bool delivery_scheduled_ = false;
    bool flush_scheduled_ = false;
    bool handles_closing_ = false;       // close_handles() was called
    bool lower_ended_ = false;           // the lower transport reported EOF
    bool in_lower_lost_ = false;         // on_lower_lost() is failing this layer
    bool awaiting_receipt_ = false;      // see ask_for_receipt()
    CallbackHandle receipt_timer_;       // closes anyway when the wait is over
    std::error_code lost_after_pending_; // the lower loss, reported once pending_ is delivered
};

} // namespace ferry::detail
