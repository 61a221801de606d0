#pragma once
// Helpers shared by the test suite: running a loop until something happens, awaiting a
// callback-style result, and a protocol that records every event it sees.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FERRY_TEST_THREAD_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(FERRY_TEST_THREAD_SANITIZER)
#include <poll.h>
#endif

namespace ferry::test {

/// Under ThreadSanitizer, has the runtime set up this thread's signal state now. GCC 12's
/// runtime sets it up lazily, on the first blocking call, and a signal arriving during that
/// set-up is lost: a child's SIGCHLD landing there left the child's exit unreported (the
/// loop's first poll came right after a spawn; 3 hangs in 30 runs). An empty poll sets it up.
inline void prepare_thread_sanitizer_signals() {
#if defined(__SANITIZE_THREAD__) || defined(FERRY_TEST_THREAD_SANITIZER)
    ::poll(nullptr, 0, 0);
#endif
}

/// Runs `loop` until `done()` is true or `timeout` passes; returns done().
inline bool run_until(Loop& loop, const std::function<bool()>& done,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    bool timed_out = false;
    auto guard = loop.call_later(timeout, [&] { timed_out = true; });
    while (!done() && !timed_out) {
        loop.run_once(true);
    }
    guard.cancel();
    return done();
}

/// Starts a callback-style operation and runs the loop until it reports; fails the test on
/// timeout. `start` receives the completion callback to pass on.
template <class T>
Result<T> wait_result(Loop& loop, const std::function<void(std::function<void(Result<T>)>)>& start,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::optional<Result<T>> result;
    start([&](Result<T> r) { result.emplace(std::move(r)); });
    EXPECT_TRUE(run_until(
        loop, [&] { return result.has_value(); }, timeout))
        << "operation did not complete";
    if (!result) {
        return Result<T>::failure(make_error_code(errc::connect_timeout), "test timed out");
    }
    return std::move(*result);
}

/// What a RecordingProtocol saw.
struct Recording {
    std::vector<std::string> events; // "made", "data", "eof", "lost", "pause", "resume"
    std::string data;
    std::error_code lost_error;
    int made = 0;
    int lost = 0;
    int eof = 0;
    int pauses = 0;
    int resumes = 0;
    Transport* transport = nullptr;

    bool has_lost() const { return lost > 0; }
};

/// A protocol that records events into a Recording the test owns, and runs optional hooks.
class RecordingProtocol : public Protocol {
public:
    explicit RecordingProtocol(std::shared_ptr<Recording> recording)
        : recording_(std::move(recording)) {}

    std::function<void(Transport&)> on_made;
    std::function<void(Transport&, ByteView)> on_data;
    std::function<bool(Transport&)> on_eof;
    std::function<void(Transport&, std::error_code)> on_lost;
    std::function<void(Transport&)> on_pause;
    std::function<void(Transport&)> on_resume;

    void connection_made(Transport& transport) override {
        recording_->events.push_back("made");
        ++recording_->made;
        recording_->transport = &transport;
        transport_ = &transport;
        if (on_made) {
            on_made(transport);
        }
    }
    void data_received(ByteView data) override {
        if (recording_->events.empty() || recording_->events.back() != "data") {
            recording_->events.push_back("data");
        }
        recording_->data.append(data.as_string_view());
        if (on_data) {
            on_data(*transport_, data);
        }
    }
    bool eof_received() override {
        recording_->events.push_back("eof");
        ++recording_->eof;
        return on_eof ? on_eof(*transport_) : false;
    }
    void connection_lost(std::error_code error) override {
        recording_->events.push_back("lost");
        ++recording_->lost;
        recording_->lost_error = error;
        recording_->transport = nullptr;
        if (on_lost) {
            on_lost(*transport_, error);
        }
    }
    void pause_writing() override {
        recording_->events.push_back("pause");
        ++recording_->pauses;
        if (on_pause) {
            on_pause(*transport_);
        }
    }
    void resume_writing() override {
        recording_->events.push_back("resume");
        ++recording_->resumes;
        if (on_resume) {
            on_resume(*transport_);
        }
    }

private:
    std::shared_ptr<Recording> recording_;
    Transport* transport_ = nullptr;
};

/// A factory making RecordingProtocols that record into `recording`, configured by `setup`.
inline ProtocolFactory recording_factory(std::shared_ptr<Recording> recording,
                                         std::function<void(RecordingProtocol&)> setup = {}) {
    return [recording, setup] {
        auto protocol = std::make_unique<RecordingProtocol>(recording);
        if (setup) {
            setup(*protocol);
        }
        return protocol;
    };
}

/// A test fixture owning a loop that must close cleanly (uv_loop_close() == 0).
class LoopTest : public ::testing::Test {
protected:
    LoopTest() { prepare_thread_sanitizer_signals(); }
    void TearDown() override {
        EXPECT_NO_THROW(loop.close());
        EXPECT_TRUE(loop.is_closed());
    }
    Loop loop;
};

/// Starts a server on 127.0.0.1 (or `host`), port 0; fails the test if that fails.
inline std::shared_ptr<Server> start_server(Loop& loop, ProtocolFactory factory,
                                            const std::string& host = "127.0.0.1",
                                            ServerOptions options = {}) {
    auto result = wait_result<std::shared_ptr<Server>>(
        loop, [&](auto done) { create_server(loop, factory, host, 0, options, done); });
    EXPECT_TRUE(result.ok()) << result.message();
    return result.ok() ? result.value() : nullptr;
}

/// Connects to host:port; fails the test if that fails.
inline std::shared_ptr<Transport> connect_to(Loop& loop, ProtocolFactory factory,
                                             const std::string& host, std::uint16_t port,
                                             ConnectOptions options = {}) {
    auto result = wait_result<std::shared_ptr<Transport>>(
        loop, [&](auto done) { create_connection(loop, factory, host, port, options, done); });
    EXPECT_TRUE(result.ok()) << result.message();
    return result.ok() ? result.value() : nullptr;
}

} // namespace ferry::test
