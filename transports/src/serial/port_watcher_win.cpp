// watch_ports on Windows: COM ports appearing and vanishing, told by the registry.
//
// Every serial port driver (serial, usbser, FTDI's, Silabs', com0com) lists its ports under
// HKLM\HARDWARE\DEVICEMAP\SERIALCOMM while they exist, so a change there is a port plugged in
// or pulled out. RegNotifyChangeKeyValue signals an event when anything under DEVICEMAP
// changes (SERIALCOMM itself may not exist before the first port); the system thread pool's
// wait (RegisterWaitForSingleObject) wakes the loop with uv_async_send, and the loop rescans
// list_ports() and reports the difference. No thread of ferry's own, no polling, and it works
// under Wine, which implements neither CM_Register_Notification nor device broadcasts.

#include <ferry/detail/loop_access.hpp>
#include <ferry/port_watcher.hpp>

#include <uv.h> // before windows.h: it brings winsock2.h

#include <windows.h>

#include <set>

#include <ferry/error.hpp>
#include <ferry/log.hpp>
#include <ferry/loop.hpp>
#include <ferry/serial_ports.hpp>

#include "serial/port_changes.hpp"

namespace ferry {
namespace {

class WindowsPortWatcher;

/// What the thread pool's callback touches, apart from the watcher: the async handle's memory
/// is freed only in its close callback, which may run after the watcher is gone.
struct WakeBlock {
    uv_async_t async{};
    WindowsPortWatcher* owner = nullptr; // null once the watcher stopped
};

/// Win32's message for `error`, for the exceptions.
std::string win32_text(LONG error) {
    char text[256] = {};
    FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                   static_cast<DWORD>(error), 0, text, sizeof text, nullptr);
    std::string message(text);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
        message.pop_back();
    }
    return message + " (" + std::to_string(error) + ")";
}

class WindowsPortWatcher final : public PortWatcher, public detail::LoopResource {
public:
    WindowsPortWatcher(Loop& loop, Callback changed)
        : loop_(loop), changed_(std::move(changed)), wake_(new WakeBlock) {
        wake_->owner = this;
        uv_async_init(detail::LoopAccess::native(loop), &wake_->async, [](uv_async_t* handle) {
            auto* block = static_cast<WakeBlock*>(handle->data);
            if (WindowsPortWatcher* self = block->owner) {
                detail::invoke_guarded(self->loop_, "exception in port watcher",
                                       [&] { self->on_change(); });
            }
        });
        wake_->async.data = wake_;
        detail::LoopAccess::register_resource(loop, *this);
        try {
            start();
        } catch (...) {
            stop();
            throw;
        }
        // Armed first, then scanned: a port arriving in between is seen by the next rescan.
        known_ = scan();
    }

    ~WindowsPortWatcher() override { stop(); }

    std::vector<std::string> devices() const override { return {known_.begin(), known_.end()}; }

    bool is_watching() const noexcept override { return !stopped_; }

    void stop() noexcept override {
        if (stopped_) {
            return;
        }
        stopped_ = true;
        if (wait_ != nullptr) {
            // INVALID_HANDLE_VALUE: returns once a callback running now has finished, so none
            // touches the async handle after it is closed.
            UnregisterWaitEx(wait_, INVALID_HANDLE_VALUE);
            wait_ = nullptr;
        }
        if (key_ != nullptr) {
            RegCloseKey(key_);
            key_ = nullptr;
        }
        if (changed_event_ != nullptr) {
            CloseHandle(changed_event_);
            changed_event_ = nullptr;
        }
        wake_->owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&wake_->async),
                 [](uv_handle_t* closed) { delete static_cast<WakeBlock*>(closed->data); });
        detail::LoopAccess::unregister_resource(loop_, *this);
    }

    void close_for_loop_shutdown() noexcept override { stop(); }

private:
    void start() {
        LONG status = RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"HARDWARE\\DEVICEMAP", 0,
                                    KEY_NOTIFY | KEY_READ, &key_);
        if (status != ERROR_SUCCESS) {
            key_ = nullptr;
            throw Error(make_error_code(errc::not_supported),
                        "cannot watch HKLM\\HARDWARE\\DEVICEMAP for serial ports: " +
                            win32_text(status));
        }
        changed_event_ = CreateEventW(nullptr, FALSE, FALSE, nullptr);
        if (changed_event_ == nullptr) {
            throw Error(make_error_code(errc::not_supported),
                        "cannot make an event to watch serial ports: " +
                            win32_text(static_cast<LONG>(GetLastError())));
        }
        arm();
        if (!RegisterWaitForSingleObject(
                &wait_, changed_event_,
                [](void* context, BOOLEAN) {
                    uv_async_send(&static_cast<WakeBlock*>(context)->async); // thread-safe
                },
                wake_, INFINITE, WT_EXECUTEINWAITTHREAD)) {
            wait_ = nullptr;
            throw Error(make_error_code(errc::not_supported),
                        "cannot wait for serial port changes: " +
                            win32_text(static_cast<LONG>(GetLastError())));
        }
    }

    /// Asks for the next change: a registry notification fires once, then must be asked again.
    /// From the loop thread, which outlives the request (the request ends with its thread).
    void arm() {
        const LONG status = RegNotifyChangeKeyValue(
            key_, TRUE, REG_NOTIFY_CHANGE_NAME | REG_NOTIFY_CHANGE_LAST_SET, changed_event_, TRUE);
        if (status != ERROR_SUCCESS) {
            throw Error(make_error_code(errc::not_supported),
                        "cannot watch HKLM\\HARDWARE\\DEVICEMAP for serial ports: " +
                            win32_text(status));
        }
    }

    /// The loop's side of a change: ask for the next one, then rescan and report.
    void on_change() {
        if (stopped_) {
            return;
        }
        try {
            arm();
        } catch (const Error& e) {
            log().warn("port watcher: {}; changes are no longer reported", e.what());
        }
        detail::report_port_changes(loop_, known_, scan(), changed_, stopped_);
    }

    /// The COM ports present now ("COM7"), as list_ports() finds them.
    static std::set<std::string> scan() {
        std::set<std::string> found;
        for (const PortInfo& port : list_ports()) {
            found.insert(port.device);
        }
        return found;
    }

    Loop& loop_;
    Callback changed_;
    WakeBlock* wake_;
    HKEY key_ = nullptr;
    HANDLE changed_event_ = nullptr;
    HANDLE wait_ = nullptr;
    std::set<std::string> known_;
    bool stopped_ = false;
};

} // namespace

std::shared_ptr<PortWatcher> watch_ports(Loop& loop, PortWatcher::Callback changed,
                                         PortWatchOptions) {
    return std::make_shared<WindowsPortWatcher>(loop, std::move(changed));
}

} // namespace ferry
