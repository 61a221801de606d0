#pragma once
/// RFC 2217 (Telnet COM-PORT-OPTION): serial ports over TCP. The client is a SerialTransport
/// over a TCP connection (connect_rfc2217); the server side wraps an accepted connection and
/// answers its commands from an Rfc2217Port (serve_rfc2217). Both are transports over another
/// transport, on the shared transport core.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <ferry/loop.hpp>
#include <ferry/protocol.hpp>
#include <ferry/result.hpp>
#include <ferry/serial.hpp>
#include <ferry/task.hpp>
#include <ferry/tcp.hpp>
#include <ferry/transport.hpp>

namespace ferry {

// ---- client ------------------------------------------------------------------------------

/// Options for connect_rfc2217.
struct Rfc2217Options {
    // Not an aggregate (this constructor), on purpose: GCC 12 miscompiles aggregate
    // temporaries inside co_await expressions (members built in one place, a bitwise copy used,
    // both destroyed), and these options are passed to awaitable functions by value.
    Rfc2217Options() = default;
    /// The line settings sent when the connection opens (DTR and RTS only when not `leave`;
    /// discard_input_on_open sends PURGE-DATA). `exclusive`, `low_latency`, `rs485` and
    /// `hang_up_on_close` are the server's business and are not sent.
    SerialOptions serial{};
    /// How long the server may take to agree to COM-PORT-OPTION, and to answer each command.
    std::chrono::milliseconds command_timeout{3000};
    /// Strict (default): a command the server does not answer in time, or answers with
    /// another value than was asked, is an error (the connect fails; a *_confirmed call
    /// throws). Non-strict: it is logged once and the requested value is taken as applied —
    /// for servers that leave commands unanswered (ser2net on a device without modem lines).
    bool strict = true;
    /// The TCP connection's options (timeout, keepalive...).
    ConnectOptions tcp{};
};

/// A remote serial port: the SerialTransport API over RFC 2217. Loop thread only.
///
/// The SerialTransport calls (reconfigure, set_dtr, set_rts, purge, send_break) send their
/// command at once and return; commands are pipelined, never polled. options() holds what the
/// server confirmed. The *_confirmed awaitables complete when the server has answered, and
/// throw TimeoutError (strict mode) when it does not in command_timeout, or Error(not_supported)
/// when it applied something else. modem_status() is what the server last notified
/// (NOTIFY-MODEMSTATE). input_waiting() is always 0 (RFC 2217 cannot ask); output_waiting() is
/// what waits in the TCP connection; drain_to_wire() completes once everything written has
/// been handed to the network and the server has answered a query sent after it (it has
/// taken the bytes; RFC 2217 has no way to ask whether its UART has sent them).
class Rfc2217Transport : public SerialTransport {
public:
    /// Applies `options` and yields what the server applied.
    virtual Task<SerialOptions> reconfigure_confirmed(SerialOptions options) = 0;
    /// Sets or clears DTR and waits for the answer.
    virtual Task<void> set_dtr_confirmed(bool on) = 0;
    /// Sets or clears RTS and waits for the answer.
    virtual Task<void> set_rts_confirmed(bool on) = 0;
    /// Purges the server's buffers (and, for output, this transport's queue); waits.
    virtual Task<void> purge_confirmed(Purge which) = 0;
    /// The server's signature (its answer to SIGNATURE), empty until it has answered.
    virtual const std::string& server_signature() const noexcept = 0;
    /// True while the server has asked this client to hold its data (FLOWCONTROL-SUSPEND).
    virtual bool suspended_by_server() const noexcept = 0;

protected:
    using SerialTransport::SerialTransport;
};

/// Receives a connected RFC 2217 port, or the error that prevented it.
using Rfc2217Callback = std::function<void(Result<std::shared_ptr<Rfc2217Transport>>)>;

/// Connects to an RFC 2217 server at host:port, negotiates BINARY, SUPPRESS-GO-AHEAD and
/// COM-PORT-OPTION, sends the settings and (strict mode) waits for every answer, then calls
/// the factory and connection_made and `done`. Fails with a message naming host:port and the
/// step: the connection, "did not agree to COM-PORT-OPTION", "did not answer SET-BAUDRATE
/// within 3000 ms", "applied 9600 baud instead of 115200", or what the server said before
/// closing ("port already in use").
void connect_rfc2217(Loop& loop, ProtocolFactory factory, std::string host, std::uint16_t port,
                     Rfc2217Options options, Rfc2217Callback done);
/// Awaitable connect_rfc2217; throws ferry::Error. Cancellable.
Task<std::shared_ptr<Rfc2217Transport>> connect_rfc2217(Loop& loop, ProtocolFactory factory,
                                                        std::string host, std::uint16_t port,
                                                        Rfc2217Options options = {});

// ---- server ------------------------------------------------------------------------------

/// The serial port an RFC 2217 server exposes: what its clients' commands do. Implemented by
/// the owner (the bridge's SerialComPort drives a SerialTransport); called on the loop thread,
/// synchronously, so each answer carries the value actually applied.
class Rfc2217Port {
public:
    virtual ~Rfc2217Port() = default;
    /// Applies `requested` and returns the settings in effect afterwards (a device that refuses
    /// a value keeps its previous one; a port with no device yet keeps them for later).
    virtual SerialOptions apply(const SerialOptions& requested) = 0;
    /// The settings in effect.
    virtual SerialOptions settings() const = 0;
    /// Sets DTR; a device without modem lines records the state asked for.
    virtual void set_dtr(bool on) = 0;
    /// Sets RTS; as set_dtr.
    virtual void set_rts(bool on) = 0;
    /// DTR as set.
    virtual bool dtr() const = 0;
    /// RTS as set.
    virtual bool rts() const = 0;
    /// Starts or ends a break.
    virtual void set_break(bool on) = 0;
    /// True while a break is held.
    virtual bool break_on() const = 0;
    /// Discards buffered input, output or both.
    virtual void purge(Purge which) = 0;
    /// The modem input lines now (all clear on a device without them).
    virtual ModemStatus modem_status() const = 0;
    /// The text answered to SIGNATURE.
    virtual std::string signature() const = 0;
};

/// The server end of one RFC 2217 connection, as a Transport carrying the port's data.
class Rfc2217ServerTransport : public Transport {
public:
    /// Tells the client the modem lines changed (NOTIFY-MODEMSTATE, filtered by its mask).
    virtual void notify_modem_status(const ModemStatus& status) = 0;
    /// True once the client agreed to COM-PORT-OPTION.
    virtual bool com_port_agreed() const noexcept = 0;

protected:
    using Transport::Transport;
};

/// Wraps `connection` (just accepted; its protocol is replaced) as an RFC 2217 server
/// connection: once the client negotiates, offers BINARY, SUPPRESS-GO-AHEAD and
/// COM-PORT-OPTION (a client that never does, such as nc, sees only the port's bytes, with
/// 0xFF doubled as telnet requires), answers commands 0-12
/// (the query forms too) from `port` in the same loop turn, sends NOTIFY-MODEMSTATE after
/// negotiation and on changes, honours FLOWCONTROL-SUSPEND/RESUME, and sends them itself when
/// its protocol pauses and resumes reading. The protocol from `factory` sees plain data;
/// connection_made has run on return.
std::shared_ptr<Rfc2217ServerTransport> serve_rfc2217(std::shared_ptr<Transport> connection,
                                                      std::shared_ptr<Rfc2217Port> port,
                                                      ProtocolFactory factory);

} // namespace ferry
