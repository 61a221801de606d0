#pragma once
/// RequestClient: request / response over any framed transport — co_await client.request(frame)
/// with a timeout, retries, matching, pipelining, late and unsolicited frames handled.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <ferry/error.hpp>
#include <ferry/framed_protocol.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/sync.hpp>
#include <ferry/task.hpp>

namespace ferry {

/// How requests and responses pair up, and how long to wait.
struct RequestOptions {
    /// How long one attempt waits for its response.
    std::chrono::milliseconds timeout{1000};
    /// Attempts after the first when one times out (the request is sent again).
    unsigned retries = 0;
    /// Requests in flight at once; further request() calls wait their turn. 1 suits devices
    /// that answer one thing at a time; more needs `matches`.
    std::size_t max_outstanding = 1;
    /// True when `response` answers `request` (e.g. equal correlation ids). Empty: any frame
    /// answers the oldest outstanding request ("simply the next frame").
    std::function<bool(ByteView request, ByteView response)> matches;
    /// Frames that answer no request and are not late answers. Empty: logged and dropped.
    std::function<void(ByteView frame)> unsolicited;
    /// Timed-out requests remembered so their late answers are recognised and dropped.
    std::size_t late_memory = 16;
};

/// A FramedProtocol that turns frames into request / response calls. Attach it to any
/// transport (a serial port, TCP...) through the factory, then from a task:
/// `Bytes answer = co_await client.request(frame);`. A request that gets no answer within the
/// timeout is sent again up to `retries` times, then fails with TimeoutError. An answer
/// arriving after its request gave up is dropped and counted (late_responses); a frame
/// answering nothing is passed to `unsolicited` and counted. Losing the connection fails every
/// outstanding request with the loss reason. Cancelling a request() stops waiting for it.
/// Loop thread only.
template <FrameCodec Codec>
class RequestClient : public FramedProtocol<Codec> {
public:
    /// A client framing with `codec`.
    RequestClient(Codec codec, RequestOptions options = {},
                  OversizePolicy on_oversize = OversizePolicy::close)
        : FramedProtocol<Codec>(std::move(codec), on_oversize), options_(std::move(options)),
          slots_(static_cast<std::ptrdiff_t>(std::max<std::size_t>(1, options_.max_outstanding))) {}

    /// Sends `frame` and returns its answer. Throws TimeoutError after 1 + retries attempts,
    /// ferry::Error(closed) or the connection's loss reason if it goes away, CancelledError if
    /// the awaiting task is cancelled.
    Task<Bytes> request(Bytes frame) {
        return request(std::move(frame), options_.timeout, options_.retries);
    }

    /// The same with this call's own timeout and retries.
    Task<Bytes> request(Bytes frame, std::chrono::milliseconds timeout, unsigned retries) {
        co_await slots_.acquire();
        SlotGuard slot{slots_};
        for (unsigned attempt = 0;; ++attempt) {
            if (this->transport() == nullptr) {
                throw Error(lost_ ? lost_ : make_error_code(errc::closed),
                            "request: not connected" +
                                (lost_ ? " (" + lost_.message() + ")" : std::string()));
            }
            auto pending = std::make_shared<Pending>(frame, this->transport()->loop());
            outstanding_.push_back(pending);
            PendingGuard guard{*this, pending};
            this->send_frame(frame);
            if (attempt > 0) {
                ++retries_sent_;
            }
            std::weak_ptr<Pending> weak = pending;
            CallbackHandle timer = this->transport()->loop().call_later(timeout, [weak] {
                if (auto p = weak.lock(); p && !p->response.done()) {
                    p->response.set_exception(std::make_exception_ptr(TimeoutError(
                        std::make_error_code(std::errc::timed_out), "request timed out")));
                }
            });
            Future<Bytes> response = pending->response;
            bool timed_out = false;
            Bytes answer;
            try {
                answer = co_await response;
            } catch (const TimeoutError&) {
                timed_out = true;
            }
            timer.cancel();
            if (!timed_out) {
                co_return answer;
            }
            ++timeouts_;
            remember_expired(frame);
            if (attempt == retries) {
                throw TimeoutError(std::make_error_code(std::errc::timed_out),
                                   "request got no answer: " + std::to_string(retries + 1) +
                                       " attempt" + (retries == 0 ? "" : "s") + " of " +
                                       std::to_string(timeout.count()) + " ms");
            }
        }
    }

    /// Answers that came after their request gave up, dropped.
    std::uint64_t late_responses() const noexcept { return late_; }
    /// Frames that answered nothing.
    std::uint64_t unsolicited_frames() const noexcept { return unsolicited_; }
    /// Attempts that timed out.
    std::uint64_t timeouts() const noexcept { return timeouts_; }
    /// Requests sent again after a timeout.
    std::uint64_t retries_sent() const noexcept { return retries_sent_; }
    /// Requests waiting for an answer now.
    std::size_t outstanding() const noexcept { return outstanding_.size(); }

    void frame_received(ByteView frame) override {
        for (auto it = outstanding_.begin(); it != outstanding_.end(); ++it) {
            Pending& p = **it;
            if (!p.response.done() && (!options_.matches || options_.matches(p.request, frame))) {
                p.response.set_result(frame.to_bytes());
                outstanding_.erase(it);
                return;
            }
        }
        for (auto it = expired_.begin(); it != expired_.end(); ++it) {
            if (!options_.matches || options_.matches(*it, frame)) {
                ++late_;
                log().debug("late answer of {} bytes dropped", frame.size());
                expired_.erase(it);
                return;
            }
        }
        ++unsolicited_;
        if (options_.unsolicited) {
            options_.unsolicited(frame);
        } else {
            log().info("unsolicited frame of {} bytes dropped", frame.size());
        }
    }

    void connection_lost(std::error_code error) override {
        FramedProtocol<Codec>::connection_lost(error);
        lost_ = error ? error : make_error_code(errc::closed);
        auto failing = std::move(outstanding_);
        outstanding_.clear();
        for (auto& p : failing) {
            if (!p->response.done()) {
                p->response.set_exception(std::make_exception_ptr(
                    Error(lost_, "request: connection lost (" + lost_.message() + ")")));
            }
        }
    }

private:
    struct Pending {
        Pending(const Bytes& frame, Loop& loop) : request(frame), response(loop) {}
        Bytes request;
        Future<Bytes> response;
    };
    /// Returns the pipelining slot however request() ends.
    struct SlotGuard {
        Semaphore& slots;
        ~SlotGuard() { slots.release(); }
    };
    /// Takes the attempt off the outstanding list however it ends (answer, timeout, cancel).
    struct PendingGuard {
        RequestClient& client;
        std::shared_ptr<Pending> pending;
        ~PendingGuard() {
            auto& list = client.outstanding_;
            list.erase(std::remove(list.begin(), list.end(), pending), list.end());
        }
    };

    void remember_expired(const Bytes& frame) {
        if (options_.late_memory == 0) {
            return;
        }
        if (expired_.size() == options_.late_memory) {
            expired_.pop_front();
        }
        expired_.push_back(frame);
    }

    RequestOptions options_;
    Semaphore slots_;
    std::deque<std::shared_ptr<Pending>> outstanding_;
    std::deque<Bytes> expired_;
    std::error_code lost_;
    std::uint64_t late_ = 0;
    std::uint64_t unsolicited_ = 0;
    std::uint64_t timeouts_ = 0;
    std::uint64_t retries_sent_ = 0;
};

} // namespace ferry
