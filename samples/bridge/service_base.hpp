#pragma once
// What ferry-bridge's two kinds of service share: the stand-in protocol, the reopening
// backoff and when it helps, describing a device's settings, and ServiceBase.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ferry/ferry.hpp>

#include "service.hpp"

namespace bridge_tool::detail {

using namespace std::chrono_literals;

/// Stands in until the real protocol (the hub's or the bridge's) takes over, before any read.
class Placeholder final : public ferry::Protocol {};

/// The backoff between attempts to reopen a side: 250 ms doubling to 30 s.
inline ferry::ReconnectOptions reopen_backoff() {
    ferry::ReconnectOptions backoff;
    backoff.initial_delay = 250ms;
    backoff.factor = 2.0;
    backoff.max_delay = 30s;
    backoff.jitter = 0.1;
    return backoff;
}

/// Whether retrying to open `endpoint` after `error` can help.
inline bool may_clear(const ferry::Endpoint& endpoint, std::error_code error) {
    if (error == ferry::make_error_code(ferry::errc::invalid_argument) ||
        error == ferry::make_error_code(ferry::errc::not_supported) ||
        error == std::errc::permission_denied) {
        return false;
    }
    if (endpoint.kind == ferry::EndpointKind::serial) {
        return ferry::serial_error_may_clear(error);
    }
    // A command that cannot start (missing, not executable) will not start on a retry either.
    return endpoint.kind != ferry::EndpointKind::stdio &&
           endpoint.kind != ferry::EndpointKind::pty && endpoint.kind != ferry::EndpointKind::exec;
}

/// "115200 8N1" for a serial side (with its modem lines where it has them), else "".
inline std::string settings_of(const ferry::Transport* transport, bool with_lines) {
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

/// The message of an exception.
inline std::string error_text(const std::exception_ptr& error) {
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

} // namespace bridge_tool::detail
