// ferry-bridge's listening service: each client is admitted (allowlist, mode, limit) after
// connection_made returns, greeted and added to a BridgeHub; the device is opened for the first
// client, closed after the last, and reopened with backoff (or when its node reappears).
#include "hub_service.hpp"

#include <cstdio>

#include "port_watch.hpp"
#include "service_base.hpp"

namespace bridge_tool::detail {
namespace {

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
        if (listener_.rfc2217_server) {
            com_port_ = ferry::SerialComPort::create(loop_, line_settings(device_),
                                                     "ferry-bridge " + device_text_);
        }
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
        if (listener_.kind == ferry::EndpointKind::tcp_listen ||
            listener_.kind == ferry::EndpointKind::tls_listen) {
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
        if (com_port_) {
            // Admitted: from here on the client speaks RFC 2217 (refusals above went out as
            // plain lines, which any client shows).
            auto server = ferry::serve_rfc2217(client, com_port_,
                                               [] { return std::make_unique<Placeholder>(); });
            com_port_->add_client(server);
            client = std::move(server);
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
        hub_->add_client(client, who); // reading resumes once the device is there
        ferry::log().info("{}: client {} connected ({} now)", listener_text_, who,
                          hub_->client_count());
        if (!hub_->has_device() && !opening_) {
            open_device();
        }
    }

    /// The line settings a device endpoint opens with.
    static ferry::SerialOptions& line_settings(ferry::Endpoint& endpoint) {
        switch (endpoint.kind) {
        case ferry::EndpointKind::pty:
            return endpoint.pty.serial;
        case ferry::EndpointKind::rfc2217:
            return endpoint.rfc2217.serial;
        default:
            return endpoint.serial;
        }
    }

    void open_device() {
        opening_ = true;
        std::weak_ptr<HubService> weak = weak_from_this();
        ferry::Endpoint device = device_;
        if (com_port_) {
            line_settings(device) = com_port_->settings(); // what RFC 2217 clients asked for
        }
        // As ser2net: the port gets back the settings it had once the last client is gone.
        device.serial.restore_on_close = true;
        ferry::connect(
            loop_, device, [] { return std::make_unique<Placeholder>(); },
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
        if (com_port_) {
            com_port_->attach(std::dynamic_pointer_cast<ferry::SerialTransport>(device));
        }
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
        if (com_port_) {
            com_port_->detach();
        }
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
        if (com_port_) {
            com_port_->detach();
        }
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
        if (remaining == 0 && com_port_) {
            com_port_->reset(); // the next client starts from the configured settings
        }
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
    std::shared_ptr<ferry::SerialComPort> com_port_; // with tcp-listen:...:rfc2217
    std::shared_ptr<ferry::Server> server_;
    ferry::Backoff backoff_;
    ferry::CallbackHandle retry_;
    bool reopen_pending_ = false; // retry_ is armed
    std::shared_ptr<ferry::PortWatcher> watcher_;
    bool opening_ = false;
    bool closing_device_ = false; // close_device() was called: its loss is no failure
    std::uint64_t refused_ = 0;
};

} // namespace

ferry::Task<std::shared_ptr<Service>>
start_hub_service(ferry::Loop& loop, ServiceOptions options, ferry::Endpoint device,
                  std::string device_text, ferry::Endpoint listener, std::string listener_text) {
    auto service = std::make_shared<HubService>(loop, std::move(options), std::move(device),
                                                std::move(device_text), std::move(listener),
                                                std::move(listener_text));
    co_await service->begin();
    co_return service;
}

} // namespace bridge_tool::detail
