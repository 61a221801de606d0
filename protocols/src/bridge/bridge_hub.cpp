// The bridge hub: one device, many clients, each coming and going on its own. Device output
// fans out to the clients (back-pressure or dropping a stalled client); client input goes to
// the device (clients pause while it is full or absent).
#include <ferry/bridge_hub.hpp>

#include <algorithm>
#include <vector>

#include <ferry/detail/loop_access.hpp>
#include <ferry/error.hpp>
#include <ferry/log.hpp>

#include "bridge/pausing.hpp"

namespace ferry {
namespace {

class HubImpl;

/// A client as the hub keeps it.
struct HubClient {
    std::shared_ptr<Transport> transport;
    std::string name;
    bool full = false;   // its write buffer is above the high mark
    bool paused = false; // the hub paused its reading
    bool gone = false;   // connection_lost came
    std::chrono::milliseconds last_activity{0};
    CallbackHandle idle_timer;
};

/// The device's protocol; `generation` tells a replaced device's late events apart.
class DeviceProtocol final : public Protocol {
public:
    DeviceProtocol(std::shared_ptr<HubImpl> hub, std::uint64_t generation)
        : hub_(std::move(hub)), generation_(generation) {}
    void connection_made(Transport&) override {}
    void data_received(ByteView data) override;
    bool eof_received() override { return false; } // the device's end: close, then reconnect
    void connection_lost(std::error_code error) override;
    void pause_writing() override;
    void resume_writing() override;

private:
    std::shared_ptr<HubImpl> hub_;
    std::uint64_t generation_;
};

/// A client's protocol.
class ClientProtocol final : public Protocol {
public:
    ClientProtocol(std::shared_ptr<HubImpl> hub, std::shared_ptr<HubClient> client)
        : hub_(std::move(hub)), client_(std::move(client)) {}
    void connection_made(Transport&) override {}
    void data_received(ByteView data) override;
    bool eof_received() override { return false; } // this client is done: flush and close it
    void connection_lost(std::error_code error) override;
    void pause_writing() override;
    void resume_writing() override;

private:
    std::shared_ptr<HubImpl> hub_;
    std::shared_ptr<HubClient> client_;
};

class HubImpl final : public BridgeHub, public std::enable_shared_from_this<HubImpl> {
public:
    HubImpl(Loop& loop, HubOptions options, HubEvents events)
        : loop_(loop), options_(std::move(options)), events_(std::move(events)) {}

    // ---- BridgeHub ----
    void set_device(std::shared_ptr<Transport> device) override {
        if (!device || device->is_closing()) {
            throw Error(make_error_code(errc::invalid_argument),
                        "bridge hub: the device transport is missing or closing");
        }
        if (device_) {
            throw Error(make_error_code(errc::invalid_argument),
                        "bridge hub: " + options_.device_name + " is still attached");
        }
        device_ = std::move(device);
        device_->set_write_buffer_limits(options_.high_water, options_.low_water);
        device_full_ = device_->write_buffer_size() > options_.high_water;
        device_paused_ = false;
        device_pausable_ = detail::can_pause(*device_, options_.device_pausing);
        device_->set_protocol(std::make_unique<DeviceProtocol>(shared_from_this(), ++generation_));
        ++stats_.device_opens;
        update_flow();
    }
    bool has_device() const noexcept override { return device_ != nullptr; }
    std::shared_ptr<Transport> device() const noexcept override { return device_; }
    void close_device() noexcept override {
        if (device_) {
            device_->close();
        }
    }
    void add_client(std::shared_ptr<Transport> transport, std::string name) override {
        if (!transport || transport->is_closing()) {
            throw Error(make_error_code(errc::invalid_argument),
                        "bridge hub: the client transport is missing or closing");
        }
        auto client = std::make_shared<HubClient>();
        client->transport = std::move(transport);
        client->name = std::move(name);
        client->transport->set_write_buffer_limits(options_.high_water, options_.low_water);
        client->full = client->transport->write_buffer_size() > options_.high_water;
        // As the transport comes (an admission step may have paused it): update_flow() below
        // resumes it only if there is a device to write to.
        client->paused = !client->transport->is_reading();
        client->transport->set_protocol(
            std::make_unique<ClientProtocol>(shared_from_this(), client));
        clients_.push_back(client);
        ++stats_.connects;
        client->last_activity = loop_.time();
        arm_idle_timer(client, options_.client_idle_timeout);
        update_flow();
    }
    std::size_t client_count() const noexcept override { return clients_.size(); }
    void close_clients() noexcept override {
        for (const auto& client : std::vector(clients_)) {
            client->transport->close();
        }
    }
    bool write_to_device(ByteView bytes) override {
        if (!device_ || device_->is_closing()) {
            return false;
        }
        device_->write(bytes);
        stats_.device_bytes_written += bytes.size();
        return true;
    }
    void write_to_clients(ByteView bytes) override {
        for (const auto& client : clients_) {
            if (!client->transport->is_closing()) {
                client->transport->write(bytes);
            }
        }
    }
    void abort() noexcept override {
        for (const auto& client : std::vector(clients_)) {
            client->transport->abort();
        }
        if (device_) {
            device_->abort();
        }
    }
    HubStats stats() const noexcept override {
        HubStats now = stats_;
        now.clients = clients_.size();
        return now;
    }

    // ---- device events ----
    void device_data(std::uint64_t generation, ByteView bytes) {
        if (generation != generation_) {
            return;
        }
        stats_.device_bytes_read += bytes.size();
        if (events_.traffic) {
            events_.traffic(false, {}, bytes);
        }
        if (clients_.empty()) {
            stats_.device_bytes_dropped += bytes.size(); // as ser2net: nobody to tell
            return;
        }
        for (const auto& client : std::vector(clients_)) {
            if (client->gone || client->transport->is_closing()) {
                continue;
            }
            const std::size_t queued = client->transport->write_buffer_size();
            std::size_t take = bytes.size();
            if (options_.client_flow == ClientFlow::drop_stalled_client) {
                if (queued + bytes.size() > options_.max_buffer) {
                    drop_stalled(*client, queued);
                    continue;
                }
            } else if (!device_pausable_) {
                take = queued >= options_.max_buffer ? 0
                                                     : std::min(take, options_.max_buffer - queued);
                stats_.device_bytes_dropped += bytes.size() - take;
            }
            if (take > 0) {
                client->transport->write(bytes.subview(0, take));
                stats_.client_bytes_written += take;
                client->last_activity = loop_.time();
            }
        }
        update_flow();
    }
    void device_lost(std::uint64_t generation, std::error_code error) {
        if (generation != generation_) {
            return;
        }
        ++generation_; // late events of this device are ignored
        device_.reset();
        device_full_ = false;
        log().debug("{} {}{}", options_.device_name, error ? "lost: " : "closed",
                    error ? error.message() : "");
        update_flow(); // clients wait, paused, for the next device
        if (events_.device_lost) {
            detail::invoke_guarded(loop_, "exception in a hub's device_lost callback",
                                   [&] { events_.device_lost(error); });
        }
    }
    void device_writing(std::uint64_t generation, bool full) {
        if (generation == generation_) {
            device_full_ = full;
            update_flow();
        }
    }

    // ---- client events ----
    void client_data(HubClient& client, ByteView bytes) {
        stats_.client_bytes_read += bytes.size();
        client.last_activity = loop_.time();
        if (options_.read_only || !device_ || device_->is_closing()) {
            stats_.client_bytes_dropped += bytes.size();
            return;
        }
        if (events_.traffic) {
            events_.traffic(true, client.name, bytes);
        }
        device_->write(bytes);
        stats_.device_bytes_written += bytes.size();
        update_flow();
    }
    void client_lost(const std::shared_ptr<HubClient>& client, std::error_code error) {
        client->gone = true;
        client->idle_timer.cancel();
        clients_.erase(std::remove(clients_.begin(), clients_.end(), client), clients_.end());
        ++stats_.disconnects;
        log().debug("client {} left{}{} ({} connected)", client->name, error ? ": " : "",
                    error ? error.message() : "", clients_.size());
        // The transport stays alive through this call (its core holds it); letting go of it
        // here breaks the cycle transport -> protocol -> client -> transport.
        const std::shared_ptr<Transport> keep = std::move(client->transport);
        update_flow();
        if (events_.client_left) {
            detail::invoke_guarded(loop_, "exception in a hub's client_left callback",
                                   [&] { events_.client_left(client->name, clients_.size()); });
        }
    }
    void client_writing(HubClient& client, bool full) {
        client.full = full;
        update_flow();
    }

private:
    /// Closes the client once it has been idle for the timeout; re-armed for what remains
    /// when there was activity meanwhile (one timer per client, no polling).
    void arm_idle_timer(const std::shared_ptr<HubClient>& client, std::chrono::milliseconds delay) {
        if (options_.client_idle_timeout.count() <= 0) {
            return;
        }
        std::weak_ptr<HubClient> weak = client;
        client->idle_timer = loop_.call_later(delay, [this, weak] {
            const std::shared_ptr<HubClient> client = weak.lock();
            if (!client || client->gone) {
                return;
            }
            const auto idle = loop_.time() - client->last_activity;
            if (idle < options_.client_idle_timeout) {
                arm_idle_timer(client, options_.client_idle_timeout - idle);
                return;
            }
            log().info("client {} idle for {} ms: closing it", client->name, idle.count());
            client->transport->close();
        });
    }

    void drop_stalled(HubClient& client, std::size_t queued) {
        ++stats_.clients_dropped;
        log().warn("client {} dropped: {} bytes of {} output waiting for it (max_buffer {}); "
                   "the other clients go on",
                   client.name, queued, options_.device_name, options_.max_buffer);
        client.transport->abort();
    }

    /// Pauses the device while a client is full (back-pressure mode, pausable device); pauses
    /// every client while the device is full or absent.
    void update_flow() {
        if (device_ && !device_->is_closing()) {
            bool any_full = false;
            for (const auto& client : clients_) {
                any_full = any_full || client->full;
            }
            const bool pause =
                device_pausable_ && options_.client_flow == ClientFlow::backpressure && any_full;
            if (pause != device_paused_) {
                device_paused_ = pause;
                pause ? device_->pause_reading() : device_->resume_reading();
            }
        }
        const bool hold_clients = !options_.read_only && (!device_ || device_full_);
        for (const auto& client : clients_) {
            if (client->paused == hold_clients || client->transport->is_closing()) {
                continue;
            }
            client->paused = hold_clients;
            hold_clients ? client->transport->pause_reading() : client->transport->resume_reading();
        }
    }

    Loop& loop_;
    HubOptions options_;
    HubEvents events_;
    std::shared_ptr<Transport> device_;
    std::uint64_t generation_ = 0;
    bool device_full_ = false;
    bool device_paused_ = false;
    bool device_pausable_ = true;
    std::vector<std::shared_ptr<HubClient>> clients_;
    HubStats stats_;
};

void DeviceProtocol::data_received(ByteView data) {
    hub_->device_data(generation_, data);
}
void DeviceProtocol::connection_lost(std::error_code error) {
    const std::shared_ptr<HubImpl> keep = hub_;
    keep->device_lost(generation_, error);
}
void DeviceProtocol::pause_writing() {
    hub_->device_writing(generation_, true);
}
void DeviceProtocol::resume_writing() {
    hub_->device_writing(generation_, false);
}

void ClientProtocol::data_received(ByteView data) {
    hub_->client_data(*client_, data);
}
void ClientProtocol::connection_lost(std::error_code error) {
    const std::shared_ptr<HubImpl> keep = hub_;
    keep->client_lost(client_, error);
}
void ClientProtocol::pause_writing() {
    hub_->client_writing(*client_, true);
}
void ClientProtocol::resume_writing() {
    hub_->client_writing(*client_, false);
}

} // namespace

std::shared_ptr<BridgeHub> make_bridge_hub(Loop& loop, HubOptions options, HubEvents events) {
    if (options.low_water > options.high_water || options.max_buffer < options.high_water) {
        throw Error(make_error_code(errc::invalid_argument),
                    "bridge hub: needs low_water <= high_water <= max_buffer");
    }
    return std::make_shared<HubImpl>(loop, std::move(options), std::move(events));
}

} // namespace ferry
