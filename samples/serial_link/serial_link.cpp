// SerialLink: forwarding with back-pressure between two reconnecting serial ports.
#include "serial_link.hpp"

#include <ferry/serial.hpp>
#include <ferry/transport.hpp>

#include "port_watch.hpp"

namespace sample {

/// Tells the link what happens on one side. A port closed by stop() reports its end after
/// the link may be gone, so the protocol checks the link's token before every call.
class SerialLink::SideProtocol final : public ferry::Protocol {
public:
    SideProtocol(SerialLink& link, int side) : link_(link), alive_(link.alive_), side_(side) {}
    void connection_made(ferry::Transport& transport) override {
        if (!alive_.expired()) {
            link_.made(side_, transport);
        }
    }
    void data_received(ferry::ByteView data) override {
        if (!alive_.expired()) {
            link_.received(side_, data);
        }
    }
    void connection_lost(std::error_code error) override {
        if (!alive_.expired()) {
            link_.lost(side_, error);
        }
    }
    // This side's write buffer is full / drained: hold / release the other side's reading.
    void pause_writing() override {
        if (!alive_.expired()) {
            link_.peer_full(1 - side_, true);
        }
    }
    void resume_writing() override {
        if (!alive_.expired()) {
            link_.peer_full(1 - side_, false);
        }
    }

private:
    SerialLink& link_;
    std::weak_ptr<void> alive_;
    int side_;
};

SerialLink::SerialLink(ferry::Loop& loop, LinkEnd a, LinkEnd b, Status status)
    : loop_(loop), status_(std::move(status)) {
    sides_[0].end = std::move(a);
    sides_[1].end = std::move(b);
}

SerialLink::~SerialLink() {
    stop();
}

void SerialLink::start() {
    for (int i = 0; i < 2; ++i) {
        ferry::validate(sides_[i].end.options);
    }
    for (int i = 0; i < 2; ++i) {
        ferry::ReconnectOptions backoff;
        backoff.initial_delay = std::chrono::milliseconds(100);
        backoff.factor = 2.0;
        backoff.max_delay = std::chrono::milliseconds(2000);
        backoff.retryable = ferry::serial_error_may_clear;
        ferry::ReconnectEvents events;
        events.retrying = [this, i](std::error_code, const std::string& reason,
                                    std::chrono::milliseconds delay) {
            status_(sides_[i].end.port + ": " + reason + "; retrying in " +
                    std::to_string(delay.count()) + " ms");
        };
        events.gave_up = [this](std::error_code, const std::string& reason) {
            stop();
            if (failed) {
                failed(reason);
            }
        };
        sides_[i].reconnector = ferry::Reconnector::start(
            loop_, ferry::serial_connector(loop_, sides_[i].end.port, sides_[i].end.options),
            [this, i] { return std::make_unique<SideProtocol>(*this, i); }, backoff, events);
        sides_[i].watcher = watch_for_port(
            loop_, sides_[i].end.port,
            [this, i] {
                if (sides_[i].reconnector) {
                    sides_[i].reconnector->retry_now();
                }
            },
            status_);
    }
}

void SerialLink::stop() {
    for (Side& side : sides_) {
        if (side.watcher) {
            side.watcher->stop();
            side.watcher.reset();
        }
        if (side.reconnector) {
            side.reconnector->stop_trying();
            if (auto transport = side.reconnector->transport()) {
                transport->close();
            }
            side.reconnector.reset();
        }
    }
}

void SerialLink::made(int side, ferry::Transport& transport) {
    sides_[side].transport = &transport;
    // What the device holds, read back after applying, not what was asked.
    const auto* port = dynamic_cast<const ferry::SerialTransport*>(&transport);
    status_(sides_[side].end.port + " open, " +
            ferry::describe(port != nullptr ? port->options() : sides_[side].end.options));
    ferry::Transport* peer = sides_[1 - side].transport;
    if (peer == nullptr) {
        transport.pause_reading(); // nowhere to send it yet: leave it in the driver
    } else if (!peer->is_reading()) {
        peer->resume_reading(); // the peer was held while this side was away
    }
}

void SerialLink::received(int side, ferry::ByteView data) {
    ferry::Transport* peer = sides_[1 - side].transport;
    if (peer == nullptr) {
        // Only bytes already read when the peer vanished get here (reading is paused at once).
        status_("dropped " + std::to_string(data.size()) + " bytes from " + sides_[side].end.port +
                ": " + sides_[1 - side].end.port + " is away");
        return;
    }
    peer->write(data);
    sides_[side].carried += data.size();
}

void SerialLink::lost(int side, std::error_code error) {
    sides_[side].transport = nullptr;
    status_(sides_[side].end.port + (error ? " lost: " + error.message() : " closed"));
    if (ferry::Transport* peer = sides_[1 - side].transport; peer != nullptr) {
        peer->pause_reading();
    }
}

void SerialLink::peer_full(int side, bool full) {
    ferry::Transport* transport = sides_[side].transport;
    if (transport == nullptr) {
        return;
    }
    if (full) {
        transport->pause_reading();
    } else if (sides_[1 - side].transport != nullptr) {
        transport->resume_reading();
    }
}

} // namespace sample
