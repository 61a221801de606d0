// SerialTransport on pseudo-terminals: options as the kernel sees them, bad options and
// open errors, data both ways, flow control, close/abort, break, drain_to_wire, removal.
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include <uv.h>

#include <ferry/ferry.hpp>

#include "../../transports/src/serial/serial_device_posix.hpp"
#include "../support/pty_pair.hpp"
#include "../support/test_support.hpp"
#include "../support/transfer.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;
using test::PtyPair;
using test::Recording;

class SerialTest : public LoopTest {
protected:
    /// Opens the pty's slave through ferry with a recording protocol; fails the test if that
    /// fails.
    std::shared_ptr<SerialTransport>
    open(const SerialOptions& options = {},
         std::function<void(test::RecordingProtocol&)> setup = {}) {
        auto result = create_serial_connection(loop, test::recording_factory(recording, setup),
                                               pty.path(), options);
        EXPECT_TRUE(result.ok()) << result.message();
        return result.ok() ? result.value() : nullptr;
    }
    /// The error create_serial_connection gives for `path` / `options`.
    static std::string open_error(Loop& loop, const std::string& path, const SerialOptions& options,
                                  std::error_code* code = nullptr) {
        auto result = create_serial_connection(
            loop, test::recording_factory(std::make_shared<Recording>()), path, options);
        EXPECT_FALSE(result.ok());
        if (code != nullptr && !result.ok()) {
            *code = result.code();
        }
        return result.ok() ? std::string() : result.message();
    }
    /// Reads everything the master has within `settle` of silence.
    std::string drain_master(std::chrono::milliseconds settle = 50ms) {
        std::string out;
        pty.set_master_nonblocking(true);
        auto quiet_since = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - quiet_since < settle) {
            loop.run_once(false);
            char buf[65536];
            const ssize_t n = ::read(pty.master(), buf, sizeof buf);
            if (n > 0) {
                out.append(buf, static_cast<std::size_t>(n));
                quiet_since = std::chrono::steady_clock::now();
            } else {
                std::this_thread::sleep_for(1ms);
            }
        }
        return out;
    }

    PtyPair pty;
    std::shared_ptr<Recording> recording = std::make_shared<Recording>();
};

termios master_view(const PtyPair& pty) {
    termios settings{};
    tcgetattr(pty.master(), &settings); // a pty master reports its slave's settings
    return settings;
}

TEST_F(SerialTest, OptionsReachTheKernel) {
    SerialOptions options;
    options.baud_rate = 115200;
    options.stop_bits = StopBits::two;
    options.flow_control = FlowControl::rts_cts;
    auto port = open(options);
    ASSERT_TRUE(port);
    // The pty driver forces CS8 and no parity on every tcsetattr, so data bits and parity are
    // checked on the termios ferry builds (next test); everything else as the kernel keeps it.
    termios seen = master_view(pty);
    EXPECT_EQ(cfgetospeed(&seen), static_cast<speed_t>(B115200));
    EXPECT_TRUE(seen.c_cflag & CSTOPB);
    EXPECT_TRUE(seen.c_cflag & CRTSCTS);
    EXPECT_FALSE(seen.c_cflag & HUPCL); // closing leaves DTR/RTS alone unless asked
    EXPECT_TRUE(seen.c_cflag & CLOCAL);
    EXPECT_FALSE(seen.c_lflag & (ICANON | ECHO | ISIG)); // raw
    EXPECT_FALSE(seen.c_iflag & (ICRNL | IXON));
    EXPECT_FALSE(seen.c_oflag & OPOST);
    EXPECT_EQ(seen.c_cc[VMIN], 0);
    EXPECT_EQ(seen.c_cc[VTIME], 0);
    EXPECT_EQ(describe(port->options()), "115200 8N2 rts/cts"); // read back from the device
    EXPECT_TRUE(port->pauses_sender()) << "a pty's writer waits";
    port->abort();

    SerialOptions xon;
    xon.flow_control = FlowControl::xon_xoff;
    xon.hang_up_on_close = true;
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->lost > 0; }, 5s));
    recording = std::make_shared<Recording>();
    auto second = open(xon);
    ASSERT_TRUE(second);
    seen = master_view(pty);
    EXPECT_TRUE(seen.c_iflag & IXON);
    EXPECT_TRUE(seen.c_iflag & IXOFF);
    EXPECT_FALSE(seen.c_cflag & CRTSCTS);
    EXPECT_TRUE(seen.c_cflag & HUPCL);
    second->abort();
}

// A pty silently keeps 8 data bits and no parity whatever it is asked: the setting is read
// back and refused with what the device holds, on open and on reconfigure, every time (not
// only when the rate changes), and a refused reconfigure leaves the port as it was.
TEST_F(SerialTest, RestoreOnClosePutsBackThePreviousSettingsAfterTheLastByte) {
    termios before = master_view(pty);
    cfsetospeed(&before, B4800);
    cfsetispeed(&before, B4800);
    before.c_cflag |= CSTOPB;
    ASSERT_EQ(tcsetattr(pty.master(), TCSANOW, &before), 0);
    SerialOptions options;
    options.baud_rate = 115200;
    options.restore_on_close = true;
    auto port = open(options);
    ASSERT_TRUE(port);
    termios during = master_view(pty);
    EXPECT_EQ(cfgetospeed(&during), static_cast<speed_t>(B115200));
    port->write("the last words");
    port->close();
    EXPECT_EQ(drain_master(), "the last words"); // flushed before the settings changed back
    EXPECT_TRUE(test::run_until(loop, [&] { return recording->has_lost(); }));
    const termios after = master_view(pty);
    EXPECT_EQ(cfgetospeed(&after), static_cast<speed_t>(B4800));
    EXPECT_TRUE(after.c_cflag & CSTOPB);

    // Without the option the port keeps ferry's settings.
    options.restore_on_close = false;
    auto again = open(options);
    ASSERT_TRUE(again);
    again->close();
    EXPECT_TRUE(test::run_until(loop, [&] { return recording->lost == 2; }));
    termios kept = master_view(pty);
    EXPECT_EQ(cfgetospeed(&kept), static_cast<speed_t>(B115200));
    EXPECT_FALSE(kept.c_cflag & CSTOPB);
}

TEST_F(SerialTest, SettingsTheDeviceDropsAreRefusedNotReportedAsApplied) {
    SerialOptions even;
    even.baud_rate = 19200;
    even.parity = Parity::even;
    for (int attempt = 0; attempt < 2; ++attempt) { // the second open finds 19200 already set
        std::error_code code;
        const std::string message = open_error(loop, pty.path(), even, &code);
        EXPECT_EQ(code, make_error_code(errc::not_supported)) << message;
        EXPECT_NE(message.find("refused parity even: it holds 19200 8N1 after applying 19200 8E1"),
                  std::string::npos)
            << message;
        EXPECT_NE(message.find("pseudo-terminal"), std::string::npos) << message;
        EXPECT_FALSE(serial_error_may_clear(code));
    }
    SerialOptions plain;
    plain.baud_rate = 38400;
    auto port = open(plain);
    ASSERT_TRUE(port);
    EXPECT_EQ(describe(port->options()), "38400 8N1");
    SerialOptions seven = plain;
    seven.baud_rate = 9600;
    seven.data_bits = 7;
    try {
        port->reconfigure(seven);
        ADD_FAILURE() << "7 data bits on a pty were reported as applied";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), make_error_code(errc::not_supported));
        EXPECT_NE(std::string(e.what()).find("refused 7 data bits"), std::string::npos) << e.what();
    }
    EXPECT_EQ(describe(port->options()), "38400 8N1");
    const termios seen = master_view(pty);
    EXPECT_EQ(cfgetospeed(&seen), static_cast<speed_t>(B38400)); // put back
    port->abort();
}

TEST_F(SerialTest, WhichOpenErrorsCanClear) {
    EXPECT_TRUE(serial_error_may_clear(make_error_code(errc::device_removed)));
    EXPECT_TRUE(serial_error_may_clear(std::make_error_code(std::errc::no_such_file_or_directory)));
    EXPECT_TRUE(serial_error_may_clear(std::make_error_code(std::errc::device_or_resource_busy)));
    std::error_code missing;
    open_error(loop, "/dev/ferry-no-such-port", {}, &missing);
    EXPECT_TRUE(serial_error_may_clear(missing)) << missing.message();
    auto port = open();
    ASSERT_TRUE(port);
    std::error_code busy;
    open_error(loop, pty.path(), {}, &busy);
    EXPECT_TRUE(serial_error_may_clear(busy)) << busy.message();
    port->abort();
    for (const char* never : {"/dev/null", "/tmp"}) {
        std::error_code code;
        open_error(loop, never, {}, &code);
        EXPECT_FALSE(serial_error_may_clear(code)) << never << ": " << code.message();
    }
    SerialOptions bad;
    bad.data_bits = 9;
    std::error_code invalid;
    open_error(loop, pty.path(), bad, &invalid);
    EXPECT_FALSE(serial_error_may_clear(invalid));
}

// Bytes that waited in the tty before the open are stale for a terminal or a logger.
TEST_F(SerialTest, DiscardInputOnOpenDropsOnlyWhatWaitedBeforeTheOpen) {
    // The slave must be open for the master's bytes to queue; the pair keeps it open.
    ASSERT_EQ(::write(pty.master(), "stale\n", 6), 6);
    std::this_thread::sleep_for(20ms); // let the line discipline take them
    SerialOptions discard;
    discard.discard_input_on_open = true;
    auto port = open(discard);
    ASSERT_TRUE(port);
    ASSERT_EQ(::write(pty.master(), "fresh\n", 6), 6);
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->data.find("fresh") != std::string::npos; }, 5s));
    EXPECT_EQ(recording->data, "fresh\n");
    port->abort();
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->lost > 0; }, 5s));

    recording = std::make_shared<Recording>();
    ASSERT_EQ(::write(pty.master(), "kept\n", 5), 5);
    std::this_thread::sleep_for(20ms);
    auto keeping = open(); // the default delivers what waited
    ASSERT_TRUE(keeping);
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->data == "kept\n"; }, 5s))
        << recording->data;
    keeping->abort();
}

TEST_F(SerialTest, EveryDataBitsParityAndStopBitsMapsToTermios) {
    struct Case {
        int data_bits;
        Parity parity;
        StopBits stop_bits;
        tcflag_t size;
        tcflag_t set;
        tcflag_t clear;
    };
    const Case cases[] = {
        {8, Parity::none, StopBits::one, CS8, 0, PARENB | CSTOPB},
        {7, Parity::even, StopBits::one, CS7, PARENB, PARODD | CMSPAR},
        {6, Parity::odd, StopBits::two, CS6, PARENB | PARODD | CSTOPB, CMSPAR},
        {5, Parity::mark, StopBits::one_and_half, CS5, PARENB | PARODD | CMSPAR | CSTOPB, 0},
        {8, Parity::space, StopBits::one, CS8, PARENB | CMSPAR, PARODD},
    };
    for (const Case& c : cases) {
        SerialOptions options;
        options.data_bits = c.data_bits;
        options.parity = c.parity;
        options.stop_bits = c.stop_bits;
        termios settings{};
        settings.c_cflag = CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | HUPCL; // all stale
        EXPECT_TRUE(detail::apply_to_termios(settings, options));
        EXPECT_EQ(settings.c_cflag & CSIZE, c.size) << describe(options);
        EXPECT_EQ(settings.c_cflag & c.set, c.set) << describe(options);
        EXPECT_EQ(settings.c_cflag & c.clear, 0u) << describe(options);
        EXPECT_EQ((settings.c_iflag & INPCK) != 0, c.parity != Parity::none);
        EXPECT_FALSE(settings.c_cflag & HUPCL);
    }
    SerialOptions odd_rate;
    odd_rate.baud_rate = 31250; // MIDI: termios has no constant
    termios settings{};
    EXPECT_FALSE(detail::apply_to_termios(settings, odd_rate));
}

TEST_F(SerialTest, NonStandardBaudRatesUseTermios2) {
    SerialOptions options;
    options.baud_rate = 250000; // DMX512; no B constant
    auto port = open(options);
    ASSERT_TRUE(port);
    EXPECT_EQ(test::kernel_baud_rate(pty.master()), 250000u);
    options.baud_rate = 9600;
    port->reconfigure(options);
    EXPECT_EQ(test::kernel_baud_rate(pty.master()), 9600u);
    port->abort();
}

TEST_F(SerialTest, ReconfigureMidStreamKeepsTheData) {
    auto port = open();
    ASSERT_TRUE(port);
    port->write("before ");
    SerialOptions faster;
    faster.baud_rate = 57600;
    faster.stop_bits = StopBits::two;
    port->reconfigure(faster);
    port->write("after");
    EXPECT_EQ(drain_master(), "before after");
    termios seen = master_view(pty);
    EXPECT_EQ(cfgetospeed(&seen), static_cast<speed_t>(B57600));
    EXPECT_TRUE(seen.c_cflag & CSTOPB);
    EXPECT_EQ(port->options().baud_rate, 57600u);
    ASSERT_EQ(::write(pty.master(), "in", 2), 2);
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->data == "in"; }, 5s));
    SerialOptions bad;
    bad.data_bits = 9;
    EXPECT_THROW(port->reconfigure(bad), Error);
    EXPECT_EQ(port->options().baud_rate, 57600u); // a refused change changes nothing
    port->close();
}

TEST_F(SerialTest, InvalidOptionsAreRefusedBeforeOpeningAndNameTheOption) {
    struct Case {
        SerialOptions options;
        const char* names;
    };
    SerialOptions zero_baud;
    zero_baud.baud_rate = 0;
    SerialOptions nine_bits;
    nine_bits.data_bits = 9;
    SerialOptions one_and_half;
    one_and_half.stop_bits = StopBits::one_and_half; // with 8 data bits
    for (const Case& c : {Case{zero_baud, "baud_rate"}, Case{nine_bits, "data_bits"},
                          Case{one_and_half, "stop_bits"}}) {
        std::error_code code;
        // A path that does not exist: the option must be refused before any open.
        const std::string message = open_error(loop, "/dev/ferry-no-such-port", c.options, &code);
        EXPECT_NE(message.find(c.names), std::string::npos) << message;
        EXPECT_EQ(code, make_error_code(errc::invalid_argument)) << message;
    }
    SerialOptions dsr_dtr;
    dsr_dtr.flow_control = FlowControl::dsr_dtr;
    std::error_code code;
    const std::string message = open_error(loop, pty.path(), dsr_dtr, &code);
    EXPECT_EQ(code, make_error_code(errc::not_supported));
    EXPECT_NE(message.find("flow_control"), std::string::npos) << message;
}

TEST_F(SerialTest, OpenErrorsSayWhatToDo) {
    std::error_code code;
    EXPECT_EQ(open_error(loop, "/dev/ferry-no-such-port", {}, &code),
              "no such serial port: /dev/ferry-no-such-port (is the device plugged in?)");
    EXPECT_EQ(code, uv_error(UV_ENOENT));
    EXPECT_EQ(open_error(loop, "/dev/null", {}, &code),
              "not a serial port: /dev/null is not a terminal device");
    EXPECT_EQ(code, uv_error(UV_ENOTTY));
}

TEST_F(SerialTest, PermissionDeniedPointsAtTheDialoutGroup) {
    // Root may open anything, so the check runs in a child that drops to "nobody".
    ASSERT_EQ(chmod(pty.path().c_str(), 0600), 0);
    const pid_t child = fork();
    if (child == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) {
            _exit(3);
        }
        Loop child_loop;
        auto result = create_serial_connection(
            child_loop, test::recording_factory(std::make_shared<Recording>()), pty.path());
        const bool clear = !result.ok() && result.code() == uv_error(UV_EACCES) &&
                           result.message().find("dialout group") != std::string::npos;
        _exit(clear ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(SerialTest, ASecondExclusiveOpenIsBusy) {
    auto port = open();
    ASSERT_TRUE(port);
    std::error_code code;
    EXPECT_EQ(open_error(loop, pty.path(), {}, &code),
              "port is busy: " + pty.path() + " is already open with exclusive access");
    EXPECT_EQ(code, uv_error(UV_EBUSY));
    port->close();
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->lost > 0; }, 5s));
    auto again = open(); // released on close
    EXPECT_TRUE(again);
    again->abort();
}

TEST_F(SerialTest, ModemLinesOnAPtyAreClearlyUnsupported) {
    auto port = open();
    ASSERT_TRUE(port);
    auto expect_unsupported = [](auto&& call, const char* name) {
        try {
            call();
            ADD_FAILURE() << name << " did not throw";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), make_error_code(errc::not_supported)) << name;
            EXPECT_NE(std::string(e.what()).find("not supported by this device"), std::string::npos)
                << e.what();
        }
    };
    expect_unsupported([&] { port->set_rts(true); }, "set_rts");
    expect_unsupported([&] { port->set_dtr(false); }, "set_dtr");
    expect_unsupported([&] { (void)port->modem_status(); }, "modem_status");
    expect_unsupported(
        [&] {
            ModemStatus watch;
            watch.cts = true;
            loop.run_until_complete(port->wait_modem_change(watch));
        },
        "wait_modem_change");
    SerialOptions with_dtr;
    with_dtr.dtr = LineOnOpen::clear;
    port->abort();
    test::run_until(
        loop, [&] { return recording->lost > 0; }, 5s);
    std::error_code code;
    open_error(loop, pty.path(), with_dtr, &code);
    EXPECT_EQ(code, make_error_code(errc::not_supported));
    SerialOptions low_latency;
    low_latency.low_latency = true;
    open_error(loop, pty.path(), low_latency, &code);
    EXPECT_EQ(code, make_error_code(errc::not_supported));
    SerialOptions rs485;
    rs485.rs485 = Rs485Options{};
    const std::string message = open_error(loop, pty.path(), rs485, &code);
    EXPECT_EQ(code, make_error_code(errc::not_supported));
    EXPECT_NE(message.find("rs485"), std::string::npos) << message;
}

using test::Checksum;
using test::fill_random;

TEST_F(SerialTest, SixtyFourMebibytesEachWayWithChecksums) {
    constexpr std::size_t total = 64 * 1024 * 1024;
    std::atomic<std::uint64_t> device_received_sum{0};
    Checksum sent_to_device;
    Checksum sent_by_device;
    Checksum received_from_device;
    std::size_t received = 0;
    auto port = open({}, [&](test::RecordingProtocol& p) {
        p.on_data = [&](Transport&, ByteView data) {
            received_from_device.add(reinterpret_cast<const char*>(data.data()), data.size());
            received += data.size();
        };
    });
    ASSERT_TRUE(port);
    std::mt19937_64 random(42);
    std::string block(256 * 1024, '\0');
    // The device: one thread writes random bytes, one reads what ferry sends.
    std::thread device_writer([&, seed = random()] {
        std::mt19937_64 r(seed);
        std::string chunk(64 * 1024, '\0');
        for (std::size_t done = 0; done < total; done += chunk.size()) {
            fill_random(chunk, r);
            sent_by_device.add(chunk.data(), chunk.size());
            for (std::size_t off = 0; off < chunk.size();) {
                const ssize_t n = ::write(pty.master(), chunk.data() + off, chunk.size() - off);
                if (n <= 0) {
                    return;
                }
                off += static_cast<std::size_t>(n);
            }
        }
    });
    std::thread device_reader([&] {
        Checksum sum;
        std::size_t got = 0;
        std::vector<char> buf(64 * 1024);
        while (got < total) {
            const ssize_t n = ::read(pty.master(), buf.data(), buf.size());
            if (n <= 0) {
                break;
            }
            sum.add(buf.data(), static_cast<std::size_t>(n));
            got += static_cast<std::size_t>(n);
        }
        device_received_sum = sum.value;
    });
    // ferry: write in 256 KiB blocks, respecting pause_writing.
    std::size_t written = 0;
    auto refill = [&] {
        while (written < total && port->write_buffer_size() <= port->write_buffer_limits().high) {
            fill_random(block, random);
            sent_to_device.add(block.data(), block.size());
            port->write(block);
            written += block.size();
        }
    };
    refill();
    EXPECT_TRUE(test::run_until(
        loop,
        [&] {
            refill();
            return received >= total && written >= total && port->write_buffer_size() == 0;
        },
        120s))
        << "received " << received << " written " << written << " queued "
        << port->write_buffer_size() << " reading " << port->is_reading();
    device_writer.join();
    device_reader.join();
    EXPECT_EQ(received, total);
    EXPECT_EQ(received_from_device.value, sent_by_device.value);
    EXPECT_EQ(device_received_sum.load(), sent_to_device.value);
    EXPECT_EQ(recording->lost, 0); // still open: nothing was mistaken for a hang-up
    port->close();
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->lost > 0; }, 5s));
}

TEST_F(SerialTest, WritesPauseAboveTheHighMarkAndResumeWhenTheDeviceReads) {
    auto port = open();
    ASSERT_TRUE(port);
    const std::string chunk(64 * 1024, 'w');
    for (int i = 0; i < 4; ++i) {
        port->write(chunk); // the pty takes a few KiB; the rest queues
    }
    EXPECT_EQ(recording->pauses, 1);
    EXPECT_GT(port->write_buffer_size(), port->write_buffer_limits().high);
    const std::string seen = drain_master(100ms);
    EXPECT_EQ(seen.size(), 4u * chunk.size());
    EXPECT_EQ(recording->resumes, 1);
    EXPECT_EQ(port->write_buffer_size(), 0u);
    port->abort();
}

TEST_F(SerialTest, CloseFlushesAndAbortDrops) {
    auto port = open();
    ASSERT_TRUE(port);
    const std::string payload(100 * 1024, 'c');
    port->write(payload);
    port->close();
    port->write("ignored after close");
    EXPECT_EQ(drain_master(100ms), payload);
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->lost > 0; }, 5s));
    EXPECT_EQ(recording->lost, 1);
    EXPECT_FALSE(recording->lost_error);

    recording = std::make_shared<Recording>();
    auto second = open();
    ASSERT_TRUE(second);
    second->write(payload);
    second->abort();
    EXPECT_LT(drain_master(50ms).size(), payload.size());
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->lost > 0; }, 5s));
    EXPECT_EQ(recording->lost, 1);
    EXPECT_FALSE(recording->lost_error);
}

TEST_F(SerialTest, BreakDoesNotBlockTheLoopAndHoldsWrites) {
    auto port = open();
    ASSERT_TRUE(port);
    int ticks = 0;
    std::function<void()> tick = [&] {
        ++ticks;
        loop.call_later(5ms, tick);
    };
    loop.call_soon(tick);
    const auto started = std::chrono::steady_clock::now();
    std::optional<std::error_code> done;
    port->send_break(150ms, [&](std::error_code e) { done = e; });
    port->write("after the break");
    EXPECT_TRUE(test::run_until(
        loop, [&] { return done.has_value(); }, 5s));
    EXPECT_FALSE(*done);
    // libuv counts timers from its cached loop time (1 ms resolution, taken at the start of
    // the iteration), so allow a little less than the nominal duration.
    EXPECT_GE(std::chrono::steady_clock::now() - started, 140ms);
    EXPECT_GE(ticks, 5); // the loop kept running during the break
    EXPECT_EQ(drain_master(), "after the break");
    auto body = [](std::shared_ptr<SerialTransport> p) -> Task<void> {
        co_await p->send_break(10ms);
    };
    loop.run_until_complete(body(port));
    port->abort();
}

TEST_F(SerialTest, DrainToWireWaitsUntilTheDeviceHasReadEverything) {
    auto port = open();
    ASSERT_TRUE(port);
    const std::string payload(64 * 1024, 'd'); // more than a pty buffers
    port->write(payload);
    bool drained = false;
    port->drain_to_wire([&](std::error_code e) {
        EXPECT_FALSE(e);
        drained = true;
    });
    test::run_until(
        loop, [] { return false; }, 100ms);
    EXPECT_FALSE(drained); // the device has not read
    std::atomic<std::size_t> seen{0};
    std::thread device([&] { // now it reads everything
        char buf[4096];
        while (seen < payload.size()) {
            const ssize_t n = ::read(pty.master(), buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            seen += static_cast<std::size_t>(n);
        }
    });
    EXPECT_TRUE(test::run_until(
        loop, [&] { return drained; }, 10s));
    device.join();
    EXPECT_EQ(seen.load(), payload.size());
    // Nothing pending: completes on its own, never inside the call.
    bool again = false;
    port->drain_to_wire([&](std::error_code) { again = true; });
    EXPECT_FALSE(again);
    EXPECT_TRUE(test::run_until(
        loop, [&] { return again; }, 5s));
    auto body = [](std::shared_ptr<SerialTransport> p) -> Task<void> {
        p->write("x"); // fits in the pty: the awaitable completes after one character time
        co_await p->drain_to_wire();
    };
    loop.run_until_complete(body(port));
    port->abort();
}

TEST_F(SerialTest, DrainToWireFailsWhenThePortCloses) {
    auto port = open();
    ASSERT_TRUE(port);
    port->write(std::string(64 * 1024, 'x'));
    std::optional<std::error_code> result;
    port->drain_to_wire([&](std::error_code e) { result = e; });
    port->abort();
    EXPECT_TRUE(test::run_until(
        loop, [&] { return result.has_value(); }, 5s));
    EXPECT_TRUE(*result);
}

double thread_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

TEST_F(SerialTest, UnpluggingIsReportedOnceQuicklyAndThenTheLoopIsIdle) {
    for (const bool paused : {false, true}) {
        PtyPair device;
        auto lost = std::make_shared<Recording>();
        auto result = create_serial_connection(loop, test::recording_factory(lost), device.path());
        ASSERT_TRUE(result.ok()) << result.message();
        auto port = result.value();
        ASSERT_EQ(::write(device.master(), "last words", 10), 10);
        if (!paused) {
            EXPECT_TRUE(test::run_until(
                loop, [&] { return lost->data == "last words"; }, 5s));
        } else {
            port->pause_reading(); // removal must be seen even when not reading
        }
        const auto unplugged = std::chrono::steady_clock::now();
        device.close_master();
        EXPECT_TRUE(test::run_until(
            loop, [&] { return lost->lost > 0; }, 5s));
        const auto latency = std::chrono::steady_clock::now() - unplugged;
        EXPECT_LT(latency, 100ms) << (paused ? "paused" : "reading");
        EXPECT_EQ(lost->lost_error, make_error_code(errc::device_removed));
        EXPECT_TRUE(port->is_closing());
        // No spin afterwards: the loop sleeps through 200 ms.
        const double cpu_before = thread_cpu_seconds();
        test::run_until(
            loop, [] { return false; }, 200ms);
        EXPECT_LT(thread_cpu_seconds() - cpu_before, 0.05);
        EXPECT_EQ(lost->lost, 1);
        EXPECT_EQ(lost->events.back(), "lost");
    }
}

TEST_F(SerialTest, AWriteToAVanishedDeviceEndsWithDeviceRemoved) {
    auto port = open();
    ASSERT_TRUE(port);
    port->pause_reading();
    pty.close_master();
    port->write("into the void");
    EXPECT_TRUE(test::run_until(
        loop, [&] { return recording->lost > 0; }, 5s));
    EXPECT_EQ(recording->lost_error, make_error_code(errc::device_removed));
}

TEST_F(SerialTest, QueueSizesAndPurge) {
    auto port = open();
    ASSERT_TRUE(port);
    port->pause_reading();
    ASSERT_EQ(::write(pty.master(), "12345", 5), 5);
    EXPECT_TRUE(test::run_until(
        loop, [&] { return port->input_waiting() == 5; }, 5s));
    port->purge(Purge::input);
    EXPECT_EQ(port->input_waiting(), 0u);
    EXPECT_EQ(port->output_waiting(), 0u); // a pty never reports an output queue
    port->write(std::string(64 * 1024, 'p'));
    EXPECT_GT(port->write_buffer_size(), 0u);
    port->purge(Purge::output);
    EXPECT_EQ(port->write_buffer_size(), 0u);
    port->abort();
}

TEST_F(SerialTest, ControlsOnAClosedPortThrowAndLoopDestructionClosesPorts) {
    auto port = open();
    ASSERT_TRUE(port);
    port->close();
    EXPECT_THROW(port->set_rts(true), Error);
    EXPECT_THROW(port->reconfigure({}), Error);
    {
        Loop other;
        PtyPair live;
        auto open_port = create_serial_connection(
            other, test::recording_factory(std::make_shared<Recording>()), live.path());
        ASSERT_TRUE(open_port.ok());
        EXPECT_NO_THROW(other.close()); // closes the port and releases its handles
    }
}

} // namespace
} // namespace ferry
