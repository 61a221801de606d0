// ferry-bridge's services: a listening side whose clients share one device through a
// BridgeHub (opened on the first client, reopened with backoff when it goes away), or two
// connecting sides joined by bridge() and reopened after each end.
#include "service.hpp"

#include "port_watch.hpp"

#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace bridge_tool {
namespace {

using namespace std::chrono_literals;

/// Stands in until the real protocol (the hub's or the bridge's) takes over, before any read.
class Placeholder final : public ferry::Protocol {};

/// Waits for a listening side's verdict on the next iteration: deciding inside
/// connection_made would replace this protocol while it runs.
class Admission final : public ferry::Protocol {
public:
    explicit Admission(std::function<void(std::shared_ptr<ferry::Transport>)> admit)
        : admit_(std::move(admit)) {}
    void connection_made(ferry::Transport& transport) override {
        transport.pause_reading(); // nothing is read before the client is let in
        std::weak_ptr<ferry::Transport> weak = transport.shared_from_this();
        transport.loop().call_soon([weak, admit = admit_] {
            if (auto transport = weak.lock(); transport && !transport->is_closing()) {
                admit(std::move(transport));
            }
        });
    }

private:
    std::function<void(std::shared_ptr<ferry::Transport>)> admit_;
};

ferry::ReconnectOptions reopen_backoff() {
    ferry::ReconnectOptions backoff;
    backoff.initial_delay = 250ms;
    backoff.factor = 2.0;
    backoff.max_delay = 30s;
    backoff.jitter = 0.1;
    return backoff;
}

/// Whether retrying to open `endpoint` after `error` can help.
bool may_clear(const ferry::Endpoint& endpoint, std::error_code error) {
    if (error == ferry::make_error_code(ferry::errc::invalid_argument) ||
        error == ferry::make_error_code(ferry::errc::not_supported) ||
        error == std::errc::permission_denied) {
        return false;
    }
    if (endpoint.kind == ferry::EndpointKind::serial) {
        return ferry::serial_error_may_clear(error);
    }
    return endpoint.kind != ferry::EndpointKind::stdio && endpoint.kind != ferry::EndpointKind::pty;
}

/// "115200 8N1" for a serial side (with its modem lines where it has them), else "".
std::string settings_of(const ferry::Transport* transport, bool with_lines) {
    const auto* serial = dynamic_cast<const ferry::SerialTransport*>(transport);
    if (serial == nullptr) {
        return {};
    }
    std::string text = ferry::describe(serial->options());
    if (with_lines) {
        try {
            const ferry::ModemStatus lines = serial->modem_status();
            text += std::string(", cts=") + (lines.cts ? "1" : "0") +
                    " dsr=" + (lines.dsr ? "1" : "0") + " ri=" + (lines.ri ? "1" : "0") +
                    " cd=" + (lines.cd ? "1" : "0");
        } catch (const ferry::Error&) {
            text += ", no modem lines";
        }
    }
    return text;
}

std::string error_text(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown error";
    }
}

/// What both kinds of service share: options, the trace, finishing.
class ServiceBase : public Service {
public:
    ServiceBase(ferry::Loop& loop, ServiceOptions options)
        : loop_(loop), options_(std::move(options)) {
        if (!options_.trace.empty()) {
            trace_ = std::make_shared<Trace>(options_.trace);
        }
    }
    bool finished() const noexcept override { return finished_; }
    void on_finished(std::function<void()> callback) override {
        if (finished_) {
            loop_.call_soon(std::move(callback));
        } else {
            finished_callbacks_.push_back(std::move(callback));
        }
    }

protected:
    void finish() {
        if (finished_) {
            return;
        }
        finished_ = true;
        for (auto& callback : std::exchange(finished_callbacks_, {})) {
            loop_.call_soon(std::move(callback));
        }
    }

    ferry::Loop& loop_;
    ServiceOptions options_;
    std::shared_ptr<Trace> trace_;
    bool stopping_ = false;

private:
    bool finished_ = false;
    std::vector<std::function<void()>> finished_callbacks_;
};

/// A listening side: each client is admitted (allowlist, mode, limit), greeted with the
/// banner and added to the hub; the device is opened for the first client and closed after
/// the last (or kept open), and reopened with backoff while wanted.
class HubService final : public ServiceBase, public std::enable_shared_from_this<HubService> {
public:
    HubService(ferry::Loop& loop, ServiceOptions options, ferry::Endpoint device,
               std::string device_text, ferry::Endpoint listener, std::string listener_text)
        : ServiceBase(loop, std::move(options)), device_(std::move(device)),
          device_text_(std::move(device_text)), listener_(std::move(listener)),
          listener_text_(std::move(listener_text)), backoff_(reopen_backoff()) {}

    ferry::Task<void> begin() {
        ferry::HubOptions hub_options;
        hub_options.client_flow = options_.mode == ClientMode::shared
                                      ? ferry::ClientFlow::drop_stalled_client
                                      : ferry::ClientFlow::backpressure;
        hub_options.max_buffer = options_.max_buffer != 0 ? options_.max_buffer : 1024 * 1024;
        hub_options.read_only = options_.read_only;
        hub_options.client_idle_timeout = options_.idle_timeout;
        hub_options.device_name = device_text_;
        std::weak_ptr<HubService> weak = weak_from_this();
        ferry::HubEvents events;
        events.device_lost = [weak](std::error_code error) {
            if (auto self = weak.lock()) {
                self->device_lost(error);
            }
        };
        events.client_left = [weak](const std::string& name, std::size_t remaining) {
            if (auto self = weak.lock()) {
                self->client_left(name, remaining);
            }
        };
        if (trace_) {
            events.traffic = [trace = trace_](bool to_device, const std::string&,
                                              ferry::ByteView bytes) {
                trace->record(to_device ? "net->dev" : "dev->net", bytes);
            };
        }
        hub_ = ferry::make_bridge_hub(loop_, std::move(hub_options), std::move(events));
        // The factory is made outside the co_await expression: GCC 12 destroys a temporary
        // there twice, and this one holds a weak_ptr (its count went one too low).
        ferry::ProtocolFactory admission = [weak] {
            return std::make_unique<Admission>([weak](std::shared_ptr<ferry::Transport> t) {
                if (auto self = weak.lock()) {
                    self->admit(std::move(t));
                }
            });
        };
        server_ = co_await ferry::listen(loop_, listener_, std::move(admission));
        // One line on stdout: where to connect (the port when 0 was asked for), for people
        // and for scripts.
        std::string where = listener_.path;
        if (listener_.kind == ferry::EndpointKind::tcp_listen) {
            const auto sockets = server_->sockets();
            where = sockets.empty() ? listener_.host : sockets.front().to_string();
        }
        std::printf("ferry-bridge: %s <-> %s listening on %s\n", device_text_.c_str(),
                    listener_text_.c_str(), where.c_str());
        std::fflush(stdout);
        if (device_.kind == ferry::EndpointKind::serial) {
            // An unplugged dongle is reopened the moment its node reappears, not only when
            // the backoff comes round.
            watcher_ = sample::watch_for_port(
                loop_, device_.path,
                [weak] {
                    if (auto self = weak.lock()) {
                        self->reopen_now();
                    }
                },
                [](const std::string& why) { ferry::log().info("{}", why); });
        }
        if (options_.keep_open) {
            open_device();
        }
    }

    void stop() override {
        if (stopping_) {
            return;
        }
        stopping_ = true;
        retry_.cancel();
        watcher_.reset();
        if (server_) {
            server_->close();
        }
        hub_->close_clients(); // each flushes what it was sent
        close_device();
        maybe_finish();
    }
    void abort() override {
        stopping_ = true;
        retry_.cancel();
        watcher_.reset();
        if (server_) {
            server_->close();
        }
        hub_->abort();
        maybe_finish();
    }
    std::string statistics() const override {
        const ferry::HubStats s = hub_->stats();
        const std::shared_ptr<ferry::Transport> device = hub_->device();
        std::string out = "bridge " + device_text_ + " <-> " + listener_text_ + "\n";
        out += "  device: " + std::string(device ? "open" : "closed");
        if (device) {
            const std::string settings = settings_of(device.get(), true);
            out += settings.empty() ? "" : ", " + settings;
        }
        out += ", opened " + std::to_string(s.device_opens) + " times\n";
        out += "  clients: " + std::to_string(s.clients) + " connected, " +
               std::to_string(s.connects) + " connects, " + std::to_string(s.disconnects) +
               " disconnects, " + std::to_string(s.clients_dropped) + " dropped as stalled, " +
               std::to_string(refused_) + " refused\n";
        out += "  dev->net: " + std::to_string(s.device_bytes_read) + " bytes read, " +
               std::to_string(s.client_bytes_written) + " written to clients, " +
               std::to_string(s.device_bytes_dropped) + " dropped\n";
        out += "  net->dev: " + std::to_string(s.client_bytes_read) + " bytes read, " +
               std::to_string(s.device_bytes_written) + " written to the device, " +
               std::to_string(s.client_bytes_dropped) + " dropped\n";
        return out;
    }
    std::uint16_t port() const noexcept override { return server_ ? server_->port() : 0; }

private:
    /// Wanted: a client is connected, or the device is kept open.
    bool device_wanted() const {
        return !stopping_ && (hub_->client_count() > 0 || options_.keep_open);
    }

    void refuse(ferry::Transport& client, const std::string& who, const std::string& line) {
        ++refused_;
        ferry::log().warn("{}: refused {}: {}", listener_text_, who, line);
        client.write(line + "\r\n");
        client.close();
    }

    void admit(std::shared_ptr<ferry::Transport> client) {
        const std::optional<ferry::SocketAddress> peer = client->peername();
        const std::string who = peer && peer->family() != ferry::SocketAddress::Family::unix_path
                                    ? peer->to_string()
                                    : "a client";
        if (stopping_) {
            client->close();
            return;
        }
        if (!options_.allow.allows(peer)) {
            refuse(*client, who, "access denied: " + who + " is not in the allowlist");
            return;
        }
        const std::size_t connected = hub_->client_count();
        if (options_.mode == ClientMode::exclusive && connected > 0) {
            refuse(*client, who, "port already in use");
            return;
        }
        if (options_.mode == ClientMode::shared && options_.max_connections > 0 &&
            connected >= options_.max_connections) {
            refuse(*client, who,
                   "too many connections (" + std::to_string(options_.max_connections) + ")");
            return;
        }
        if (options_.mode == ClientMode::kick_old && connected > 0) {
            ferry::log().info("{}: {} takes over the port", listener_text_, who);
            hub_->close_clients(); // the old client gets EOF
        }
        if (!options_.banner.empty()) {
            // The device may open only now, for this client: then its settings are the ones
            // it is about to be given.
            std::string settings = settings_of(hub_->device().get(), false);
            if (settings.empty() && device_.kind == ferry::EndpointKind::serial) {
                settings = ferry::describe(device_.serial);
            }
            client->write(
                expand_banner(options_.banner, device_text_, listener_text_, settings, who));
        }
        hub_->add_client(client, who);
        client->resume_reading(); // the hub pauses it again while the device is away
        ferry::log().info("{}: client {} connected ({} now)", listener_text_, who,
                          hub_->client_count());
        if (!hub_->has_device() && !opening_) {
            open_device();
        }
    }

    void open_device() {
        opening_ = true;
        std::weak_ptr<HubService> weak = weak_from_this();
        ferry::connect(
            loop_, device_, [] { return std::make_unique<Placeholder>(); },
            [weak](ferry::Result<std::shared_ptr<ferry::Transport>> result) {
                if (auto self = weak.lock()) {
                    self->device_opened(std::move(result));
                } else if (result.ok()) {
                    result.value()->abort();
                }
            });
    }

    void device_opened(ferry::Result<std::shared_ptr<ferry::Transport>> result) {
        opening_ = false;
        if (result.ok() && (stopping_ || !device_wanted())) {
            result.value()->close(); // everyone left meanwhile
            maybe_finish();
            return;
        }
        if (!result.ok()) {
            const std::string reason = result.message();
            if (stopping_) {
                maybe_finish();
                return;
            }
            if (!options_.reconnect || !may_clear(device_, result.code())) {
                ferry::log().error("{}: cannot open {}: {}", listener_text_, device_text_, reason);
                hub_->write_to_clients("device unavailable: " + reason + "\r\n");
                hub_->close_clients();
                if (options_.keep_open) {
                    failure_ = reason;
                    stop();
                }
                return;
            }
            schedule_reopen(reason);
            return;
        }
        backoff_.reset();
        std::shared_ptr<ferry::Transport> device = std::move(result).value();
        const std::string settings = settings_of(device.get(), false);
        ferry::log().info("{} opened{}{}", device_text_, settings.empty() ? "" : " at ", settings);
        hub_->set_device(std::move(device));
        if (!options_.open_string.empty()) {
            hub_->write_to_device(options_.open_string);
        }
    }

    void schedule_reopen(const std::string& reason) {
        const auto delay = backoff_.next().value_or(30s);
        ferry::log().warn("{}: {} unavailable ({}); trying again in {} ms", listener_text_,
                          device_text_, reason, delay.count());
        std::weak_ptr<HubService> weak = weak_from_this();
        reopen_pending_ = true;
        retry_ = loop_.call_later(delay, [weak] {
            if (auto self = weak.lock()) {
                self->reopen_pending_ = false;
            }
            if (auto self = weak.lock();
                self && self->device_wanted() && !self->opening_ && !self->hub_->has_device()) {
                self->open_device();
            }
        });
    }

    /// The device's node appeared: if a reopen is waiting on the backoff, do it now.
    void reopen_now() {
        if (reopen_pending_ && device_wanted() && !opening_ && !hub_->has_device()) {
            retry_.cancel();
            reopen_pending_ = false;
            open_device();
        }
    }

    void close_device() {
        if (hub_->has_device()) {
            closing_device_ = true;
            if (!options_.close_string.empty()) {
                hub_->write_to_device(options_.close_string);
            }
            hub_->close_device(); // flushed first
        }
    }

    void device_lost(std::error_code error) {
        const bool closed_by_us = std::exchange(closing_device_, false);
        if (stopping_) {
            maybe_finish();
            return;
        }
        if (!device_wanted()) {
            return; // closed after the last client left
        }
        if (closed_by_us) {
            open_device(); // a client came while it was closing: open it again at once
            return;
        }
        if (!options_.reconnect) {
            ferry::log().error("{} ended{}{}; not reopening (--no-reconnect)", device_text_,
                               error ? ": " : "", error ? error.message() : "");
            failure_ = device_text_ + " ended";
            stop();
            return;
        }
        schedule_reopen(error ? error.message() : "closed");
    }

    void client_left(const std::string& name, std::size_t remaining) {
        ferry::log().info("{}: client {} left ({} now)", listener_text_, name, remaining);
        if (remaining == 0 && !options_.keep_open && !stopping_) {
            close_device(); // ser2net: the device is closed when the last client leaves
        }
        maybe_finish();
    }

    void maybe_finish() {
        if (stopping_ && !opening_ && !hub_->has_device() && hub_->client_count() == 0) {
            finish();
        }
    }

public:
    std::string failure() const override { return failure_; }

private:
    std::string failure_;
    ferry::Endpoint device_;
    std::string device_text_;
    ferry::Endpoint listener_;
    std::string listener_text_;
    std::shared_ptr<ferry::BridgeHub> hub_;
    std::shared_ptr<ferry::Server> server_;
    ferry::Backoff backoff_;
    ferry::CallbackHandle retry_;
    bool reopen_pending_ = false; // retry_ is armed
    std::shared_ptr<ferry::PortWatcher> watcher_;
    bool opening_ = false;
    bool closing_device_ = false; // close_device() was called: its loss is no failure
    std::uint64_t refused_ = 0;
};

/// Two connecting sides joined by bridge(); after the bridge ends, both are opened again
/// (with backoff) unless reconnecting is off or a side is stdio or a pty.
class DirectService final : public ServiceBase, public std::enable_shared_from_this<DirectService> {
public:
    DirectService(ferry::Loop& loop, ServiceOptions options, ferry::Endpoint a, ferry::Endpoint b)
        : ServiceBase(loop, std::move(options)), a_(std::move(a)), b_(std::move(b)) {}

    void begin() {
        std::weak_ptr<DirectService> weak = weak_from_this();
        task_ = loop_.create_task(run(weak_from_this()));
        task_.add_done_callback([weak] {
            if (auto self = weak.lock()) {
                self->finish();
            }
        });
    }
    void stop() override {
        stopping_ = true;
        if (joined_ && joined_->is_open()) {
            joined_->close();
        } else {
            task_.cancel();
        }
    }
    void abort() override {
        stopping_ = true;
        if (joined_ && joined_->is_open()) {
            joined_->abort();
        }
        task_.cancel();
    }
    std::string statistics() const override {
        std::string out = "bridge " + options_.a_text + " <-> " + options_.b_text + "\n";
        out += "  bridges made: " + std::to_string(bridges_) + "\n";
        if (joined_) {
            const ferry::BridgeStats s = joined_->stats();
            const auto flow = [](const char* name, const ferry::BridgeFlow& f) {
                return std::string("  ") + name + ": " + std::to_string(f.bytes_read) +
                       " bytes read, " + std::to_string(f.bytes_written) + " written, " +
                       std::to_string(f.bytes_dropped) + " dropped, " + std::to_string(f.pauses) +
                       " pauses\n";
            };
            out += flow("a->b", s.a_to_b) + flow("b->a", s.b_to_a);
        }
        return out;
    }
    std::uint16_t port() const noexcept override { return 0; }
    std::string failure() const override { return failure_; }

private:
    std::string failure_;
    ferry::Task<std::shared_ptr<ferry::Transport>> open_side(ferry::Endpoint endpoint,
                                                             std::string text) {
        ferry::Backoff backoff(reopen_backoff());
        for (;;) {
            std::exception_ptr error;
            std::error_code code;
            ferry::ProtocolFactory placeholder = [] { return std::make_unique<Placeholder>(); };
            try {
                co_return co_await ferry::connect(loop_, endpoint, std::move(placeholder));
            } catch (const ferry::Error& e) {
                error = std::current_exception();
                code = e.code();
            }
            if (!options_.reconnect || !may_clear(endpoint, code)) {
                std::rethrow_exception(error);
            }
            const auto delay = backoff.next().value_or(30s);
            ferry::log().warn("{} unavailable ({}); trying again in {} ms", text, error_text(error),
                              delay.count());
            co_await ferry::sleep(delay);
        }
    }

    static ferry::Task<void> run(std::weak_ptr<DirectService> weak) {
        for (;;) {
            auto self = weak.lock();
            if (!self || self->stopping_) {
                co_return;
            }
            std::shared_ptr<ferry::Transport> a;
            std::shared_ptr<ferry::Transport> b;
            try {
                a = co_await self->open_side(self->a_, self->options_.a_text);
                b = co_await self->open_side(self->b_, self->options_.b_text);
            } catch (const ferry::CancelledError&) {
                if (a) {
                    a->close();
                }
                co_return;
            } catch (const ferry::Error& e) {
                ferry::log().error("{}", e.what());
                self->failure_ = e.what();
                if (a) {
                    a->close();
                }
                co_return;
            }
            ferry::BridgeOptions options;
            options.a_name = self->options_.a_text;
            options.b_name = self->options_.b_text;
            options.max_buffer =
                std::max<std::size_t>(self->options_.max_buffer, options.high_water);
            if (self->trace_) {
                options.traffic = [trace = self->trace_](bool from_a, ferry::ByteView bytes) {
                    trace->record(from_a ? "a->b" : "b->a", bytes);
                };
            }
            self->joined_ = ferry::bridge(a, b, std::move(options));
            ++self->bridges_;
            if (!self->options_.open_string.empty()) {
                a->write(self->options_.open_string);
            }
            ferry::log().info("bridge {} <-> {}: joined", self->options_.a_text,
                              self->options_.b_text);
            std::shared_ptr<ferry::Bridge> joined = self->joined_;
            self.reset(); // no strong reference across the wait
            const std::error_code ended = co_await joined->wait_closed();
            self = weak.lock();
            if (!self) {
                co_return;
            }
            ferry::log().info("bridge {} <-> {}: ended{}{}", self->options_.a_text,
                              self->options_.b_text, ended ? ": " : "",
                              ended ? ended.message() : "");
            const bool one_shot = self->a_.kind == ferry::EndpointKind::stdio ||
                                  self->b_.kind == ferry::EndpointKind::stdio;
            if (self->stopping_ || !self->options_.reconnect || one_shot) {
                co_return;
            }
        }
    }

    ferry::Endpoint a_;
    ferry::Endpoint b_;
    ferry::TaskHandle<void> task_;
    std::shared_ptr<ferry::Bridge> joined_;
    std::uint64_t bridges_ = 0;
};

} // namespace

std::string unescape(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\' || i + 1 == text.size()) {
            out += text[i];
            continue;
        }
        const char code = text[++i];
        switch (code) {
        case 'r':
            out += '\r';
            break;
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case '\\':
            out += '\\';
            break;
        case 'x': {
            if (i + 2 >= text.size() + 0 ||
                !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
                !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
                throw std::invalid_argument("bad escape in \"" + text +
                                            "\": \\x needs two hex digits");
            }
            out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
            i += 2;
            break;
        }
        default:
            throw std::invalid_argument("bad escape \\" + std::string(1, code) + " in \"" + text +
                                        "\" (escapes: \\r \\n \\t \\\\ \\xHH)");
        }
    }
    return out;
}

std::string expand_banner(const std::string& banner, const std::string& device,
                          const std::string& listener, const std::string& settings,
                          const std::string& client) {
    std::string with_fields;
    for (std::size_t i = 0; i < banner.size(); ++i) {
        if (banner[i] == '\\' && i + 1 < banner.size()) {
            const char code = banner[i + 1];
            const std::string* field = code == 'd'   ? &device
                                       : code == 'p' ? &listener
                                       : code == 's' ? &settings
                                       : code == 'a' ? &client
                                                     : nullptr;
            if (field != nullptr) {
                with_fields += *field;
                ++i;
                continue;
            }
            with_fields += banner[i];
            with_fields += banner[++i]; // left for unescape
            continue;
        }
        with_fields += banner[i];
    }
    return unescape(with_fields);
}

ferry::Task<std::shared_ptr<Service>> Service::start(ferry::Loop& loop, ServiceOptions options) {
    ferry::Endpoint a = ferry::parse_endpoint(options.a_text);
    ferry::Endpoint b = ferry::parse_endpoint(options.b_text);
    const auto refuse = [](const std::string& why) {
        throw ferry::Error(ferry::make_error_code(ferry::errc::invalid_argument), why);
    };
    if (a.listens() && b.listens()) {
        refuse("both " + options.a_text + " and " + options.b_text +
               " listen: one side must be a device or a connection");
    }
    if (!a.listens() && !b.listens()) {
        if (options.mode != ClientMode::exclusive || !options.banner.empty() ||
            options.max_connections != 0 || options.idle_timeout.count() != 0 ||
            !options.allow.empty() || options.keep_open) {
            refuse("--mode, --max-connections, --idle-timeout, --banner, --allow and --keep-open "
                   "need a listening side (tcp-listen: or unix-listen:)");
        }
        if (options.read_only) {
            refuse("--read-only needs a listening side: it discards what clients send");
        }
        auto service =
            std::make_shared<DirectService>(loop, std::move(options), std::move(a), std::move(b));
        service->begin();
        co_return service;
    }
    const bool a_listens = a.listens();
    std::string device_text = a_listens ? options.b_text : options.a_text;
    std::string listener_text = a_listens ? options.a_text : options.b_text;
    auto service = std::make_shared<HubService>(
        loop, std::move(options), a_listens ? std::move(b) : std::move(a), std::move(device_text),
        a_listens ? std::move(a) : std::move(b), std::move(listener_text));
    co_await service->begin();
    co_return service;
}

} // namespace bridge_tool
