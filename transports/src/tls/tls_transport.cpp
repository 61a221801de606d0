// The TLS transport: a layer over any transport (the RFC 2217 client's model) driving a
// TlsSession: ciphertext from the lower transport goes into the session, records it makes go
// down again in the order they were made, plain bytes go up to the protocol.
#include <utility>

#include <ferry/error.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/serial.hpp>

#include "core/layered_transport.hpp"
#include "tls/tls_session.hpp"
#include "tls/tls_wrapping.hpp"

namespace ferry {
namespace {

/// How log lines and errors name the other end.
std::string describe_peer(Transport& transport) {
    if (const auto address = transport.peername(); address && !address->to_string().empty()) {
        return address->to_string();
    }
    if (const auto* serial = dynamic_cast<SerialTransport*>(&transport)) {
        return serial->path();
    }
    return "the peer";
}

class TlsLayer final : public detail::LayeredTransport<TlsTransport>, private detail::TlsSink {
public:
    TlsLayer(std::shared_ptr<Transport> lower, std::shared_ptr<TlsContext> context,
             TlsStartOptions options)
        : LayeredTransport(std::move(lower)), context_(std::move(context)),
          options_(std::move(options)), peer_(describe_peer(LayeredTransport::lower())),
          session_(*context_, options_.server_hostname, peer_) {}

    /// Takes the lower transport over and starts the handshake.
    void begin(const std::shared_ptr<TlsLayer>& self, ProtocolFactory factory, TlsCallback done) {
        adopt(self);
        factory_ = std::move(factory);
        done_ = std::move(done);
        std::unique_ptr<Protocol> previous = attach();
        if (!factory_) {
            kept_ = std::move(previous); // STARTTLS keeping its protocol
        } else if (previous) {
            // It may be the caller (start_tls from its data_received): destroyed later.
            loop().call_soon([gone = std::shared_ptr<Protocol>(std::move(previous))] {});
        }
        set_reading_for_layer(true); // handshake records are read before the protocol starts
        std::weak_ptr<Transport> weak = self;
        handshake_timer_ = loop().call_later(options_.handshake_timeout, [weak, this] {
            if (weak.lock()) {
                fail_handshake(make_error_code(errc::connect_timeout),
                               "did not complete within " +
                                   std::to_string(options_.handshake_timeout.count()) + " ms");
            }
        });
        session_.start(*this);
    }

    // ---- Transport ----

    bool can_write_eof() const noexcept override { return false; }

    // ---- TlsTransport ----

    std::optional<TlsCertificate> peer_certificate() const override {
        return session_.peer_certificate();
    }
    std::string cipher() const override { return session_.cipher(); }
    std::string tls_version() const override { return session_.version(); }
    std::string alpn_protocol() const override { return session_.alpn_protocol(); }
    bool session_reused() const override { return session_.session_reused(); }
    std::string server_name() const override { return session_.server_name(); }
    Transport& lower_transport() noexcept override { return lower(); }

protected:
    std::string log_name() const override { return "TLS " + peer_; }

private:
    // ---- the session's events ----

    void tls_send(ByteView records) override { send_control(records); }

    void tls_handshake_done() override {
        handshake_ended_ = true;
        handshake_timer_.cancel();
        log().debug("TLS with {}: {} {}{}{}", peer_, session_.version(), session_.cipher(),
                    session_.session_reused() ? ", resumed" : "",
                    session_.alpn_protocol().empty() ? "" : ", ALPN " + session_.alpn_protocol());
        std::unique_ptr<Protocol> protocol = std::move(kept_);
        auto done = std::move(done_);
        if (!protocol) {
            try {
                protocol = detail::make_protocol(factory_);
            } catch (...) {
                discard();
                if (done) {
                    done(std::current_exception());
                }
                return;
            }
        }
        set_reading_for_layer(false);
        auto self = std::static_pointer_cast<TlsTransport>(shared_from_this());
        start(std::move(protocol));
        if (done) {
            detail::invoke_guarded(loop(), "exception in start_tls callback", [&] { done(self); });
        }
    }

    void tls_plain(ByteView plain) override { deliver_plain(plain); }

    void tls_peer_closed() override {
        if (awaiting_receipt()) {
            receipt_arrived();
        } else {
            deliver_eof();
        }
    }

    void tls_failed(std::error_code code, const std::string& reason) override {
        if (session_.handshaking()) {
            fail_handshake(code, reason);
            return;
        }
        log().debug("TLS with {}: {}", peer_, reason);
        end_after_pending(code);
    }

    // Closing too: a close_notify that arrives while close() flushes must be seen, or close
    // would wait out the shutdown timeout for it (what comes meanwhile is not delivered).
    bool tls_wants_plain() const override { return state() != State::closed; }

    // ---- the handshake ----

    void fail_handshake(std::error_code code, const std::string& reason) noexcept {
        if (handshake_ended_) {
            return;
        }
        handshake_ended_ = true;
        handshake_timer_.cancel();
        const std::string message = "TLS handshake with " + peer_ + " failed: " + reason;
        log().debug("{}", message);
        auto done = std::move(done_);
        if (kept_) {
            // It saw connection_made from the lower transport: it is owed its connection_lost.
            loop().call_soon([protocol = std::shared_ptr<Protocol>(std::move(kept_)), code] {
                protocol->connection_lost(code);
            });
        }
        alert_pending_ = !lower_gone(); // the alert OpenSSL wrote goes out before closing
        discard();
        if (done) {
            done(std::make_exception_ptr(Error(code, message)));
        }
    }

    void lower_lost_before_start(std::error_code error) override {
        fail_handshake(error ? error : make_error_code(errc::tls_handshake_failed),
                       error ? "the connection was lost: " + error.message()
                             : "the peer closed the connection");
    }

    bool flushes_lower_when_discarded() const noexcept override { return alert_pending_; }

    // ---- reading ----

    void lower_data(ByteView data) override { session_.feed(data, *this); }

    /// The peer's close_notify closes the connection, as in asyncio: TLS here has no
    /// half-close (can_write_eof() is false), so a half-open connection could never end.
    bool stays_half_open() const noexcept override { return false; }

    bool lower_eof_passes_up() noexcept override {
        if (session_.handshaking()) {
            fail_handshake(make_error_code(errc::tls_handshake_failed),
                           "the peer closed the connection during the handshake");
            return false;
        }
        if (session_.peer_closed()) {
            return false; // eof_received came with close_notify
        }
        if (session_.has_partial_record()) {
            log().debug("TLS with {}: the connection ended in the middle of a record", peer_);
            end_after_pending(make_error_code(errc::tls_truncated));
            return false;
        }
        // Ended between records without close_notify: many peers do (a process that exits);
        // taken as end of data, as Python's ssl does with suppress_ragged_eofs.
        log().debug("TLS with {}: ended without close_notify", peer_);
        return true;
    }

    // ---- writing and closing ----

    void encode(ByteView plain, Bytes& out) override { session_.encrypt(plain, out); }

    std::chrono::milliseconds ask_for_receipt() noexcept override {
        if (session_.shut_down(*this)) {
            return std::chrono::milliseconds{0};
        }
        return options_.shutdown_timeout;
    }

    std::shared_ptr<TlsContext> context_;
    TlsStartOptions options_;
    std::string peer_;
    detail::TlsSession session_;
    ProtocolFactory factory_;
    TlsCallback done_;
    std::unique_ptr<Protocol> kept_; // STARTTLS: the protocol that carries on over TLS
    CallbackHandle handshake_timer_;
    bool handshake_ended_ = false; // completed, failed or timed out
    bool alert_pending_ = false;
};

/// Holds a new connection until TLS takes it over: reads nothing.
class Holding final : public Protocol {
    void connection_made(Transport& transport) override { transport.pause_reading(); }
};

/// An accepted connection's first protocol on a TLS server: starts TLS on it.
class Accepting final : public Protocol {
public:
    Accepting(std::shared_ptr<TlsContext> context, TlsStartOptions options, ProtocolFactory factory)
        : context_(std::move(context)), options_(std::move(options)), factory_(std::move(factory)) {
    }

    void connection_made(Transport& transport) override {
        start_tls(transport.shared_from_this(), context_, options_, factory_,
                  [peer = describe_peer(transport)](Result<std::shared_ptr<TlsTransport>> result) {
                      if (!result.ok()) {
                          // The message names the peer already: keep just the reason.
                          std::string reason = result.message();
                          const std::size_t at = reason.find(" failed: ");
                          reason = at == std::string::npos ? reason : reason.substr(at + 9);
                          log().warn("TLS server: refused {}: {}", peer, reason);
                      }
                  });
    }

private:
    std::shared_ptr<TlsContext> context_;
    TlsStartOptions options_;
    ProtocolFactory factory_;
};

} // namespace

void start_tls(std::shared_ptr<Transport> transport, std::shared_ptr<TlsContext> context,
               TlsStartOptions options, ProtocolFactory factory, TlsCallback done) {
    if (!transport || !context) {
        throw Error(make_error_code(errc::invalid_argument),
                    "start_tls needs a transport and a TLS context");
    }
    if (transport->is_closing()) {
        transport->loop().call_soon([done = std::move(done)] {
            done(std::make_exception_ptr(
                Error(make_error_code(errc::closed), "start_tls: the transport is closing")));
        });
        return;
    }
    auto layer =
        std::make_shared<TlsLayer>(std::move(transport), std::move(context), std::move(options));
    layer->begin(layer, std::move(factory), std::move(done));
}

Task<std::shared_ptr<TlsTransport>> start_tls(std::shared_ptr<Transport> transport,
                                              std::shared_ptr<TlsContext> context,
                                              TlsStartOptions options, ProtocolFactory factory) {
    Future<std::shared_ptr<TlsTransport>> result(transport->loop());
    const std::weak_ptr<Transport> lower = transport;
    start_tls(std::move(transport), std::move(context), std::move(options), std::move(factory),
              settle(result, [](auto& tls) { tls->abort(); }));
    std::exception_ptr cancelled;
    try {
        co_return co_await result;
    } catch (const CancelledError&) {
        cancelled = std::current_exception();
    }
    // Abandoned mid-handshake (as asyncio's start_tls): the connection goes at once.
    if (const auto connection = lower.lock()) {
        connection->abort();
    }
    std::rethrow_exception(cancelled);
}

namespace detail {
namespace {

TlsConnectSteps tls_connect_steps(const std::string& host, const ConnectOptions& options,
                                  ProtocolFactory factory, TransportCallback done) {
    TlsStartOptions start = options.tls_options;
    if (start.server_hostname.empty()) {
        start.server_hostname = host;
    }
    TlsConnectSteps steps;
    steps.holding = [] { return std::make_unique<Holding>(); };
    steps.connected = [context = options.tls, start = std::move(start),
                       factory = std::move(factory),
                       done = std::move(done)](Result<std::shared_ptr<Transport>> connection) {
        if (!connection.ok()) {
            done(connection.error());
            return;
        }
        try {
            start_tls(std::move(connection).value(), context, start, factory,
                      [done](Result<std::shared_ptr<TlsTransport>> tls) {
                          if (tls.ok()) {
                              done(std::shared_ptr<Transport>(std::move(tls).value()));
                          } else {
                              done(tls.error());
                          }
                      });
        } catch (const Error&) {
            done(std::current_exception());
        }
    };
    return steps;
}

ProtocolFactory tls_accepting_factory(const ServerOptions& options, ProtocolFactory factory) {
    return [context = options.tls, start = options.tls_options, factory = std::move(factory)] {
        return std::make_unique<Accepting>(context, start, factory);
    };
}

} // namespace

const TlsWrapping openssl_tls_wrapping{&tls_connect_steps, &tls_accepting_factory};

} // namespace detail
} // namespace ferry
