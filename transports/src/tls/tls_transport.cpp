// The TLS transport: OpenSSL over memory BIOs, as a layer over any transport (the RFC 2217
// client's model). Ciphertext from the lower transport goes into the input BIO; what OpenSSL
// writes to the output BIO goes down again, in the order it was made.
#include <array>
#include <utility>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ferry/error.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/serial.hpp>

#include "core/layered_transport.hpp"
#include "tls/tls_openssl.hpp"
#include "tls/tls_wrapping.hpp"

namespace ferry {
namespace {

/// The most plain bytes one TLS record carries: SSL_read never returns more.
constexpr std::size_t max_record_plain = 16 * 1024;

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

/// True when `name` is a numeric IPv4 or IPv6 address (no SNI for those, RFC 6066).
bool is_ip_address(const std::string& name) {
    ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(name.c_str());
    ASN1_OCTET_STRING_free(parsed);
    return parsed != nullptr;
}

/// An X509 name on one line, RFC 2253 style.
std::string name_line(const X509_NAME* name) {
    BIO* out = BIO_new(BIO_s_mem());
    if (out == nullptr) {
        throw std::bad_alloc();
    }
    X509_NAME_print_ex(out, name, 0, XN_FLAG_RFC2253);
    char* text = nullptr;
    const long length = BIO_get_mem_data(out, &text);
    std::string line(text, static_cast<std::size_t>(length));
    BIO_free(out);
    return line;
}

std::string time_line(const ASN1_TIME* time) {
    BIO* out = BIO_new(BIO_s_mem());
    if (out == nullptr) {
        throw std::bad_alloc();
    }
    ASN1_TIME_print(out, time);
    char* text = nullptr;
    const long length = BIO_get_mem_data(out, &text);
    std::string line(text, static_cast<std::size_t>(length));
    BIO_free(out);
    return line;
}

class TlsLayer final : public detail::LayeredTransport<TlsTransport> {
public:
    TlsLayer(std::shared_ptr<Transport> lower, std::shared_ptr<TlsContext> context,
             TlsStartOptions options)
        : LayeredTransport(std::move(lower)), context_(std::move(context)),
          options_(std::move(options)), peer_(describe_peer(LayeredTransport::lower())) {
        ssl_ = SSL_new(context_->native_handle());
        BIO* in = BIO_new(BIO_s_mem());
        BIO* out = BIO_new(BIO_s_mem());
        if (ssl_ == nullptr || in == nullptr || out == nullptr) {
            BIO_free(in);
            BIO_free(out);
            SSL_free(ssl_);
            throw Error(make_error_code(errc::invalid_argument),
                        "TLS: cannot start a connection: " + detail::take_openssl_errors());
        }
        SSL_set_bio(ssl_, in, out); // the SSL owns both from here
        in_ = in;
        out_ = out;
        if (context_->is_server()) {
            SSL_set_accept_state(ssl_);
        } else {
            configure_client();
        }
    }

    ~TlsLayer() override { SSL_free(ssl_); }

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
        advance_handshake();
    }

    // ---- Transport ----

    bool can_write_eof() const noexcept override { return false; }

    // ---- TlsTransport ----

    std::optional<TlsCertificate> peer_certificate() const override {
        X509* certificate = SSL_get1_peer_certificate(ssl_);
        if (certificate == nullptr) {
            return std::nullopt;
        }
        TlsCertificate result;
        try {
            result.subject = name_line(X509_get_subject_name(certificate));
            result.issuer = name_line(X509_get_issuer_name(certificate));
            result.not_before = time_line(X509_get0_notBefore(certificate));
            result.not_after = time_line(X509_get0_notAfter(certificate));
            auto* names = static_cast<GENERAL_NAMES*>(
                X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
            for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
                const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
                if (name->type == GEN_DNS) {
                    const ASN1_STRING* dns = name->d.dNSName;
                    result.dns_names.emplace_back(
                        reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                        static_cast<std::size_t>(ASN1_STRING_length(dns)));
                }
            }
            GENERAL_NAMES_free(names);
            const int length = i2d_X509(certificate, nullptr);
            if (length > 0) {
                result.der.resize(static_cast<std::size_t>(length));
                auto* at = reinterpret_cast<unsigned char*>(result.der.data());
                i2d_X509(certificate, &at);
            }
        } catch (...) {
            X509_free(certificate);
            throw;
        }
        X509_free(certificate);
        return result;
    }

    std::string cipher() const override {
        const SSL_CIPHER* current = SSL_get_current_cipher(ssl_);
        return current != nullptr ? SSL_CIPHER_get_name(current) : "";
    }

    std::string tls_version() const override { return SSL_get_version(ssl_); }

    std::string alpn_protocol() const override {
        const unsigned char* name = nullptr;
        unsigned int length = 0;
        SSL_get0_alpn_selected(ssl_, &name, &length);
        return name != nullptr ? std::string(reinterpret_cast<const char*>(name), length) : "";
    }

    bool session_reused() const override { return SSL_session_reused(ssl_) == 1; }

    std::string server_name() const override {
        const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
        return name != nullptr ? name : options_.server_hostname;
    }

    Transport& lower_transport() noexcept override { return lower(); }

protected:
    std::string log_name() const override { return "TLS " + peer_; }

private:
    void configure_client() {
        SSL_set_connect_state(ssl_);
        const std::string& name = options_.server_hostname;
        const TlsOptions& policy = context_->options();
        const bool ip = !name.empty() && is_ip_address(name);
        if (!name.empty() && !ip && SSL_set_tlsext_host_name(ssl_, name.c_str()) != 1) {
            fail_setup("cannot send the server name '" + name + "'");
        }
        if (policy.verify_peer && policy.check_hostname) {
            if (name.empty()) {
                fail_setup("server_hostname is needed to check the server's certificate (or "
                           "turn check_hostname off)");
            }
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                               : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
            if (set != 1) {
                fail_setup("cannot check the server name '" + name + "'");
            }
        }
        if (policy.session_resumption) {
            // One server, one session: its name and where it is (two ports, two servers).
            session_key_ = name + " " + peer_;
            SSL_set_ex_data(ssl_, detail::TlsContextAccess::session_key_index(), &session_key_);
            if (SSL_SESSION* session =
                    detail::TlsContextAccess::session_for(*context_, session_key_)) {
                SSL_set_session(ssl_, session);
                SSL_SESSION_free(session);
            }
        }
    }

    [[noreturn]] void fail_setup(const std::string& why) {
        SSL_free(std::exchange(ssl_, nullptr));
        ERR_clear_error();
        throw Error(make_error_code(errc::invalid_argument), "TLS: " + why);
    }

    // ---- the handshake ----

    void advance_handshake() noexcept {
        ERR_clear_error();
        const int result = SSL_do_handshake(ssl_);
        flush_output();
        if (result == 1) {
            handshake_done();
            return;
        }
        const int error = SSL_get_error(ssl_, result);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            return;
        }
        const detail::TlsFailure failure = detail::classify_tls_failure(ssl_, error, true);
        fail_handshake(failure.code, failure.reason);
    }

    void handshake_done() noexcept {
        handshaking_ = false;
        handshake_timer_.cancel();
        log().debug("TLS with {}: {} {}{}{}", peer_, tls_version(), cipher(),
                    session_reused() ? ", resumed" : "",
                    alpn_protocol().empty() ? "" : ", ALPN " + alpn_protocol());
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
        read_plain(); // what came with the last handshake records
    }

    void fail_handshake(std::error_code code, const std::string& reason) noexcept {
        if (!handshaking_) {
            return;
        }
        handshaking_ = false;
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

    void lower_data(ByteView data) override {
        if (BIO_write(in_, data.data(), static_cast<int>(data.size())) !=
            static_cast<int>(data.size())) {
            throw std::bad_alloc(); // a memory BIO fails only when out of memory
        }
        if (handshaking_) {
            advance_handshake(); // handshake_done() reads what follows it
            return;
        }
        read_plain();
    }

    void read_plain() noexcept {
        static thread_local std::array<std::byte, max_record_plain> plain;
        while (state() == State::open || awaiting_receipt()) {
            ERR_clear_error();
            const int n = SSL_read(ssl_, plain.data(), static_cast<int>(plain.size()));
            if (n > 0) {
                deliver_plain(ByteView(plain.data(), static_cast<std::size_t>(n)));
                continue;
            }
            const int error = SSL_get_error(ssl_, n);
            flush_output(); // session tickets, key-update answers, alerts
            if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
                return;
            }
            if (error == SSL_ERROR_ZERO_RETURN) {
                peer_closed();
                return;
            }
            const detail::TlsFailure failure = detail::classify_tls_failure(ssl_, error, false);
            log().debug("TLS with {}: {}", peer_, failure.reason);
            end_after_pending(failure.code);
            return;
        }
    }

    /// The peer's close_notify: it sends nothing more.
    void peer_closed() noexcept {
        if (close_notify_received_) {
            return;
        }
        close_notify_received_ = true;
        if (awaiting_receipt()) {
            receipt_arrived();
        } else {
            deliver_eof();
        }
    }

    /// The peer's close_notify closes the connection, as in asyncio: TLS here has no
    /// half-close (can_write_eof() is false), so a half-open connection could never end.
    bool stays_half_open() const noexcept override { return false; }

    bool lower_eof_passes_up() noexcept override {
        if (handshaking_) {
            fail_handshake(make_error_code(errc::tls_handshake_failed),
                           "the peer closed the connection during the handshake");
            return false;
        }
        if (close_notify_received_) {
            return false; // eof_received came with close_notify
        }
        if (BIO_ctrl_pending(in_) > 0 || SSL_has_pending(ssl_) == 1) { // part of a record
            log().debug("TLS with {}: the connection ended in the middle of a record", peer_);
            end_after_pending(make_error_code(errc::tls_truncated));
            return false;
        }
        // Ended between records without close_notify: many peers do (a process that exits);
        // taken as end of data, as Python's ssl does with suppress_ragged_eofs.
        log().debug("TLS with {}: ended without close_notify", peer_);
        return true;
    }

    // ---- writing ----

    void encode(ByteView plain, Bytes& out) override {
        ERR_clear_error();
        // The output BIO takes everything, so SSL_write never stops half way.
        if (SSL_write(ssl_, plain.data(), static_cast<int>(plain.size())) <= 0) {
            const int error = SSL_get_error(ssl_, 0);
            throw Error(detail::classify_tls_failure(ssl_, error, false).code);
        }
        take_output(out);
    }

    /// Appends what OpenSSL wrote to the output BIO.
    void take_output(Bytes& out) {
        const std::size_t n = BIO_ctrl_pending(out_);
        if (n == 0) {
            return;
        }
        const std::size_t at = out.size();
        out.resize(at + n);
        BIO_read(out_, out.data() + at, static_cast<int>(n));
    }

    /// Sends what OpenSSL wrote outside encode() (handshake, tickets, alerts, close_notify).
    void flush_output() noexcept {
        if (BIO_ctrl_pending(out_) == 0) {
            return;
        }
        try {
            Bytes records;
            take_output(records);
            send_control(records);
        } catch (const std::bad_alloc&) {
            fail(std::make_error_code(std::errc::not_enough_memory));
        }
    }

    // ---- closing ----

    std::chrono::milliseconds ask_for_receipt() noexcept override {
        ERR_clear_error();
        const int result = SSL_shutdown(ssl_); // writes our close_notify
        flush_output();
        ERR_clear_error();
        if (result == 1 || close_notify_received_) {
            return std::chrono::milliseconds{0};
        }
        return options_.shutdown_timeout;
    }

    std::shared_ptr<TlsContext> context_;
    TlsStartOptions options_;
    std::string peer_;
    std::string session_key_;
    SSL* ssl_ = nullptr;
    BIO* in_ = nullptr;  // ciphertext from the peer (owned by ssl_)
    BIO* out_ = nullptr; // ciphertext for the peer (owned by ssl_)
    ProtocolFactory factory_;
    TlsCallback done_;
    std::unique_ptr<Protocol> kept_; // STARTTLS: the protocol that carries on over TLS
    CallbackHandle handshake_timer_;
    bool handshaking_ = true;
    bool close_notify_received_ = false;
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

} // namespace detail
} // namespace ferry
