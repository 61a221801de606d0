#pragma once
// The loop's completion port: overlapped I/O on Windows handles (serial ports) completes into
// one I/O completion port per loop, and one waiter thread per loop hands the completions to
// the loop thread. Private to ferry::transports; Windows only.
//
// Why not libuv's own port: libuv takes every packet on its port for one of its requests and
// asserts on anything else, and it classes a COM port as a file. Why a thread: a completion
// port can only be waited on by blocking in GetQueuedCompletionStatusEx, and libuv's loop
// blocks in its own port. So one thread per loop (never per port) blocks there, moves the
// entries to a list under a mutex and wakes the loop with uv_async_send; the loop thread runs
// each operation's completion. PostQueuedCompletionStatus wakes the thread to stop it.
//
// Loop::close(): the port is a loop resource, so its wake-up handle is closed by its owner
// (not swept up as a stray handle), and its thread stops. Completions no longer reach the
// loop then: a handle closing during shutdown waits for its cancelled operations itself
// (wait_cancelled()).

#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

// uv.h first: it includes winsock2.h, which must come before windows.h.
#include <uv.h>

#include <windows.h>

#include <ferry/detail/loop_access.hpp>
#include <ferry/loop.hpp>

namespace ferry::detail {

/// One overlapped operation. OVERLAPPED comes first, so the completion's OVERLAPPED* is the
/// operation. `on_complete` runs on the loop thread with the bytes transferred and the Win32
/// error (0 on success). The memory must stay valid until the completion has run, cancelled
/// or not: Windows writes into it until then.
struct CompletionOperation {
    OVERLAPPED overlapped{};
    void (*on_complete)(CompletionOperation& operation, DWORD bytes, DWORD error) = nullptr;
    void* owner = nullptr;
    HANDLE file = nullptr; // what the operation runs on (its error is read from it)
    bool pending = false;  // handed to Windows, completion not yet run

    /// Readies the OVERLAPPED for a new operation on `on` and marks it pending.
    OVERLAPPED* begin(HANDLE on) noexcept {
        overlapped = OVERLAPPED{};
        file = on;
        pending = true;
        return &overlapped;
    }
};

/// A loop's completion port and its waiter thread, shared by every Windows handle on that
/// loop; made when the first one opens, gone when the last releases it. Loop thread only,
/// except the waiter thread's own part.
class CompletionPort : public std::enable_shared_from_this<CompletionPort>, LoopResource {
public:
    /// The port of `loop`, made on first use. Throws ferry::Error if Windows refuses.
    static std::shared_ptr<CompletionPort> of(Loop& loop);
    ~CompletionPort();
    CompletionPort(const CompletionPort&) = delete;
    CompletionPort& operator=(const CompletionPort&) = delete;

    /// Sends `handle`'s overlapped completions to this port. Throws ferry::Error.
    void associate(HANDLE handle, const std::string& name);
    /// During Loop::close(): waits (at most 2 s) until `operation`, cancelled already, has
    /// finished, since its completion will not be run; it is no longer pending after this.
    static void wait_cancelled(CompletionOperation& operation) noexcept;

private:
    explicit CompletionPort(Loop& loop);
    void wait_for_completions() noexcept; // the waiter thread
    void run_completions() noexcept;      // the loop thread, on the async wake-up
    void stop_waiter() noexcept;
    void close_for_loop_shutdown() noexcept override;

    Loop& loop_;
    HANDLE port_ = nullptr;
    uv_async_t* wake_ = nullptr; // freed in its close callback; null once closed
    std::mutex mutex_;
    std::vector<OVERLAPPED_ENTRY> completed_; // guarded by mutex_
    std::vector<OVERLAPPED_ENTRY> running_;   // loop thread
    std::thread waiter_;
};

} // namespace ferry::detail
