// SerialComPort: RFC 2217 commands applied to a serial device that may come and go.
#include <ferry/serial_com_port.hpp>

#include <vector>

#include <ferry/error.hpp>
#include <ferry/log.hpp>
#include <ferry/task_handle.hpp>

namespace ferry {

struct SerialComPort::Impl {
    std::vector<std::weak_ptr<Rfc2217ServerTransport>> clients;
    std::optional<TaskHandle<void>> watch;
};

std::shared_ptr<SerialComPort> SerialComPort::create(Loop& loop, SerialOptions defaults,
                                                     std::string signature) {
    return std::shared_ptr<SerialComPort>(
        new SerialComPort(loop, std::move(defaults), std::move(signature)));
}

SerialComPort::SerialComPort(Loop& loop, SerialOptions defaults, std::string signature)
    : loop_(loop), defaults_(defaults), settings_(std::move(defaults)),
      signature_(std::move(signature)), impl_(std::make_unique<Impl>()) {}

SerialComPort::~SerialComPort() {
    detach();
}

void SerialComPort::attach(std::shared_ptr<SerialTransport> device) {
    detach();
    device_ = std::move(device);
    if (!device_) {
        return;
    }
    // What clients asked for before this device opened (or before it was unplugged).
    apply(settings_);
    if (dtr_asked_) {
        set_dtr(dtr_);
    }
    if (rts_asked_) {
        set_rts(rts_);
    }
    if (break_) {
        set_break(true);
    }
    notify_clients(modem_status());
    impl_->watch = loop_.create_task(watch_modem_lines(weak_from_this(), device_));
}

void SerialComPort::detach() noexcept {
    if (impl_->watch) {
        impl_->watch->cancel();
        impl_->watch.reset();
    }
    device_.reset();
}

void SerialComPort::add_client(const std::shared_ptr<Rfc2217ServerTransport>& client) {
    std::erase_if(impl_->clients, [](const auto& weak) { return weak.expired(); });
    impl_->clients.push_back(client);
}

void SerialComPort::reset() {
    dtr_asked_ = rts_asked_ = false;
    dtr_ = rts_ = true;
    if (break_) {
        set_break(false);
    }
    apply(defaults_); // a device kept open goes back to them too
}

SerialOptions SerialComPort::apply(const SerialOptions& requested) {
    if (!device_ || device_->is_closing()) {
        settings_ = requested; // for the next device
        return settings_;
    }
    try {
        device_->reconfigure(requested);
    } catch (const Error& e) {
        // The device keeps what it held; the answer says so.
        log().info("{}: {}", device_->path(), e.what());
    }
    settings_ = device_->options();
    return settings_;
}

void SerialComPort::set_dtr(bool on) {
    dtr_ = on;
    dtr_asked_ = true;
    if (device_ && !device_->is_closing()) {
        try {
            device_->set_dtr(on);
        } catch (const Error& e) {
            // A pty has no modem lines: the state asked for is recorded and reported.
            log().debug("{}: DTR {} recorded only: {}", device_->path(), on ? "on" : "off",
                        e.what());
        }
    }
}

void SerialComPort::set_rts(bool on) {
    rts_ = on;
    rts_asked_ = true;
    if (device_ && !device_->is_closing()) {
        try {
            device_->set_rts(on);
        } catch (const Error& e) {
            log().debug("{}: RTS {} recorded only: {}", device_->path(), on ? "on" : "off",
                        e.what());
        }
    }
}

void SerialComPort::set_break(bool on) {
    break_ = on;
    if (device_ && !device_->is_closing()) {
        try {
            device_->set_break(on);
        } catch (const Error& e) {
            log().debug("{}: break {} recorded only: {}", device_->path(), on ? "on" : "off",
                        e.what());
        }
    }
}

void SerialComPort::purge(Purge which) {
    if (device_ && !device_->is_closing()) {
        device_->purge(which);
    }
}

ModemStatus SerialComPort::modem_status() const {
    if (device_ && !device_->is_closing()) {
        try {
            return device_->modem_status();
        } catch (const Error&) {
            // No modem lines (a pty): reported as all clear.
        }
    }
    return {};
}

void SerialComPort::notify_clients(const ModemStatus& status) {
    for (const auto& weak : impl_->clients) {
        if (auto client = weak.lock(); client && !client->is_closing()) {
            client->notify_modem_status(status);
        }
    }
}

Task<void> SerialComPort::watch_modem_lines(std::weak_ptr<SerialComPort> self,
                                            std::shared_ptr<SerialTransport> device) {
    const ModemStatus every_line{true, true, true, true};
    while (!device->is_closing()) {
        ModemStatus status;
        try {
            status = co_await device->wait_modem_change(every_line);
        } catch (const CancelledError&) {
            throw;
        } catch (const Error& e) {
            // No modem lines (a pty), or the device went: nothing more to watch.
            log().debug("{}: modem lines not watched: {}", device->path(), e.what());
            co_return;
        }
        auto port = self.lock();
        if (!port) {
            co_return;
        }
        port->notify_clients(status);
    }
}

} // namespace ferry
