// ferry-bridge's direct service: both sides opened (with backoff), joined by bridge(), and
// opened again after each end unless reconnecting is off or a side is stdio.
#include "direct_service.hpp"

#include <algorithm>

#include "service_base.hpp"

namespace bridge_tool::detail {
namespace {

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
            if (self->options_.max_buffer != 0) { // else the library's default, 8 MiB
                options.max_buffer = std::max(self->options_.max_buffer, options.high_water);
            }
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
            // stdin and a command end once; opening them again is not what ended (socat ends
            // with its EXEC's child too).
            const auto once = [](const ferry::Endpoint& side) {
                return side.kind == ferry::EndpointKind::stdio ||
                       side.kind == ferry::EndpointKind::exec;
            };
            const bool one_shot = once(self->a_) || once(self->b_);
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

std::shared_ptr<Service> start_direct_service(ferry::Loop& loop, ServiceOptions options,
                                              ferry::Endpoint a, ferry::Endpoint b) {
    auto service =
        std::make_shared<DirectService>(loop, std::move(options), std::move(a), std::move(b));
    service->begin();
    return service;
}

} // namespace bridge_tool::detail
