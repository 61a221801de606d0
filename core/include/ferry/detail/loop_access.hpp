#pragma once
/// The Loop's implementer side, for transports, protocols and awaitables built on it: its
/// libuv loop, the shared read buffer, resource registration, scheduling a coroutine. A user of
/// ferry never needs this header; <ferry/loop.hpp> is the public face.

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <memory>
#include <span>
#include <utility>

#include <ferry/loop.hpp>

struct uv_loop_s;

namespace ferry::detail {

class TaskRuntime;
class TimeoutList;

/// Something holding libuv handles that must be closed when its loop closes (transports,
/// servers, timers, watchers, tasks). Loop thread only.
class LoopResource {
public:
    LoopResource(const LoopResource&) = delete;
    LoopResource& operator=(const LoopResource&) = delete;

    /// Closes at once (as abort() does); called by Loop::close() on everything still registered.
    /// Must not free the object synchronously: the libuv close callback does that.
    virtual void close_for_loop_shutdown() noexcept = 0;

protected:
    LoopResource() = default;
    ~LoopResource() = default;

private:
    friend class ferry::Loop;
    LoopResource* prev_ = nullptr;
    LoopResource* next_ = nullptr;
};

/// Access to a Loop's implementer members. Loop thread only.
class LoopAccess {
public:
    /// The underlying libuv loop.
    static uv_loop_s* native(Loop& loop) noexcept { return loop.native(); }
    /// The Loop that owns `native`.
    static Loop& from_native(uv_loop_s* native) noexcept { return Loop::from_native(native); }
    /// Scratch memory transports read into (256 KiB, one per loop). Its contents are valid only
    /// until the next read on this loop: data_received runs synchronously, so a view of it handed
    /// to a protocol stays valid for exactly that call.
    static std::span<std::byte> read_buffer(Loop& loop) noexcept { return loop.read_buffer(); }
    /// Registers a resource to close when the loop closes.
    static void register_resource(Loop& loop, LoopResource& resource) noexcept {
        loop.register_resource(resource);
    }
    /// Unregisters a resource once its handles are closed.
    static void unregister_resource(Loop& loop, LoopResource& resource) noexcept {
        loop.unregister_resource(resource);
    }
    /// True once closing has begun: new work is refused.
    static bool is_shutting_down(const Loop& loop) noexcept { return loop.is_shutting_down(); }
    /// Resumes `handle` on the next iteration, FIFO with call_soon callbacks, with `task` as
    /// the current task; dropped once the loop is closing.
    static void resume_soon(Loop& loop, std::coroutine_handle<> handle,
                            TaskRuntime* task) noexcept {
        loop.resume_soon(handle, task);
    }
    /// A list of the loop's wait_for timeouts that one due at `due` can join (see Timeout);
    /// null when there is none.
    static TimeoutList* timeout_list(Loop& loop, std::uint64_t due) {
        return loop.timeout_list(due);
    }
    /// A token that expires when the loop is destroyed (for objects that may outlive it).
    static std::weak_ptr<void> lifetime_token(const Loop& loop) noexcept {
        return loop.lifetime_token();
    }
};

/// Runs `fn`, reporting anything it throws to `loop`'s exception handler as `where`. Returns
/// false when it threw.
template <class Fn>
bool invoke_guarded(Loop& loop, const char* where, Fn&& fn) noexcept {
    try {
        std::forward<Fn>(fn)();
        return true;
    } catch (...) {
        loop.call_exception_handler({where, std::current_exception()});
        return false;
    }
}

} // namespace ferry::detail
