#pragma once
// An Rfc2217Port that keeps its state in memory and records what it was asked: the device an
// RFC 2217 server under test drives.

#include <functional>
#include <string>
#include <vector>

#include <ferry/rfc2217.hpp>

namespace ferry::test {

/// A port with every modem line and setting in memory; `refuse_baud` makes it keep its rate
/// (a device that refuses), `fixed` makes it refuse every change.
class RecordingPort final : public Rfc2217Port {
public:
    SerialOptions apply(const SerialOptions& requested) override {
        ++applies;
        if (fixed) {
            return settings_;
        }
        const std::uint32_t before = settings_.baud_rate;
        settings_ = requested;
        if (refuse_baud) {
            settings_.baud_rate = before;
        }
        return settings_;
    }
    SerialOptions settings() const override { return settings_; }
    void set_dtr(bool on) override { dtr_ = on; }
    void set_rts(bool on) override { rts_ = on; }
    bool dtr() const override { return dtr_; }
    bool rts() const override { return rts_; }
    void set_break(bool on) override {
        break_ = on;
        breaks.push_back(on);
    }
    bool break_on() const override { return break_; }
    void purge(Purge which) override { purges.push_back(which); }
    ModemStatus modem_status() const override { return lines; }
    std::string signature() const override { return "recording port"; }

    /// Settings as a client's commands left them.
    SerialOptions& current() { return settings_; }

    ModemStatus lines{};
    bool refuse_baud = false;
    bool fixed = false;
    int applies = 0;
    std::vector<bool> breaks;
    std::vector<Purge> purges;

private:
    SerialOptions settings_{};
    bool dtr_ = true;
    bool rts_ = true;
    bool break_ = false;
};

} // namespace ferry::test
