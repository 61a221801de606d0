// Reconnector and Backoff: Twisted's ReconnectingClientFactory for any ConnectFunction.

#include <ferry/detail/loop_access.hpp>
#include <ferry/reconnect.hpp>

#include <algorithm>
#include <cmath>

#include <ferry/error.hpp>
#include <ferry/log.hpp>
#include <ferry/transport.hpp>

namespace ferry {
namespace {

/// Passes every event to the user's protocol, then tells the reconnector when the connection
/// is lost. The transport owns the wrapper, the wrapper owns the user's protocol.
template <class Base>
class ForwardingProtocol : public Base {
public:
    ForwardingProtocol(std::unique_ptr<Protocol> inner, std::function<void(std::error_code)> lost)
        : inner_(std::move(inner)), lost_(std::move(lost)) {}

    void connection_made(Transport& transport) override { inner_->connection_made(transport); }
    bool eof_received() override { return inner_->eof_received(); }
    void connection_lost(std::error_code error) override {
        inner_->connection_lost(error);
        lost_(error);
    }
    void pause_writing() override { inner_->pause_writing(); }
    void resume_writing() override { inner_->resume_writing(); }

protected:
    std::unique_ptr<Protocol> inner_;
    std::function<void(std::error_code)> lost_;
};

/// For a plain Protocol.
class Forwarder final : public ForwardingProtocol<Protocol> {
public:
    using ForwardingProtocol::ForwardingProtocol;
    void data_received(ByteView data) override { inner_->data_received(data); }
};

/// For a BufferedProtocol: stays buffered so the transport still reads straight into the
/// user's memory.
class BufferedForwarder final : public ForwardingProtocol<BufferedProtocol> {
public:
    BufferedForwarder(std::unique_ptr<Protocol> inner, std::function<void(std::error_code)> lost)
        : ForwardingProtocol(std::move(inner), std::move(lost)),
          buffered_(static_cast<BufferedProtocol*>(inner_.get())) {}
    std::span<std::byte> get_buffer(std::size_t size_hint) override {
        return buffered_->get_buffer(size_hint);
    }
    void buffer_updated(std::size_t nbytes) override { buffered_->buffer_updated(nbytes); }

private:
    BufferedProtocol* buffered_;
};

std::string describe_loss(std::error_code error) {
    return error ? "connection lost: " + error.message() : "connection closed";
}

} // namespace

Backoff::Backoff(const ReconnectOptions& options, std::uint64_t seed)
    : options_(options), delay_ms_(static_cast<double>(options.initial_delay.count())),
      random_(seed) {
    const auto invalid = [](const std::string& what) {
        return Error(make_error_code(errc::invalid_argument), "invalid reconnect option " + what);
    };
    if (options.initial_delay.count() < 0) {
        throw invalid("initial_delay: it must not be negative");
    }
    if (options.max_delay < options.initial_delay) {
        throw invalid("max_delay: it must be at least initial_delay");
    }
    if (!(options.factor >= 1.0) || !std::isfinite(options.factor)) {
        throw invalid("factor: " + std::to_string(options.factor) + " (it must be at least 1)");
    }
    if (!(options.jitter >= 0.0) || !std::isfinite(options.jitter)) {
        throw invalid("jitter: " + std::to_string(options.jitter) + " (it must not be negative)");
    }
}

std::optional<std::chrono::milliseconds> Backoff::next() {
    if (options_.max_retries && retries_ >= *options_.max_retries) {
        return std::nullopt;
    }
    ++retries_;
    double delay = delay_ms_;
    delay_ms_ =
        std::min(delay_ms_ * options_.factor, static_cast<double>(options_.max_delay.count()));
    if (options_.jitter > 0.0 && delay > 0.0) {
        std::normal_distribution<double> around(delay, delay * options_.jitter);
        delay = around(random_);
    }
    // A normal draw can fall below zero (or, far out, beyond any sane wait): keep it in
    // [0, 2 * max_delay].
    delay = std::clamp(delay, 0.0, 2.0 * static_cast<double>(options_.max_delay.count()));
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(delay)));
}

void Backoff::reset() noexcept {
    delay_ms_ = static_cast<double>(options_.initial_delay.count());
    retries_ = 0;
}

std::shared_ptr<Reconnector> Reconnector::start(Loop& loop, ConnectFunction connect,
                                                ProtocolFactory factory, ReconnectOptions options,
                                                ReconnectEvents events) {
    auto reconnector = std::make_shared<Reconnector>(loop, std::move(connect), std::move(factory),
                                                     options, std::move(events));
    // The first attempt runs on the next iteration, so no event reaches the caller before it
    // holds the pointer (a serial port opens, or fails, synchronously).
    std::weak_ptr<Reconnector> weak = reconnector;
    reconnector->retry_timer_ = loop.call_soon([weak] {
        if (auto self = weak.lock()) {
            self->retry_timer_.reset();
            if (self->trying_) {
                self->attempt();
            }
        }
    });
    return reconnector;
}

Reconnector::Reconnector(Loop& loop, ConnectFunction connect, ProtocolFactory factory,
                         ReconnectOptions options, ReconnectEvents events)
    : loop_(loop), connect_(std::move(connect)), factory_(std::move(factory)),
      retryable_(options.retryable), events_(std::move(events)), backoff_(options) {
    if (!connect_ || !factory_) {
        throw Error(make_error_code(errc::invalid_argument),
                    "Reconnector needs a connect function and a protocol factory");
    }
}

Reconnector::~Reconnector() {
    stop_trying();
}

void Reconnector::stop_trying() noexcept {
    trying_ = false;
    pending_attempt_ = 0; // a late success is aborted in on_attempt_done
    if (retry_timer_) {
        retry_timer_->cancel();
        retry_timer_.reset();
    }
}

void Reconnector::retry_now() {
    if (!trying_ || pending_attempt_ != 0 || transport_) {
        return;
    }
    if (retry_timer_) {
        retry_timer_->cancel();
        retry_timer_.reset();
    }
    attempt();
}

std::shared_ptr<Transport> Reconnector::transport() const {
    return transport_;
}

void Reconnector::attempt() {
    const std::uint64_t id = ++last_attempt_;
    pending_attempt_ = id;
    std::weak_ptr<Reconnector> weak = weak_from_this();
    ProtocolFactory wrapped = [weak, id, factory = factory_]() -> std::unique_ptr<Protocol> {
        std::unique_ptr<Protocol> inner = factory();
        auto lost = [weak, id](std::error_code error) {
            if (auto self = weak.lock()) {
                self->on_connection_lost(id, error);
            }
        };
        if (dynamic_cast<BufferedProtocol*>(inner.get()) != nullptr) {
            return std::make_unique<BufferedForwarder>(std::move(inner), std::move(lost));
        }
        return std::make_unique<Forwarder>(std::move(inner), std::move(lost));
    };
    TransportCallback done = [weak, id](Result<std::shared_ptr<Transport>> result) {
        if (auto self = weak.lock()) {
            self->on_attempt_done(id, std::move(result));
        } else if (result.ok() && result.value()) {
            result.value()->abort(); // nobody wants this connection any more
        }
    };
    try {
        connect_(std::move(wrapped), std::move(done));
    } catch (...) {
        on_attempt_done(id, Result<std::shared_ptr<Transport>>(std::current_exception()));
    }
}

void Reconnector::on_attempt_done(std::uint64_t attempt_id,
                                  Result<std::shared_ptr<Transport>> result) {
    if (attempt_id != pending_attempt_) {
        // Abandoned by stop_trying (or superseded): a connection made anyway is not wanted.
        if (result.ok() && result.value()) {
            result.value()->abort();
        }
        return;
    }
    pending_attempt_ = 0;
    auto keep_alive = shared_from_this(); // a user callback may drop the last reference
    if (!result.ok() || !result.value()) {
        const std::string reason =
            result.ok() ? "the connect function gave no transport" : result.message();
        log().debug("reconnect attempt {} failed: {}", attempt_id, reason);
        if (retryable_ && !retryable_(result.code())) {
            trying_ = false;
            log().info("not reconnecting: {} cannot clear by itself", reason);
            give_up(result.code(), reason);
            return;
        }
        schedule_retry(result.code(), reason);
        return;
    }
    transport_ = std::move(result).value();
    connected_attempt_ = attempt_id;
    backoff_.reset();
    if (transport_->is_closing()) {
        return; // lost already: connection_lost is scheduled and will retry
    }
    if (events_.connected) {
        detail::invoke_guarded(loop_, "exception in Reconnector connected callback",
                               [&] { events_.connected(*transport_); });
    }
}

void Reconnector::on_connection_lost(std::uint64_t attempt_id, std::error_code error) {
    if (attempt_id != connected_attempt_) {
        return; // an abandoned attempt's connection ending
    }
    auto keep_alive = shared_from_this();
    transport_.reset();
    connected_attempt_ = 0;
    if (trying_) {
        schedule_retry(error, describe_loss(error));
    }
}

void Reconnector::schedule_retry(std::error_code error, const std::string& reason) {
    if (!trying_) {
        return;
    }
    const std::optional<std::chrono::milliseconds> delay = backoff_.next();
    if (!delay) {
        trying_ = false;
        log().info("giving up reconnecting after {} retries: {}", backoff_.retries(), reason);
        give_up(error, reason);
        return;
    }
    // The timer is armed before the event so the callback may stop_trying() or retry_now().
    std::weak_ptr<Reconnector> weak = weak_from_this();
    retry_timer_ = loop_.call_later(*delay, [weak] {
        if (auto self = weak.lock()) {
            self->retry_timer_.reset();
            if (self->trying_) {
                self->attempt();
            }
        }
    });
    if (events_.retrying) {
        detail::invoke_guarded(loop_, "exception in Reconnector retrying callback",
                               [&] { events_.retrying(error, reason, *delay); });
    }
}

void Reconnector::give_up(std::error_code error, const std::string& reason) {
    if (events_.gave_up) {
        detail::invoke_guarded(loop_, "exception in Reconnector gave_up callback",
                               [&] { events_.gave_up(error, reason); });
    }
}

ConnectFunction serial_connector(Loop& loop, std::string path, SerialOptions options) {
    return
        [&loop, path = std::move(path), options](ProtocolFactory factory, TransportCallback done) {
            Result<std::shared_ptr<SerialTransport>> opened =
                create_serial_connection(loop, std::move(factory), path, options);
            if (opened.ok()) {
                done(std::shared_ptr<Transport>(std::move(opened).value()));
            } else {
                done(Result<std::shared_ptr<Transport>>(opened.error()));
            }
        };
}

ConnectFunction tcp_connector(Loop& loop, std::string host, std::uint16_t port,
                              ConnectOptions options) {
    return [&loop, host = std::move(host), port, options](ProtocolFactory factory,
                                                          TransportCallback done) {
        create_connection(loop, std::move(factory), host, port, options, std::move(done));
    };
}

} // namespace ferry
