// bridge(): two transports joined by two relay protocols, with back-pressure both ways, a
// bounded buffer where a source cannot (or, to break a cycle, must not) pause, and the ends
// of input and connection passed across.
#include <ferry/bridge.hpp>

#include <algorithm>
#include <array>
#include <vector>

#include <ferry/detail/loop_access.hpp>
#include <ferry/error.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>

#include "bridge/pausing.hpp"

namespace ferry {
namespace {

class BridgeImpl;

/// The protocol the bridge gives each side: forwards every event to the bridge with its side.
class RelayProtocol final : public Protocol {
public:
    RelayProtocol(std::shared_ptr<BridgeImpl> bridge, int side)
        : bridge_(std::move(bridge)), side_(side) {}
    void connection_made(Transport&) override {} // never called: the transports are live
    void data_received(ByteView data) override;
    bool eof_received() override;
    void connection_lost(std::error_code error) override;
    void pause_writing() override;
    void resume_writing() override;

private:
    std::shared_ptr<BridgeImpl> bridge_; // the bridge lives as long as either side
    int side_;
};

class BridgeImpl final : public Bridge, public std::enable_shared_from_this<BridgeImpl> {
public:
    BridgeImpl(std::shared_ptr<Transport> a, std::shared_ptr<Transport> b, BridgeOptions options)
        : options_(std::move(options)),
          transports_{std::move(a), std::move(b)}, names_{options_.a_name, options_.b_name} {
        pausable_[0] = detail::can_pause(*transports_[0], options_.a_pausing);
        pausable_[1] = detail::can_pause(*transports_[1], options_.b_pausing);
    }

    void attach() {
        for (int side = 0; side < 2; ++side) {
            Transport& transport = *transports_[side];
            transport.set_write_buffer_limits(options_.high_water, options_.low_water);
            full_[side] = transport.write_buffer_size() > options_.high_water;
            transport.set_protocol(std::make_unique<RelayProtocol>(shared_from_this(), side));
        }
        update_flow();
    }

    // ---- Bridge ----
    BridgeStats stats() const noexcept override { return {flows_[0], flows_[1]}; }
    void close() noexcept override {
        for (int side = 0; side < 2; ++side) {
            if (!lost_[side] && transports_[side]) {
                transports_[side]->close();
            }
        }
    }
    void abort() noexcept override {
        for (int side = 0; side < 2; ++side) {
            if (!lost_[side] && transports_[side]) {
                transports_[side]->abort();
            }
        }
    }
    bool is_open() const noexcept override { return !ended_; }
    Transport& a() noexcept override { return *raw_[0]; }
    Transport& b() noexcept override { return *raw_[1]; }
    void on_closed(std::function<void(std::error_code)> callback) override {
        if (!ended_) {
            closed_callbacks_.push_back(std::move(callback));
            return;
        }
        loop_.call_soon([callback = std::move(callback), error = error_] { callback(error); });
    }
    Task<std::error_code> wait_closed() override {
        Future<std::error_code> ended(loop_);
        on_closed([ended](std::error_code error) mutable {
            if (!ended.done()) {
                ended.set_result(error);
            }
        });
        co_return co_await ended;
    }

    // ---- events from the relay protocols ----
    void data(int from, ByteView bytes) {
        const int to = 1 - from;
        BridgeFlow& flow = flows_[from];
        flow.bytes_read += bytes.size();
        if (options_.traffic) {
            options_.traffic(from == 0, bytes);
        }
        if (lost_[to] || transports_[to]->is_closing()) {
            flow.bytes_dropped += bytes.size(); // nowhere to go: that side has ended
            return;
        }
        std::size_t take = bytes.size();
        if (!pausable_[from]) {
            const std::size_t queued = transports_[to]->write_buffer_size();
            take = queued >= options_.max_buffer ? 0 : std::min(take, options_.max_buffer - queued);
        }
        if (take > 0) {
            transports_[to]->write(bytes.subview(0, take));
            flow.bytes_written += take;
            // One log line per episode: it ends once the destination has room again, not
            // at every read that happens to fit.
            if (dropping_[from] && transports_[to]->write_buffer_size() <= options_.low_water) {
                dropping_[from] = false;
                log().warn("bridge {} -> {}: relaying again ({} bytes dropped so far)",
                           names_[from], names_[to], flow.bytes_dropped);
            }
        }
        if (take < bytes.size()) {
            flow.bytes_dropped += bytes.size() - take;
            if (!dropping_[from]) {
                dropping_[from] = true;
                log().warn("bridge {} -> {}: {} has {} bytes queued (max_buffer) and {} cannot be "
                           "paused: dropping what it sends",
                           names_[from], names_[to], names_[to],
                           transports_[to]->write_buffer_size(), names_[from]);
            }
        }
        update_flow();
    }

    bool eof(int from) {
        const int to = 1 - from;
        eof_[from] = true;
        if (lost_[to] || transports_[to]->is_closing()) {
            return false;
        }
        if (eof_[to]) {
            // Both inputs have ended and both outputs were shut down: nothing more can flow.
            transports_[to]->close();
            return false;
        }
        if (transports_[to]->can_write_eof()) {
            transports_[to]->write_eof(); // the end of input crosses the bridge
            return true;                  // keep writing what `to` still sends
        }
        transports_[to]->close(); // a serial port has no half-close: flush it and end
        return false;
    }

    void lost(int side, std::error_code error) {
        lost_[side] = true;
        if (error && !error_) {
            error_ = error;
            log().debug("bridge: {} ended: {}", names_[side], error.message());
        }
        const int other = 1 - side;
        if (!lost_[other]) {
            transports_[other]->close(); // flush what it already accepted, then end
            return;
        }
        ended_ = true;
        // Both transports are gone: break the cycle transport -> protocol -> bridge.
        std::array<std::shared_ptr<Transport>, 2> released = std::move(transports_);
        auto callbacks = std::move(closed_callbacks_);
        for (auto& callback : callbacks) {
            detail::invoke_guarded(loop_, "exception in a bridge's on_closed callback",
                                   [&] { callback(error_); });
        }
    }

    void writing_paused(int side, bool full) {
        full_[side] = full;
        update_flow();
    }

private:
    /// Pauses or resumes each source. A pausable source pauses while its destination is full
    /// (back-pressure) — except when both destinations are full at once. Then both keep
    /// reading until the two queues together hold 2 x max_buffer: a peer that stops reading
    /// while its own write to us blocks (socat relays each direction in turn) drains its
    /// queue only once we read from it, so pausing both would stall both forever; reading
    /// it moves bytes from one queue to the other rather than growing the total.
    void update_flow() {
        const bool both_full = full_[0] && full_[1];
        const bool at_bound =
            !lost_[0] && !lost_[1] &&
            transports_[0]->write_buffer_size() + transports_[1]->write_buffer_size() >=
                2 * options_.max_buffer;
        if (both_full && at_bound && !stall_logged_) {
            stall_logged_ = true;
            log().warn("bridge {} <-> {}: both sides full and neither reading; waiting at the "
                       "memory bound (2 x max_buffer)",
                       names_[0], names_[1]);
        }
        for (int from = 0; from < 2; ++from) {
            const int to = 1 - from;
            if (lost_[from] || lost_[to] || eof_[from]) {
                continue;
            }
            Transport& source = *transports_[from];
            const bool pause = pausable_[from] && full_[to] && (!both_full || at_bound);
            if (pause == paused_[from] || source.is_closing()) {
                continue;
            }
            paused_[from] = pause;
            if (pause) {
                ++flows_[from].pauses;
                source.pause_reading();
            } else {
                source.resume_reading();
            }
        }
    }

    BridgeOptions options_;
    std::array<std::shared_ptr<Transport>, 2> transports_;
    std::array<Transport*, 2> raw_{transports_[0].get(), transports_[1].get()};
    Loop& loop_ = transports_[0]->loop();
    std::array<std::string, 2> names_;
    std::array<BridgeFlow, 2> flows_{}; // indexed by source side
    std::array<bool, 2> pausable_{};
    std::array<bool, 2> full_{};     // the side's write buffer is above its high mark
    std::array<bool, 2> paused_{};   // the bridge paused the side's reading
    std::array<bool, 2> eof_{};      // the side's input ended
    std::array<bool, 2> lost_{};     // the side's connection_lost came
    std::array<bool, 2> dropping_{}; // bytes from the side are being dropped
    bool ended_ = false;
    bool stall_logged_ = false;
    std::error_code error_;
    std::vector<std::function<void(std::error_code)>> closed_callbacks_;
};

void RelayProtocol::data_received(ByteView data) {
    bridge_->data(side_, data);
}
bool RelayProtocol::eof_received() {
    return bridge_->eof(side_);
}
void RelayProtocol::connection_lost(std::error_code error) {
    // The bridge may drop the last reference to this side's transport here; keep it alive to
    // the end of the call (the transport itself outlives connection_lost).
    const std::shared_ptr<BridgeImpl> keep = bridge_;
    keep->lost(side_, error);
}
void RelayProtocol::pause_writing() {
    bridge_->writing_paused(side_, true);
}
void RelayProtocol::resume_writing() {
    bridge_->writing_paused(side_, false);
}

} // namespace

std::shared_ptr<Bridge> bridge(std::shared_ptr<Transport> a, std::shared_ptr<Transport> b,
                               BridgeOptions options) {
    const auto refuse = [](const std::string& why) {
        throw Error(make_error_code(errc::invalid_argument), "bridge: " + why);
    };
    if (!a || !b) {
        refuse("both sides need a transport");
    }
    if (a == b) {
        refuse("a transport cannot be bridged to itself");
    }
    if (a->is_closing() || b->is_closing()) {
        refuse(std::string("side ") + (a->is_closing() ? "a" : "b") + " is already closing");
    }
    if (options.low_water > options.high_water) {
        refuse("low_water must not exceed high_water");
    }
    if (options.max_buffer < options.high_water) {
        refuse("max_buffer must be at least high_water");
    }
    auto joined = std::make_shared<BridgeImpl>(std::move(a), std::move(b), std::move(options));
    joined->attach();
    return joined;
}

} // namespace ferry
