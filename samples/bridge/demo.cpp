// The demo sensor: readings on a timer, a few text commands, on a simulated device's end.
#include "demo.hpp"

#include <cmath>
#include <cstdio>

namespace bridge_tool {
namespace {

/// The sensor's behaviour on the device's end.
class Sensor final : public ferry::Protocol {
public:
    Sensor(ferry::Loop& loop, std::chrono::milliseconds period) : loop_(loop), period_(period) {}
    ~Sensor() override { timer_.cancel(); }

    void connection_made(ferry::Transport& transport) override {
        transport_ = &transport;
        schedule();
    }
    void data_received(ferry::ByteView data) override {
        for (const char c : data.as_string_view()) {
            if (c != '\r' && c != '\n') {
                if (command_.size() < 64) {
                    command_ += c;
                }
                continue;
            }
            answer();
            command_.clear();
        }
    }
    void connection_lost(std::error_code) override {
        timer_.cancel();
        transport_ = nullptr;
    }

private:
    void answer() {
        if (command_ == "v") {
            transport_->write("ferry demo sensor 1.0\r\n");
        } else if (command_ == "r") {
            reading();
        } else if (command_ == "help") {
            transport_->write("commands: v (version), r (reading now), help\r\n");
        } else if (!command_.empty()) {
            transport_->write("? unknown command: " + command_ + " (try help)\r\n");
        }
    }
    void reading() {
        // A slow, smooth wave, so consecutive readings look like a real room.
        char line[48];
        const double celsius = 21.5 + 0.75 * std::sin(0.3 * count_++);
        std::snprintf(line, sizeof line, "temp=%.2f C\r\n", celsius);
        transport_->write(line);
    }
    void schedule() {
        timer_ = loop_.call_later(period_, [this] {
            if (transport_ != nullptr) {
                reading();
                schedule();
            }
        });
    }

    ferry::Loop& loop_;
    std::chrono::milliseconds period_;
    ferry::Transport* transport_ = nullptr;
    ferry::CallbackHandle timer_;
    std::string command_;
    int count_ = 0;
};

} // namespace

DemoSensor::DemoSensor(ferry::Loop& loop, std::string link, std::chrono::milliseconds period)
    : device_(std::make_unique<sample::VirtualSerialDevice>(loop, std::move(link), [&loop, period] {
          return std::make_unique<Sensor>(loop, period);
      })) {}

DemoSensor::~DemoSensor() = default; // unplugs

} // namespace bridge_tool
