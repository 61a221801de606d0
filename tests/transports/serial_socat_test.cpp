// Serial ports on a socat pty pair: two pseudo-terminals joined by a real socat process, each
// end opened by ferry as a serial port (the two-boards-on-a-cable setup), then socat killed as
// if the cable were pulled.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include <ferry/serial.hpp>

#include "../support/temp_dir.hpp"
#include "../support/test_support.hpp"
#include "../support/transfer.hpp"

extern char** environ;

namespace ferry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::Checksum;
using test::fill_random;
using test::LoopTest;
using test::Recording;
using test::recording_factory;
using test::RecordingProtocol;
using test::run_until;

/// `socat pty,rawer,link=DIR/a pty,rawer,link=DIR/b`, killed on destruction.
class SocatPtyPair {
public:
    SocatPtyPair() : dir_("ferry-socat") {
        const std::string a = "pty,rawer,link=" + end_a();
        const std::string b = "pty,rawer,link=" + end_b();
        const char* argv[] = {"socat", a.c_str(), b.c_str(), nullptr};
        if (::posix_spawnp(&pid_, "socat", nullptr, nullptr, const_cast<char**>(argv), environ) !=
            0) {
            pid_ = -1;
            return;
        }
        // socat creates the links once both ptys are open; wait for them (bounded).
        for (int i = 0; i < 500 && !(fs::exists(end_a()) && fs::exists(end_b())); ++i) {
            std::this_thread::sleep_for(10ms);
        }
    }
    ~SocatPtyPair() { kill(); }
    SocatPtyPair(const SocatPtyPair&) = delete;
    SocatPtyPair& operator=(const SocatPtyPair&) = delete;

    /// True once socat runs and both links exist.
    bool ready() const { return pid_ > 0 && fs::exists(end_a()) && fs::exists(end_b()); }
    std::string end_a() const { return (dir_ / "a").string(); }
    std::string end_b() const { return (dir_ / "b").string(); }
    /// Ends socat: both ptys vanish, as when a USB-serial cable is pulled.
    void kill() {
        if (pid_ > 0) {
            // SIGKILL, not SIGTERM: socat 1.7.4's SIGTERM handler calls exit(), which now and
            // then deadlocks (about 1 run in 600 here) and the waitpid below never returned.
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
        }
    }

private:
    test::TempDir dir_;
    pid_t pid_ = -1;
};

class SocatSerialTest : public LoopTest {
protected:
    std::shared_ptr<SerialTransport> open(const std::string& path, std::shared_ptr<Recording> r,
                                          std::function<void(RecordingProtocol&)> setup = {}) {
        SerialOptions options;
        options.baud_rate = 115200;
        auto result = create_serial_connection(loop, recording_factory(r, setup), path, options);
        EXPECT_TRUE(result.ok()) << result.message();
        return result.ok() ? result.value() : nullptr;
    }
};

TEST_F(SocatSerialTest, SixteenMebibytesEachWayBetweenTwoPorts) {
    SocatPtyPair socat;
    ASSERT_TRUE(socat.ready()) << "socat did not start (is the socat package installed?)";
    constexpr std::size_t total = 16 * 1024 * 1024;
    Checksum received_by[2];
    std::size_t received[2] = {0, 0};
    auto recordings = std::array{std::make_shared<Recording>(), std::make_shared<Recording>()};
    std::array<std::shared_ptr<SerialTransport>, 2> ports;
    for (int side = 0; side < 2; ++side) {
        ports[side] = open(side == 0 ? socat.end_a() : socat.end_b(), recordings[side],
                           [&, side](RecordingProtocol& p) {
                               p.on_data = [&, side](Transport&, ByteView data) {
                                   received_by[side].add(data.data(), data.size());
                                   received[side] += data.size();
                               };
                           });
        ASSERT_TRUE(ports[side]);
    }
    // Each side sends its own random stream, respecting the write buffer's high-water mark.
    std::mt19937_64 random[2] = {std::mt19937_64(1), std::mt19937_64(2)};
    Checksum sent_by[2];
    std::size_t written[2] = {0, 0};
    std::string block(64 * 1024, '\0');
    auto refill = [&] {
        for (int side = 0; side < 2; ++side) {
            while (written[side] < total &&
                   ports[side]->write_buffer_size() <= ports[side]->write_buffer_limits().high) {
                fill_random(block, random[side]);
                sent_by[side].add(block.data(), block.size());
                ports[side]->write(block);
                written[side] += block.size();
            }
        }
    };
    EXPECT_TRUE(run_until(
        loop,
        [&] {
            refill();
            return received[0] >= total && received[1] >= total;
        },
        120s))
        << "a received " << received[0] << ", b received " << received[1];
    EXPECT_EQ(received[0], total);
    EXPECT_EQ(received[1], total);
    EXPECT_EQ(received_by[1].value, sent_by[0].value);
    EXPECT_EQ(received_by[0].value, sent_by[1].value);
    for (auto& port : ports) {
        port->close();
    }
    EXPECT_TRUE(run_until(
        loop, [&] { return recordings[0]->lost && recordings[1]->lost; }, 5s));
}

TEST_F(SocatSerialTest, KillingSocatRemovesBothPortsOnce) {
    SocatPtyPair socat;
    ASSERT_TRUE(socat.ready()) << "socat did not start (is the socat package installed?)";
    auto a = std::make_shared<Recording>();
    auto b = std::make_shared<Recording>();
    auto port_a = open(socat.end_a(), a);
    auto port_b = open(socat.end_b(), b);
    ASSERT_TRUE(port_a && port_b);
    port_a->write("ping");
    ASSERT_TRUE(run_until(
        loop, [&] { return b->data == "ping"; }, 5s));
    socat.kill();
    ASSERT_TRUE(run_until(
        loop, [&] { return a->lost && b->lost; }, 5s));
    run_until(
        loop, [] { return false; }, 50ms);
    EXPECT_EQ(a->lost, 1);
    EXPECT_EQ(b->lost, 1);
    EXPECT_EQ(a->lost_error, make_error_code(errc::device_removed));
    EXPECT_EQ(b->lost_error, make_error_code(errc::device_removed));
}

TEST_F(SocatSerialTest, ASecondOpenOfASocatEndIsBusy) {
    SocatPtyPair socat;
    ASSERT_TRUE(socat.ready()) << "socat did not start (is the socat package installed?)";
    auto first = open(socat.end_a(), std::make_shared<Recording>());
    ASSERT_TRUE(first);
    auto second = create_serial_connection(
        loop, [] { return std::make_unique<Protocol>(); }, socat.end_a());
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.message().find("port is busy"), std::string::npos) << second.message();
    first->close();
}

} // namespace
} // namespace ferry
