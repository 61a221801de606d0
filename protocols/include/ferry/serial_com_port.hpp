#pragma once
/// SerialComPort: what an RFC 2217 server's commands do to a serial device that may come and
/// go (the bridge's device, opened for the first client and reopened after an unplug).

#include <memory>
#include <string>

#include <ferry/loop.hpp>
#include <ferry/rfc2217.hpp>
#include <ferry/serial.hpp>

namespace ferry {

/// An Rfc2217Port over a SerialTransport. Settings apply to the attached device (the answer
/// carries what the device holds afterwards: a refused value keeps the old one) and are kept
/// for the next device; DTR and RTS asked of a device without modem lines (a pty) are
/// recorded and reported as asked; a break is held until BREAK OFF. Modem-line changes
/// (TIOCMIWAIT, where the device has the lines) go to every client as NOTIFY-MODEMSTATE.
/// Loop thread only.
class SerialComPort final : public Rfc2217Port, public std::enable_shared_from_this<SerialComPort> {
public:
    /// A port whose settings start as `defaults`; `signature` answers SIGNATURE.
    static std::shared_ptr<SerialComPort> create(Loop& loop, SerialOptions defaults,
                                                 std::string signature);
    ~SerialComPort() override;
    SerialComPort(const SerialComPort&) = delete;
    SerialComPort& operator=(const SerialComPort&) = delete;

    /// The device is open: applies the settings and lines clients asked for, starts watching
    /// its modem lines and tells the clients their state.
    void attach(std::shared_ptr<SerialTransport> device);
    /// The device is gone or closing: settings are kept for the next one.
    void detach() noexcept;
    /// A client to notify of modem-line changes (held weakly).
    void add_client(const std::shared_ptr<Rfc2217ServerTransport>& client);
    /// Back to the defaults (applied to a device still attached), no line or break asked for:
    /// the last client left.
    void reset();

    SerialOptions apply(const SerialOptions& requested) override;
    SerialOptions settings() const override { return settings_; }
    void set_dtr(bool on) override;
    void set_rts(bool on) override;
    bool dtr() const override { return dtr_; }
    bool rts() const override { return rts_; }
    void set_break(bool on) override;
    bool break_on() const override { return break_; }
    void purge(Purge which) override;
    ModemStatus modem_status() const override;
    std::string signature() const override { return signature_; }

private:
    SerialComPort(Loop& loop, SerialOptions defaults, std::string signature);
    void notify_clients(const ModemStatus& status);
    Task<void> watch_modem_lines(std::weak_ptr<SerialComPort> self,
                                 std::shared_ptr<SerialTransport> device);

    struct Impl;
    Loop& loop_;
    SerialOptions defaults_;
    SerialOptions settings_;
    std::string signature_;
    std::shared_ptr<SerialTransport> device_;
    std::unique_ptr<Impl> impl_; // the clients and the watching task
    bool dtr_ = true;            // Linux raises both lines on open
    bool rts_ = true;
    bool dtr_asked_ = false;
    bool rts_asked_ = false;
    bool break_ = false;
};

} // namespace ferry
