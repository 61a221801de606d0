// The loop's completion port and its waiter thread (see completion_port_win.hpp).
#include "serial/completion_port_win.hpp"

#include <map>

#include <ferry/detail/loop_access.hpp>
#include <ferry/error.hpp>
#include <ferry/log.hpp>

#include "serial/serial_errors_win.hpp"

namespace ferry::detail {
namespace {

// The packet that tells the waiter thread to end (no OVERLAPPED, this key).
constexpr ULONG_PTR stop_key = 1;
// Entries taken per GetQueuedCompletionStatusEx call.
constexpr ULONG entries_per_wait = 64;
// How long Loop::close() waits for one cancelled operation to finish.
constexpr int cancel_wait_ms = 2000;

std::mutex ports_mutex;
std::map<uv_loop_t*, std::weak_ptr<CompletionPort>>& ports() {
    static std::map<uv_loop_t*, std::weak_ptr<CompletionPort>> by_loop;
    return by_loop;
}

} // namespace

std::shared_ptr<CompletionPort> CompletionPort::of(Loop& loop) {
    std::lock_guard lock(ports_mutex);
    auto& known = ports()[LoopAccess::native(loop)];
    if (auto port = known.lock()) {
        return port;
    }
    std::shared_ptr<CompletionPort> port(new CompletionPort(loop));
    known = port;
    return port;
}

CompletionPort::CompletionPort(Loop& loop) : loop_(loop) {
    port_ = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
    if (port_ == nullptr) {
        throw Error(win32_error(GetLastError()), "CreateIoCompletionPort failed");
    }
    wake_ = new uv_async_t{};
    const int rc = uv_async_init(LoopAccess::native(loop), wake_, [](uv_async_t* async) {
        static_cast<CompletionPort*>(async->data)->run_completions();
    });
    if (rc != 0) {
        delete wake_;
        CloseHandle(port_);
        throw Error(uv_error(rc), "uv_async_init failed");
    }
    wake_->data = this;
    waiter_ = std::thread([this] { wait_for_completions(); });
    LoopAccess::register_resource(loop, *this);
}

CompletionPort::~CompletionPort() {
    stop_waiter();
    close_for_loop_shutdown(); // closes the wake-up handle unless Loop::close() did
    CloseHandle(port_);
    {
        std::lock_guard lock(ports_mutex);
        auto found = ports().find(LoopAccess::native(loop_));
        if (found != ports().end() && found->second.expired()) {
            ports().erase(found);
        }
    }
    LoopAccess::unregister_resource(loop_, *this);
}

void CompletionPort::stop_waiter() noexcept {
    if (waiter_.joinable()) {
        PostQueuedCompletionStatus(port_, 0, stop_key, nullptr);
        waiter_.join();
    }
}

void CompletionPort::close_for_loop_shutdown() noexcept {
    if (wake_ == nullptr) {
        return;
    }
    stop_waiter();
    wake_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(wake_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
    wake_ = nullptr;
}

void CompletionPort::wait_cancelled(CompletionOperation& operation) noexcept {
    // Bounded: a driver that never finishes a cancelled operation must not hang Loop::close().
    for (int waited_ms = 0; operation.pending && waited_ms < cancel_wait_ms; ++waited_ms) {
        if (HasOverlappedIoCompleted(&operation.overlapped)) {
            operation.pending = false;
            return;
        }
        Sleep(1);
    }
    if (operation.pending) {
        log().error("a cancelled operation did not finish in {} ms; closing anyway",
                    cancel_wait_ms);
        operation.pending = false;
    }
}

void CompletionPort::associate(HANDLE handle, const std::string& name) {
    if (CreateIoCompletionPort(handle, port_, 0, 0) == nullptr) {
        throw Error(win32_error(GetLastError()),
                    "cannot watch " + name + " for completions (CreateIoCompletionPort)");
    }
}

void CompletionPort::wait_for_completions() noexcept {
    OVERLAPPED_ENTRY entries[entries_per_wait];
    for (;;) {
        ULONG count = 0;
        if (!GetQueuedCompletionStatusEx(port_, entries, entries_per_wait, &count, INFINITE,
                                         FALSE)) {
            continue; // only a timeout or an alert ends a wait without entries; neither is asked
        }
        bool stop = false;
        {
            std::lock_guard lock(mutex_);
            for (ULONG i = 0; i < count; ++i) {
                if (entries[i].lpOverlapped == nullptr && entries[i].lpCompletionKey == stop_key) {
                    stop = true;
                    continue;
                }
                completed_.push_back(entries[i]);
            }
        }
        if (stop) {
            return;
        }
        uv_async_send(wake_);
    }
}

void CompletionPort::run_completions() noexcept {
    // A completion may release the last reference to this port (its transport closed).
    const std::shared_ptr<CompletionPort> keep_alive = shared_from_this();
    {
        std::lock_guard lock(mutex_);
        running_.swap(completed_);
    }
    for (const OVERLAPPED_ENTRY& entry : running_) {
        auto* operation = reinterpret_cast<CompletionOperation*>(entry.lpOverlapped);
        operation->pending = false;
        // Internal holds the NTSTATUS (zero for success); GetOverlappedResult turns a failure
        // into its Win32 error.
        DWORD error = 0;
        if (entry.Internal != 0) {
            DWORD bytes = 0;
            error = GetOverlappedResult(operation->file, &operation->overlapped, &bytes, FALSE)
                        ? 0
                        : GetLastError();
        }
        operation->on_complete(*operation, entry.dwNumberOfBytesTransferred, error);
    }
    running_.clear();
}

} // namespace ferry::detail
