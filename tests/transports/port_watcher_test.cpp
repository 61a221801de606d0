// watch_ports on a temporary directory standing in for /dev: device nodes (links to real
// pseudo-terminals, so they resolve to character devices) appearing and vanishing, by-id links
// in a directory created after the watcher started, and what must not be reported.
#include <filesystem>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/error.hpp>
#include <ferry/port_watcher.hpp>

#include "../support/pty_pair.hpp"
#include "../support/temp_dir.hpp"
#include "../support/test_support.hpp"

namespace ferry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test::LoopTest;
using test::PtyPair;
using test::run_until;
using test::TempDir;

class PortWatcherTest : public LoopTest {
protected:
    /// Starts a watcher on `dev` recording every change.
    std::shared_ptr<PortWatcher> watch(const TempDir& dev) {
        PortWatchOptions options;
        options.dev_root = dev.path().string();
        return watch_ports(
            loop, [this](const PortChange& change) { changes.push_back(change); }, options);
    }
    /// Runs the loop until `count` changes have arrived (or 2 s pass).
    bool wait_for_changes(std::size_t count) {
        return run_until(
            loop, [&] { return changes.size() >= count; }, 2s);
    }
    std::vector<PortChange> changes;
};

TEST_F(PortWatcherTest, ReportsANodeAppearingAndVanishing) {
    TempDir dev("ferry-dev");
    PtyPair pty;
    auto watcher = watch(dev);
    EXPECT_TRUE(watcher->devices().empty());

    const fs::path node = dev / "ttyUSB0";
    fs::create_symlink(pty.path(), node);
    ASSERT_TRUE(wait_for_changes(1));
    EXPECT_EQ(changes[0].kind, PortChangeKind::added);
    EXPECT_EQ(changes[0].device, node.string());
    EXPECT_EQ(watcher->devices(), std::vector<std::string>{node.string()});

    fs::remove(node);
    ASSERT_TRUE(wait_for_changes(2));
    EXPECT_EQ(changes[1].kind, PortChangeKind::removed);
    EXPECT_EQ(changes[1].device, node.string());
    EXPECT_TRUE(watcher->devices().empty());
    EXPECT_EQ(changes.size(), 2u);
}

TEST_F(PortWatcherTest, ANodeWhoseDeviceGoesAwayIsRemoved) {
    // The kernel removes /dev/ttyUSB0 on unplug; here the link stays but its pty vanishes, and
    // the next event in the directory finds it no longer resolves to a device.
    TempDir dev("ferry-dev");
    auto pty = std::make_unique<PtyPair>();
    auto watcher = watch(dev);
    fs::create_symlink(pty->path(), dev / "ttyACM0");
    ASSERT_TRUE(wait_for_changes(1));
    pty.reset();
    std::ofstream(dev / "unrelated").put('x'); // any change in the directory triggers a rescan
    ASSERT_TRUE(wait_for_changes(2));
    EXPECT_EQ(changes[1].kind, PortChangeKind::removed);
    EXPECT_EQ(changes[1].device, (dev / "ttyACM0").string());
}

TEST_F(PortWatcherTest, IgnoresOtherNamesAndNonDevices) {
    TempDir dev("ferry-dev");
    PtyPair pty;
    auto watcher = watch(dev);
    std::ofstream(dev / "ttyUSB1").put('x');            // a regular file with a serial name
    fs::create_directory(dev / "ttyUSB2");              // a directory with a serial name
    fs::create_symlink(pty.path(), dev / "null0");      // a device with another name
    fs::create_symlink(dev / "missing", dev / "ttyS9"); // a dangling link
    fs::create_symlink(pty.path(), dev / "ttyAMA3");    // the one that counts
    ASSERT_TRUE(wait_for_changes(1));
    run_until(
        loop, [] { return false; }, 50ms); // let any other event arrive
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].device, (dev / "ttyAMA3").string());
    EXPECT_EQ(changes[0].kind, PortChangeKind::added);
}

TEST_F(PortWatcherTest, FollowsByIdLinksInADirectoryCreatedLater) {
    // udev creates /dev/serial/by-id with the first USB serial device and may remove it with
    // the last; the watcher follows it from whenever it exists.
    TempDir dev("ferry-dev");
    PtyPair pty;
    auto watcher = watch(dev);
    fs::create_directories(dev / "serial" / "by-id");
    const fs::path link = dev / "serial" / "by-id" / "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0";
    fs::create_symlink(pty.path(), link);
    fs::create_symlink(pty.path(), dev / "ttyUSB0");
    ASSERT_TRUE(run_until(
        loop, [&] { return watcher->devices().size() == 2; }, 2s));
    EXPECT_EQ(watcher->devices(),
              (std::vector<std::string>{link.string(), (dev / "ttyUSB0").string()}));

    fs::remove_all(dev / "serial");
    ASSERT_TRUE(run_until(
        loop, [&] { return watcher->devices().size() == 1; }, 2s));
    ASSERT_FALSE(changes.empty());
    EXPECT_EQ(changes.back().kind, PortChangeKind::removed);
    EXPECT_EQ(changes.back().device, link.string());

    // Created again (a new inode): followed again.
    fs::create_directories(dev / "serial" / "by-id");
    fs::create_symlink(pty.path(), link);
    ASSERT_TRUE(run_until(
        loop, [&] { return watcher->devices().size() == 2; }, 2s));
    EXPECT_EQ(changes.back().kind, PortChangeKind::added);
    EXPECT_EQ(changes.back().device, link.string());
}

TEST_F(PortWatcherTest, ListsWhatIsAlreadyThereWithoutReportingIt) {
    TempDir dev("ferry-dev");
    PtyPair pty;
    fs::create_symlink(pty.path(), dev / "ttyS0");
    fs::create_directories(dev / "serial" / "by-id");
    fs::create_symlink(pty.path(), dev / "serial" / "by-id" / "pci-board-if00");
    auto watcher = watch(dev);
    EXPECT_EQ(watcher->devices(),
              (std::vector<std::string>{(dev / "serial" / "by-id" / "pci-board-if00").string(),
                                        (dev / "ttyS0").string()}));
    run_until(
        loop, [] { return false; }, 50ms);
    EXPECT_TRUE(changes.empty());
}

TEST_F(PortWatcherTest, StopInsideTheCallbackEndsReporting) {
    TempDir dev("ferry-dev");
    PtyPair pty;
    PortWatchOptions options;
    options.dev_root = dev.path().string();
    std::shared_ptr<PortWatcher> watcher;
    watcher = watch_ports(
        loop,
        [&](const PortChange& change) {
            changes.push_back(change);
            watcher->stop();
        },
        options);
    fs::create_symlink(pty.path(), dev / "ttyUSB0");
    fs::create_symlink(pty.path(), dev / "ttyUSB1");
    ASSERT_TRUE(wait_for_changes(1));
    run_until(
        loop, [] { return false; }, 50ms);
    EXPECT_EQ(changes.size(), 1u);
    EXPECT_FALSE(watcher->is_watching());
    watcher->stop(); // twice is fine
}

TEST_F(PortWatcherTest, DroppingTheWatcherStopsIt) {
    TempDir dev("ferry-dev");
    PtyPair pty;
    watch(dev).reset();
    fs::create_symlink(pty.path(), dev / "ttyUSB0");
    run_until(
        loop, [] { return false; }, 50ms);
    EXPECT_TRUE(changes.empty());
}

TEST_F(PortWatcherTest, LoopDestructionStopsAWatcherStillHeld) {
    TempDir dev("ferry-dev");
    auto watcher = watch(dev);
    loop.close();
    EXPECT_FALSE(watcher->is_watching());
}

TEST_F(PortWatcherTest, BadArgumentsAreClearErrors) {
    PortWatchOptions missing;
    missing.dev_root = "/nonexistent/ferry-dev";
    try {
        watch_ports(
            loop, [](const PortChange&) {}, missing);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cannot watch /nonexistent/ferry-dev"),
                  std::string::npos)
            << e.what();
    }
    TempDir dev("ferry-dev");
    PortWatchOptions bad_pattern;
    bad_pattern.dev_root = dev.path().string();
    bad_pattern.name_pattern = "tty(USB";
    try {
        watch_ports(
            loop, [](const PortChange&) {}, bad_pattern);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), make_error_code(errc::invalid_argument));
        EXPECT_NE(std::string(e.what()).find("invalid port name pattern"), std::string::npos);
    }
}

} // namespace
} // namespace ferry
