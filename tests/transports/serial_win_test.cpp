// The Windows serial transport over two COM ports joined like a null-modem cable. Under Wine,
// tests/windows/run_under_wine.sh maps two COM ports to the two ends of a socat pty pair and
// names them in FERRY_TEST_COM_PAIR ("COM7,COM8"); without it the tests skip, saying why.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/ferry.hpp>

#include "../../transports/src/serial/serial_errors_win.hpp"
#include "../support/test_support.hpp"
#include "../support/windows_ports.hpp"

namespace ferry {
namespace {

using namespace std::chrono_literals;
using test::LoopTest;
using test::Recording;
using test::run_until;

using test::com_pair;
using test::running_under_wine;

class WindowsSerialTest : public LoopTest {
protected:
    void SetUp() override {
        std::tie(a_name, b_name) = com_pair();
        if (a_name.empty()) {
            GTEST_SKIP() << test::no_com_pair_reason();
        }
    }
    std::shared_ptr<SerialTransport>
    open(const std::string& name, std::shared_ptr<Recording> record, SerialOptions options = {}) {
        options.baud_rate = 115200;
        auto result =
            create_serial_connection(loop, test::recording_factory(record), name, options);
        EXPECT_TRUE(result.ok()) << (result.ok() ? "" : result.message());
        return result.ok() ? result.value() : nullptr;
    }
    std::string a_name;
    std::string b_name;
};

TEST_F(WindowsSerialTest, BytesCrossBothWaysWhole) {
    auto a = std::make_shared<Recording>();
    auto b = std::make_shared<Recording>();
    auto port_a = open(a_name, a);
    auto port_b = open(b_name, b);
    ASSERT_TRUE(port_a && port_b);
    std::string block(256 * 1024, '\0');
    for (std::size_t i = 0; i < block.size(); ++i) {
        block[i] = static_cast<char>((i * 131 + i / 7) & 0xFF); // every byte value, 0xFF too
    }
    port_a->write(ByteView(block));
    port_b->write(ByteView(block.substr(0, 1000)));
    ASSERT_TRUE(run_until(
        loop, [&] { return b->data.size() >= block.size() && a->data.size() >= 1000; }, 30s))
        << "b got " << b->data.size() << ", a got " << a->data.size();
    EXPECT_EQ(b->data, block);
    EXPECT_EQ(a->data, block.substr(0, 1000));
    port_a->close();
    port_b->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return a->lost == 1 && b->lost == 1; }, 10s));
    EXPECT_FALSE(a->lost_error) << a->lost_error.message();
}

TEST_F(WindowsSerialTest, PausedReadingHoldsDataAndResumesWithNothingLost) {
    auto a = std::make_shared<Recording>();
    auto b = std::make_shared<Recording>();
    auto port_a = open(a_name, a);
    auto port_b = open(b_name, b);
    ASSERT_TRUE(port_a && port_b);
    port_b->pause_reading();
    port_a->write(ByteView(std::string("first")));
    run_until(
        loop, [] { return false; }, 200ms);
    EXPECT_EQ(b->data, "");
    port_a->write(ByteView(std::string(" second")));
    port_b->resume_reading();
    ASSERT_TRUE(run_until(
        loop, [&] { return b->data.size() >= 12; }, 10s))
        << b->data;
    EXPECT_EQ(b->data, "first second");
    port_a->abort();
    port_b->abort();
    ASSERT_TRUE(run_until(
        loop, [&] { return a->lost == 1 && b->lost == 1; }, 10s));
}

TEST_F(WindowsSerialTest, DrainToWireCompletesAndCloseSendsEverything) {
    auto a = std::make_shared<Recording>();
    auto b = std::make_shared<Recording>();
    auto port_a = open(a_name, a);
    auto port_b = open(b_name, b);
    ASSERT_TRUE(port_a && port_b);
    port_a->write(ByteView(std::string(4096, 'x')));
    std::error_code drained = make_error_code(errc::closed);
    bool done = false;
    port_a->drain_to_wire([&](std::error_code e) {
        drained = e;
        done = true;
    });
    ASSERT_TRUE(run_until(
        loop, [&] { return done; }, 10s));
    EXPECT_FALSE(drained) << drained.message();
    EXPECT_EQ(port_a->write_buffer_size(), 0u);
    port_a->write(ByteView(std::string(4096, 'y')));
    port_a->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return b->data.size() >= 8192; }, 10s))
        << b->data.size();
    EXPECT_EQ(b->data, std::string(4096, 'x') + std::string(4096, 'y'));
    port_b->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return a->lost == 1 && b->lost == 1; }, 10s));
}

TEST_F(WindowsSerialTest, SettingsControlsAndTheirLimitsUnderThisDriver) {
    auto a = std::make_shared<Recording>();
    auto port_a = open(a_name, a);
    ASSERT_TRUE(port_a);
    SerialOptions changed = port_a->options();
    changed.baud_rate = 57600;
    changed.stop_bits = StopBits::two;
    EXPECT_NO_THROW(port_a->reconfigure(changed));
    EXPECT_EQ(port_a->options().baud_rate, 57600u);
    EXPECT_NO_THROW(port_a->purge(Purge::both));
    EXPECT_EQ(port_a->input_waiting(), 0u);
    EXPECT_EQ(port_a->output_waiting(), 0u);
    bool broke = false;
    port_a->send_break(5ms, [&](std::error_code e) {
        EXPECT_FALSE(e) << e.message();
        broke = true;
    });
    ASSERT_TRUE(run_until(
        loop, [&] { return broke; }, 5s));
    port_a->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return a->lost == 1; }, 10s));
}

TEST_F(WindowsSerialTest, OpenErrorsSayWhatIsWrong) {
    auto record = std::make_shared<Recording>();
    auto missing = create_serial_connection(loop, test::recording_factory(record), "COM97");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.message().find("no such serial port: COM97"), std::string::npos)
        << missing.message();
    auto first = open(a_name, record);
    ASSERT_TRUE(first);
    auto second = create_serial_connection(loop, test::recording_factory(record), a_name);
    if (running_under_wine()) {
        // Windows opens a COM port for one handle at a time; Wine maps it to a tty and lets
        // a second handle open it.
        std::printf("[  NOTE    ] busy-port refusal not checked: Wine shares COM ports\n");
        if (second.ok()) {
            second.value()->abort();
        }
    } else {
        ASSERT_FALSE(second.ok());
        EXPECT_NE(second.message().find("port is busy"), std::string::npos) << second.message();
    }
    first->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return record->lost == record->made; }, 10s));
    EXPECT_EQ(record->made, running_under_wine() ? 2 : 1);
}

TEST_F(WindowsSerialTest, OpenPortsShareOneWaiterThread) {
    if (!running_under_wine()) {
        GTEST_SKIP() << "opens one COM port 16 times, which only Wine allows";
    }
    auto record = std::make_shared<Recording>();
    std::vector<std::shared_ptr<SerialTransport>> ports;
    ports.push_back(open(a_name, record));
    ASSERT_TRUE(ports.back());
    const int with_one = test::thread_count();
    for (int i = 1; i < 16; ++i) {
        ports.push_back(open(i % 2 == 0 ? a_name : b_name, record));
        ASSERT_TRUE(ports.back());
    }
    run_until(
        loop, [] { return false; }, 50ms);
    EXPECT_EQ(test::thread_count(), with_one) << "a thread per port";
    std::printf("[  NOTE    ] threads with 1 port: %d, with 16: %d\n", with_one,
                test::thread_count());
    for (auto& port : ports) {
        port->abort();
    }
    ASSERT_TRUE(run_until(
        loop, [&] { return record->lost == 16; }, 10s));
}

// Modem lines across the pair, wired as a null-modem cable (com0com's default): one port's
// RTS is the other's CTS, its DTR the other's DSR.
TEST_F(WindowsSerialTest, ModemLinesFollowTheOtherPortsControlsAndWaitsWakeOnChange) {
    auto a = std::make_shared<Recording>();
    auto b = std::make_shared<Recording>();
    auto port_a = open(a_name, a);
    auto port_b = open(b_name, b);
    ASSERT_TRUE(port_a && port_b);
    if (running_under_wine()) {
        // What Wine can show: the refusal is clear, names the call and the port.
        for (const char* call : {"modem_status", "wait_modem_change"}) {
            try {
                if (std::string(call) == "modem_status") {
                    (void)port_b->modem_status();
                } else {
                    ModemStatus watch;
                    watch.cts = true;
                    loop.run_until_complete(port_b->wait_modem_change(watch));
                }
                ADD_FAILURE() << call << " worked on a Wine COM port";
            } catch (const Error& error) {
                EXPECT_EQ(error.code(), make_error_code(errc::not_supported)) << error.what();
                EXPECT_NE(std::string(error.what()).find(call), std::string::npos) << error.what();
                EXPECT_NE(std::string(error.what()).find(b_name), std::string::npos)
                    << error.what();
            }
        }
        port_a->abort();
        port_b->abort();
        ASSERT_TRUE(run_until(
            loop, [&] { return a->lost == 1 && b->lost == 1; }, 10s));
        GTEST_SKIP() << "Wine's COM port is a pty: no modem lines (GetCommModemStatus and "
                        "WaitCommEvent fail there), so the lines across the pair and "
                        "wait_modem_change run only on Windows with a null-modem driver";
    }
    port_a->set_rts(false);
    port_a->set_dtr(false);
    ASSERT_TRUE(run_until(
        loop, [&] { return !port_b->modem_status().cts && !port_b->modem_status().dsr; }, 5s));
    port_a->set_rts(true);
    port_a->set_dtr(true);
    ASSERT_TRUE(run_until(
        loop, [&] { return port_b->modem_status().cts && port_b->modem_status().dsr; }, 5s));

    ModemStatus watch;
    watch.cts = true;
    auto waiting = loop.create_task(port_b->wait_modem_change(watch));
    run_until(
        loop, [] { return false; }, 100ms);
    EXPECT_FALSE(waiting.done()) << "woke with nothing changed";
    port_a->set_rts(false);
    ASSERT_TRUE(run_until(
        loop, [&] { return waiting.done(); }, 5s));
    EXPECT_FALSE(waiting.result().cts);

    auto cancelled = loop.create_task(port_b->wait_modem_change(watch));
    run_until(
        loop, [] { return false; }, 50ms);
    cancelled.cancel();
    ASSERT_TRUE(run_until(
        loop, [&] { return cancelled.done(); }, 5s));
    EXPECT_TRUE(cancelled.cancelled());
    port_a->close();
    port_b->close();
    ASSERT_TRUE(run_until(
        loop, [&] { return a->lost == 1 && b->lost == 1; }, 10s));
}

// Removal cannot be staged under Wine or with com0com; what it rests on is which errors a
// failed read or write means "the device is gone" (drivers disagree: see docs/design.md).
TEST(WindowsSerialErrorsTest, RemovalCodesEndTheConnectionAsDeviceRemovedOthersAsThemselves) {
    const auto removed = make_error_code(errc::device_removed);
    int listings = 0;
    const auto listed = [&] {
        ++listings;
        return true;
    };
    const auto gone = [&] {
        ++listings;
        return false;
    };
    for (const DWORD code :
         {DWORD{ERROR_ACCESS_DENIED}, DWORD{ERROR_BAD_COMMAND}, DWORD{ERROR_DEVICE_REMOVED},
          DWORD{ERROR_DEVICE_NOT_CONNECTED}, DWORD{433}, DWORD{ERROR_OPERATION_ABORTED}}) {
        EXPECT_EQ(detail::serial_io_failure(code, listed), removed) << "Windows error " << code;
    }
    EXPECT_EQ(listings, 0) << "the port list is looked at for ERROR_GEN_FAILURE alone";
    EXPECT_EQ(detail::serial_io_failure(ERROR_GEN_FAILURE, gone), removed);
    const std::error_code still_there = detail::serial_io_failure(ERROR_GEN_FAILURE, listed);
    EXPECT_NE(still_there, removed);
    EXPECT_EQ(still_there, detail::win32_error(ERROR_GEN_FAILURE));
    EXPECT_EQ(listings, 2);
    EXPECT_EQ(detail::serial_io_failure(ERROR_INVALID_PARAMETER, gone),
              detail::win32_error(ERROR_INVALID_PARAMETER));
    EXPECT_NE(detail::win32_message(ERROR_GEN_FAILURE).find("Windows error 31"), std::string::npos)
        << detail::win32_message(ERROR_GEN_FAILURE);
}

/// Adds COM port names to HARDWARE\DEVICEMAP\SERIALCOMM (where serial drivers list their
/// ports) for the test's lifetime, as a driver would.
class SerialCommEntries {
public:
    explicit SerialCommEntries(std::initializer_list<std::pair<std::wstring, std::wstring>> ports)
        : ports_(ports) {
        if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"HARDWARE\\DEVICEMAP\\SERIALCOMM", 0, nullptr,
                            REG_OPTION_VOLATILE, KEY_ALL_ACCESS, nullptr, &key_,
                            nullptr) != ERROR_SUCCESS) {
            key_ = nullptr;
            return;
        }
        for (const auto& [device, name] : ports_) {
            RegSetValueExW(key_, device.c_str(), 0, REG_SZ,
                           reinterpret_cast<const BYTE*>(name.c_str()),
                           static_cast<DWORD>((name.size() + 1) * sizeof(wchar_t)));
        }
    }
    ~SerialCommEntries() {
        if (key_ != nullptr) {
            for (const auto& entry : ports_) {
                RegDeleteValueW(key_, entry.first.c_str());
            }
            RegCloseKey(key_);
        }
    }
    bool ok() const { return key_ != nullptr; }

private:
    std::vector<std::pair<std::wstring, std::wstring>> ports_;
    HKEY key_ = nullptr;
};

TEST(WindowsPortListTest, PortsInTheSerialCommMapAreListedInNumberOrderAndGrepped) {
    // SetupAPI lists no ports under Wine, so this shows the registry fallback; the SetupAPI
    // part (friendly names, USB identity) needs a Windows machine with a USB adapter.
    SerialCommEntries entries(
        {{L"\\Device\\FerryTest10", L"COM110"}, {L"\\Device\\FerryTest2", L"COM102"}});
    ASSERT_TRUE(entries.ok()) << "cannot write HARDWARE\\DEVICEMAP\\SERIALCOMM";
    const std::vector<PortInfo> ports = list_ports();
    const auto at = [&](const std::string& device) {
        return std::find_if(ports.begin(), ports.end(),
                            [&](const PortInfo& p) { return p.device == device; });
    };
    ASSERT_NE(at("COM102"), ports.end());
    ASSERT_NE(at("COM110"), ports.end());
    EXPECT_LT(at("COM102"), at("COM110")); // COM102 before COM110, COM2 before COM10
    EXPECT_EQ(at("COM110")->name, "COM110");
    EXPECT_EQ(at("COM110")->description, "COM110");
    EXPECT_EQ(at("COM110")->hwid, "\\Device\\FerryTest10");
    EXPECT_FALSE(at("COM110")->vid.has_value());
    const std::vector<PortInfo> found = grep_ports("ferrytest2");
    ASSERT_EQ(found.size(), 1u);
    EXPECT_EQ(found[0].device, "COM102");
    if (running_under_wine()) {
        std::printf("[  NOTE    ] SetupAPI lists no ports under Wine: only SERIALCOMM checked\n");
    }
}

using WindowsPortWatcherTest = LoopTest;

TEST_F(WindowsPortWatcherTest, APortEnteringAndLeavingTheSerialCommMapIsReported) {
    // A serial driver lists its port in SERIALCOMM while the port exists: an entry written
    // and deleted here is what plugging a dongle in and pulling it out look like.
    std::vector<PortChange> changes;
    auto watcher = watch_ports(loop, [&](const PortChange& change) { changes.push_back(change); });
    ASSERT_TRUE(watcher->is_watching());
    const auto has = [](const std::vector<std::string>& devices, const std::string& name) {
        return std::find(devices.begin(), devices.end(), name) != devices.end();
    };
    const auto seen = [&](PortChangeKind kind) {
        return std::any_of(changes.begin(), changes.end(), [&](const PortChange& change) {
            return change.kind == kind && change.device == "COM121";
        });
    };
    EXPECT_FALSE(has(watcher->devices(), "COM121"));
    {
        SerialCommEntries entry({{L"\\Device\\FerryWatch", L"COM121"}});
        ASSERT_TRUE(entry.ok()) << "cannot write HARDWARE\\DEVICEMAP\\SERIALCOMM";
        ASSERT_TRUE(run_until(
            loop, [&] { return seen(PortChangeKind::added); }, 5s))
            << "the new port was not reported";
        EXPECT_TRUE(has(watcher->devices(), "COM121"));
    } // the entry goes: the port was pulled out
    ASSERT_TRUE(run_until(
        loop, [&] { return seen(PortChangeKind::removed); }, 5s))
        << "the port's removal was not reported";
    EXPECT_FALSE(has(watcher->devices(), "COM121"));
    watcher->stop();
    EXPECT_FALSE(watcher->is_watching());
    const std::size_t reported = changes.size();
    {
        SerialCommEntries again({{L"\\Device\\FerryWatch", L"COM121"}});
        run_until(
            loop, [] { return false; }, 100ms);
    }
    EXPECT_EQ(changes.size(), reported) << "a stopped watcher reported a change";
}

TEST(WindowsPortWatcherLifetimeTest, AWatcherStillRunningIsStoppedWhenItsLoopCloses) {
    Loop loop;
    int calls = 0;
    auto watcher = watch_ports(loop, [&](const PortChange&) { ++calls; });
    ASSERT_TRUE(watcher->is_watching());
    loop.close(); // the registry wait is unregistered and the wake-up handle closed
    EXPECT_TRUE(loop.is_closed());
    EXPECT_FALSE(watcher->is_watching());
    SerialCommEntries entry({{L"\\Device\\FerryWatchClosed", L"COM122"}});
    EXPECT_EQ(calls, 0);
}

} // namespace
} // namespace ferry
