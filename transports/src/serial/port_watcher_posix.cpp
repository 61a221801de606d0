// watch_ports: serial device nodes appearing and vanishing, from libuv file-system events.
//
// Each event only says "something in this directory changed", so the watcher rescans what it
// watches and reports the difference from what it knew. A rescan reads one directory entry list
// and stats only the names that look like serial ports: cheap, and correct however the kernel
// batches or drops events (inotify may overflow; a rescan never misses a state).

#include <ferry/detail/loop_access.hpp>
#include <ferry/port_watcher.hpp>

#include <filesystem>
#include <regex>
#include <set>
#include <system_error>

#include <sys/stat.h>
#include <uv.h>

#include <ferry/error.hpp>
#include <ferry/log.hpp>
#include <ferry/loop.hpp>

#include "serial/port_changes.hpp"

namespace ferry {
namespace {

namespace fs = std::filesystem;

class PortWatcherImpl;

/// The libuv handles, allocated apart from the watcher so they can outlive it: memory behind a
/// libuv handle is freed only in its close callback, which runs after the watcher may be gone.
struct WatchHandles {
    /// dev_root itself.
    uv_fs_event_t dev{};
    /// dev_root/serial, watched only to notice by-id being created inside it.
    uv_fs_event_t serial_dir{};
    /// dev_root/serial/by-id.
    uv_fs_event_t by_id{};
    /// Null once the watcher stopped.
    PortWatcherImpl* owner = nullptr;
    /// Handles not yet closed; the block is freed when this reaches zero.
    int open = 3;
};

/// One directory watch that can be (re)started when its directory appears and stopped when it
/// vanishes; it remembers the inode so a directory deleted and recreated is watched afresh.
struct DirectoryWatch {
    uv_fs_event_t* handle = nullptr;
    fs::path path;
    bool active = false;
    ino_t inode = 0;
    dev_t device = 0;
};

class PortWatcherImpl final : public PortWatcher, public detail::LoopResource {
public:
    PortWatcherImpl(Loop& loop, Callback changed, PortWatchOptions options)
        : loop_(loop), changed_(std::move(changed)), options_(std::move(options)),
          pattern_(compile(options_.name_pattern)), handles_(new WatchHandles) {
        handles_->owner = this;
        dev_ = {&handles_->dev, options_.dev_root};
        serial_dir_ = {&handles_->serial_dir, fs::path(options_.dev_root) / "serial"};
        by_id_ = {&handles_->by_id, fs::path(options_.dev_root) / "serial" / "by-id"};
        for (uv_fs_event_t* h : {&handles_->dev, &handles_->serial_dir, &handles_->by_id}) {
            uv_fs_event_init(detail::LoopAccess::native(loop), h);
            h->data = handles_;
        }
        detail::LoopAccess::register_resource(loop, *this);
        // Watch first, then scan: a node created in between is seen by the next event's rescan.
        if (const int status = start_watch(dev_); status < 0) {
            stop();
            throw Error(uv_error(status), "cannot watch " + options_.dev_root +
                                              " for serial ports: " + uv_strerror(status));
        }
        refresh_subdirectory_watches();
        known_ = scan();
    }

    ~PortWatcherImpl() override { stop(); }

    std::vector<std::string> devices() const override { return {known_.begin(), known_.end()}; }

    bool is_watching() const noexcept override { return !stopped_; }

    void stop() noexcept override {
        if (stopped_) {
            return;
        }
        stopped_ = true;
        handles_->owner = nullptr;
        for (uv_fs_event_t* h : {&handles_->dev, &handles_->serial_dir, &handles_->by_id}) {
            uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* closed) {
                auto* block = static_cast<WatchHandles*>(closed->data);
                if (--block->open == 0) {
                    delete block;
                }
            });
        }
        detail::LoopAccess::unregister_resource(loop_, *this);
    }

    void close_for_loop_shutdown() noexcept override { stop(); }

    /// libuv's callback for all three watches.
    void on_event(const char* filename, int events, int status) {
        if (status < 0) {
            log().warn("port watcher on {}: {}", options_.dev_root, uv_strerror(status));
        }
        // UV_CHANGE alone is a write or attribute change to an existing entry (every write to a
        // tty in /dev is one): nothing appeared or vanished, so no rescan. Entries the
        // sub-watches depend on are the exception, to be safe about directory replacement.
        const bool structural = (events & UV_RENAME) != 0 || status < 0 || filename == nullptr;
        if (!structural) {
            return;
        }
        refresh_subdirectory_watches();
        report(scan());
    }

private:
    static std::regex compile(const std::string& pattern) {
        try {
            return std::regex(pattern, std::regex::ECMAScript | std::regex::optimize);
        } catch (const std::regex_error& e) {
            throw Error(make_error_code(errc::invalid_argument),
                        "invalid port name pattern '" + pattern + "': " + e.what());
        }
    }

    int start_watch(DirectoryWatch& watch) {
        struct stat st {};
        if (::stat(watch.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
            return UV_ENOENT;
        }
        const int status = uv_fs_event_start(
            watch.handle,
            [](uv_fs_event_t* handle, const char* filename, int events, int status) {
                auto* block = static_cast<WatchHandles*>(handle->data);
                if (PortWatcherImpl* self = block->owner) {
                    detail::invoke_guarded(self->loop_, "exception in port watcher",
                                           [&] { self->on_event(filename, events, status); });
                }
            },
            watch.path.c_str(), 0);
        if (status == 0) {
            watch.active = true;
            watch.inode = st.st_ino;
            watch.device = st.st_dev;
        }
        return status;
    }

    void stop_watch(DirectoryWatch& watch) {
        if (watch.active) {
            uv_fs_event_stop(watch.handle);
            watch.active = false;
        }
    }

    /// Starts the serial/ and serial/by-id watches when those directories exist (udev creates
    /// them with the first USB serial device) and stops or renews them when they vanish or are
    /// replaced.
    void refresh_subdirectory_watches() {
        if (!options_.watch_by_id) {
            return;
        }
        for (DirectoryWatch* watch : {&serial_dir_, &by_id_}) {
            struct stat st {};
            const bool present = ::stat(watch->path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
            const bool same =
                present && watch->active && st.st_ino == watch->inode && st.st_dev == watch->device;
            if (same) {
                continue;
            }
            stop_watch(*watch);
            if (present) {
                start_watch(*watch); // may lose a race with removal; the next event retries
            }
        }
    }

    /// The serial device nodes present now: matching names in dev_root and every link in by-id,
    /// each resolving to a character device.
    std::set<std::string> scan() const {
        std::set<std::string> found;
        scan_directory(options_.dev_root, true, found);
        if (options_.watch_by_id) {
            scan_directory(by_id_.path, false, found);
        }
        return found;
    }

    void scan_directory(const fs::path& directory, bool filter_names,
                        std::set<std::string>& found) const {
        std::error_code ec;
        for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
            const fs::path& entry = it->path();
            if (filter_names && !std::regex_match(entry.filename().string(), pattern_)) {
                continue;
            }
            std::error_code status_error;
            if (fs::status(entry, status_error).type() == fs::file_type::character) {
                found.insert(entry.string());
            }
        }
    }

    /// Reports the difference between what was known and `now`: removals first (a node
    /// replaced by another of the same name shows as nothing), then additions.
    void report(std::set<std::string> now) {
        detail::report_port_changes(loop_, known_, std::move(now), changed_, stopped_);
    }

    Loop& loop_;
    Callback changed_;
    PortWatchOptions options_;
    std::regex pattern_;
    WatchHandles* handles_;
    DirectoryWatch dev_, serial_dir_, by_id_;
    std::set<std::string> known_;
    bool stopped_ = false;
};

} // namespace

std::shared_ptr<PortWatcher> watch_ports(Loop& loop, PortWatcher::Callback changed,
                                         PortWatchOptions options) {
    return std::make_shared<PortWatcherImpl>(loop, std::move(changed), std::move(options));
}

} // namespace ferry
