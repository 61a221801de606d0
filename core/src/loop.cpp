// Loop: the ready queue, timers, thread-safe posting, executor jobs, signals and shutdown.
#include <ferry/loop.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdint>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <unordered_set>
#include <vector>

#include <uv.h>

#include <ferry/detail/loop_access.hpp>
#include <ferry/detail/task_runtime.hpp>
#include <ferry/log.hpp>

#include "timeout_list.hpp"

namespace ferry {

namespace detail {
struct TimerEntry;

/// Shared between the loop's queue (or timer) and any CallbackHandle to it.
struct ScheduledCallback {
    Loop::Callback fn;
    bool cancelled = false;
    bool done = false;
    TimerEntry* timer = nullptr; // set while a uv_timer_t is armed for it
    // Itself, while it waits in the ready queue: the queue's entries are two words, so that a
    // coroutine switch moves no reference count (docs/benchmarks.md, coroutine switches).
    std::shared_ptr<ScheduledCallback> queued;
};

/// A call_later/call_at timer: a uv_timer_t that frees itself in its close callback. One that
/// fired or was cancelled is stopped and kept for the next call_later (Loop::retire_timer),
/// so a timeout around every read does not open and close a handle each time.
struct TimerEntry final : detail::LoopResource {
    uv_timer_t handle{};
    std::shared_ptr<ScheduledCallback> callback; // null while kept for reuse
    Loop* loop = nullptr;

    void close() noexcept {
        if (callback) {
            callback->timer = nullptr;
            callback.reset();
        }
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&handle))) {
            uv_close(reinterpret_cast<uv_handle_t*>(&handle), [](uv_handle_t* h) {
                auto* self = static_cast<TimerEntry*>(h->data);
                detail::LoopAccess::unregister_resource(*self->loop, *self);
                delete self;
            });
        }
    }
    void close_for_loop_shutdown() noexcept override {
        if (callback) {
            callback->fn = nullptr;
        }
        close();
    }
};

/// A watched signal and its handler.
struct SignalEntry final : detail::LoopResource {
    uv_signal_t handle{};
    Loop::Callback handler;
    Loop* loop = nullptr;

    void close() noexcept {
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&handle))) {
            uv_close(reinterpret_cast<uv_handle_t*>(&handle), [](uv_handle_t* h) {
                auto* self = static_cast<SignalEntry*>(h->data);
                detail::LoopAccess::unregister_resource(*self->loop, *self);
                delete self;
            });
        }
    }
    void close_for_loop_shutdown() noexcept override { close(); }
};

/// One run_in_executor job in flight.
struct WorkRequest {
    uv_work_t req{};
    std::function<void()> work;
    std::function<void(bool cancelled)> after;
};
} // namespace detail

using detail::ScheduledCallback;

namespace {
/// One entry of the ready queue: a coroutine to resume (its frame's address, and its task or
/// null), or a call_soon callback (its ScheduledCallback's address with the low bit set;
/// frames and callbacks are both at least 8-byte aligned).
struct ReadyEntry {
    std::uintptr_t what;
    detail::TaskRuntime* task;

    static constexpr std::uintptr_t callback_bit = 1;
    bool is_callback() const noexcept { return (what & callback_bit) != 0; }
    ScheduledCallback* callback() const noexcept {
        return reinterpret_cast<ScheduledCallback*>(what & ~callback_bit);
    }
};

/// Empties a ready queue whose entries will not run (the loop is closing).
void drop_ready(std::vector<ReadyEntry>& entries) noexcept {
    for (const ReadyEntry& entry : entries) {
        if (entry.is_callback()) {
            entry.callback()->queued.reset();
        }
    }
    entries.clear();
}

/// The read buffer starts on a page. The kernel's copy into it (x86's `rep movsb`) runs at
/// half speed on AMD EPYC when the destination is 16 bytes off a cache line, as malloc's
/// pointer into its own mapping is: bulk echo measured 0.46x raw libuv's MB per CPU-second
/// with that buffer and 1.0x aligned (docs/benchmarks.md, "The read buffer's alignment").
constexpr std::size_t page_alignment = 4096;

/// Frees the page-aligned read buffer.
struct PageAlignedDelete {
    void operator()(std::byte* buffer) const noexcept {
        ::operator delete (buffer, std::align_val_t{page_alignment});
    }
};
} // namespace

struct Loop::Impl {
    uv_loop_t uv{};
    uv_idle_t idle{};    // active while the ready queue is non-empty, so poll does not block
    uv_async_t wakeup{}; // call_soon_threadsafe and stop() from other threads
    std::vector<ReadyEntry> ready;
    std::vector<ReadyEntry> running_batch;
    std::shared_ptr<int> lifetime = std::make_shared<int>(0);

    std::mutex posted_mutex;
    std::vector<Callback> posted;       // guarded by posted_mutex
    std::vector<Callback> posted_batch; // loop thread only
    std::atomic<bool> stop_requested{false};
    std::atomic<unsigned> stops{0}; // every stop() call, for run_until_complete
    std::atomic<std::thread::id> loop_thread{};

    detail::LoopResource* resources = nullptr; // intrusive list of everything to close at shutdown
    std::unordered_set<detail::WorkRequest*> work;
    std::map<int, detail::SignalEntry*> signals;
    /// Stopped timers kept for reuse (at most max_spare_timers; each is still a resource).
    std::vector<detail::TimerEntry*> spare_timers;
    /// wait_for's timeout lists by duration in milliseconds (each a resource).
    std::vector<detail::TimeoutList*> timeout_lists;
    static constexpr std::size_t max_spare_timers = 64;
    ExceptionHandler exception_handler;
    bool shutting_down = false;
    bool closed = false;
    // As large as the largest adaptive read (asyncio's 256 KiB). glibc maps an allocation
    // this size on its own, and pages no read reaches are never touched: a loop that reads
    // only small messages keeps a page or two of it resident.
    std::unique_ptr<std::byte, PageAlignedDelete> read_buffer{static_cast<std::byte*>(
        ::operator new (Loop::read_buffer_size, std::align_val_t{page_alignment}))};
};

namespace {
Loop& loop_of(uv_handle_t* handle) {
    return detail::LoopAccess::from_native(handle->loop);
}
} // namespace

Loop::Loop() : impl_(std::make_unique<Impl>()), read_buffer_(impl_->read_buffer.get()) {
#ifdef SIGPIPE
    // A write to a socket or pipe whose reader is gone must become an EPIPE error delivered
    // through connection_lost, not a signal that kills the process (Python does the same).
    std::signal(SIGPIPE, SIG_IGN);
#endif
    const int rc = uv_loop_init(&impl_->uv);
    if (rc != 0) {
        throw Error(uv_error(rc), std::string("uv_loop_init failed: ") + uv_strerror(rc));
    }
    impl_->uv.data = this;
    uv_idle_init(&impl_->uv, &impl_->idle);
    uv_async_init(&impl_->uv, &impl_->wakeup, [](uv_async_t* handle) {
        Loop& loop = loop_of(reinterpret_cast<uv_handle_t*>(handle));
        Impl& impl = *loop.impl_;
        {
            std::lock_guard lock(impl.posted_mutex);
            impl.posted_batch.swap(impl.posted);
        }
        for (auto& callback : impl.posted_batch) {
            detail::invoke_guarded(loop, "exception in call_soon_threadsafe callback", callback);
        }
        impl.posted_batch.clear();
        if (impl.stop_requested.exchange(false)) {
            uv_stop(&impl.uv);
        }
    });
    // The wakeup handle stays referenced: run() is asyncio's run_forever and returns only
    // through stop().
}

Loop::~Loop() {
    try {
        close();
    } catch (const std::exception& e) {
        log().error("{}", e.what());
    }
}

void Loop::close() {
    Impl& impl = *impl_;
    if (impl.closed) {
        return;
    }
    if (is_running()) {
        throw Error(make_error_code(errc::invalid_argument), "cannot close a running loop");
    }
    impl.shutting_down = true;
    drop_ready(impl.ready);
    uv_idle_stop(&impl.idle);
    for (auto* request : impl.work) {
        uv_cancel(reinterpret_cast<uv_req_t*>(&request->req));
    }
    close_open_resources();
    impl.timeout_lists.clear(); // closed above, freed by their close callbacks
    impl.spare_timers.clear();
    uv_close(reinterpret_cast<uv_handle_t*>(&impl.idle), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&impl.wakeup), nullptr);
    uv_walk(
        &impl.uv,
        [](uv_handle_t* handle, void*) {
            if (!uv_is_closing(handle)) {
                log().warn("closing a libuv handle (type {}) left open on the loop",
                           uv_handle_type_name(handle->type));
                uv_close(handle, nullptr);
            }
        },
        nullptr);
    uv_run(&impl.uv, UV_RUN_DEFAULT);
    // Close callbacks (connection_lost) cannot open new resources, since factories refuse work
    // once shutting_down is set; loop anyway so nothing registered late is left behind.
    while (impl.resources != nullptr) {
        close_open_resources();
        uv_run(&impl.uv, UV_RUN_DEFAULT);
    }
    impl.closed = true;
    impl.lifetime.reset();
    const int rc = uv_loop_close(&impl.uv);
    if (rc != 0) {
        throw Error(uv_error(rc), std::string("uv_loop_close failed: ") + uv_strerror(rc));
    }
}

bool Loop::is_closed() const noexcept {
    return impl_->closed;
}

void Loop::close_open_resources() noexcept {
    // Snapshot first: closing never frees synchronously, but may unlink others later.
    std::vector<detail::LoopResource*> open;
    for (auto* r = impl_->resources; r != nullptr; r = r->next_) {
        open.push_back(r);
    }
    for (auto* r : open) {
        r->close_for_loop_shutdown();
    }
}

void Loop::run() {
    if (impl_->shutting_down) {
        throw Error(make_error_code(errc::loop_closed), "the loop is closed");
    }
    if (is_running()) {
        throw Error(make_error_code(errc::invalid_argument), "the loop is already running");
    }
    impl_->loop_thread = std::this_thread::get_id();
    uv_run(&impl_->uv, UV_RUN_DEFAULT);
    impl_->loop_thread = std::thread::id();
}

void Loop::run_once(bool block) {
    if (impl_->shutting_down) {
        throw Error(make_error_code(errc::loop_closed), "the loop is closed");
    }
    if (is_running()) {
        throw Error(make_error_code(errc::invalid_argument), "the loop is already running");
    }
    impl_->loop_thread = std::this_thread::get_id();
    uv_run(&impl_->uv, block ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    impl_->loop_thread = std::thread::id();
}

void Loop::stop() noexcept {
    ++impl_->stops;
    if (impl_->loop_thread.load() == std::this_thread::get_id()) {
        uv_stop(&impl_->uv);
        return;
    }
    impl_->stop_requested = true;
    uv_async_send(&impl_->wakeup);
}

unsigned Loop::stop_count() const noexcept {
    return impl_->stops.load();
}

bool Loop::is_running() const noexcept {
    return impl_->loop_thread.load() != std::thread::id();
}

std::chrono::milliseconds Loop::time() const noexcept {
    // Fresh, as asyncio's monotonic time(): libuv's cached time may be a whole slow callback old.
    uv_update_time(&impl_->uv);
    return std::chrono::milliseconds(uv_now(&impl_->uv));
}

CallbackHandle Loop::call_soon(Callback callback) {
    auto state = std::make_shared<ScheduledCallback>();
    if (impl_->shutting_down) {
        log().debug("call_soon after the loop began closing: callback dropped");
        state->cancelled = true;
        return CallbackHandle(std::move(state));
    }
    state->fn = std::move(callback);
    state->queued = state;
    impl_->ready.push_back(
        {reinterpret_cast<std::uintptr_t>(state.get()) | ReadyEntry::callback_bit, nullptr});
    if (impl_->ready.size() == 1) {
        start_idle();
    }
    return CallbackHandle(std::move(state));
}

void Loop::start_idle() noexcept {
    // Called for the first entry only: later ones find it started.
    uv_idle_start(&impl_->idle, [](uv_idle_t* handle) {
        Loop& loop = loop_of(reinterpret_cast<uv_handle_t*>(handle));
        Impl& impl = *loop.impl_;
        // Run the batch scheduled so far; what these entries schedule runs next time.
        impl.running_batch.swap(impl.ready);
        for (const ReadyEntry& entry : impl.running_batch) {
            if (!entry.is_callback()) {
                const auto handle =
                    std::coroutine_handle<>::from_address(reinterpret_cast<void*>(entry.what));
                if (entry.task != nullptr) {
                    entry.task->resume(handle);
                } else {
                    handle.resume();
                }
                continue;
            }
            const std::shared_ptr<ScheduledCallback> scheduled =
                std::move(entry.callback()->queued);
            if (scheduled->cancelled) {
                continue;
            }
            scheduled->done = true;
            Callback fn = std::move(scheduled->fn);
            detail::invoke_guarded(loop, "exception in call_soon callback", fn);
        }
        impl.running_batch.clear();
        if (impl.ready.empty()) {
            uv_idle_stop(&impl.idle);
        }
    });
}

void Loop::resume_soon(std::coroutine_handle<> handle, detail::TaskRuntime* task) noexcept {
    if (impl_->shutting_down) {
        return; // the frame is destroyed by the loop's shutdown instead
    }
    impl_->ready.push_back({reinterpret_cast<std::uintptr_t>(handle.address()), task});
    if (impl_->ready.size() == 1) {
        start_idle();
    }
}

std::weak_ptr<void> Loop::lifetime_token() const noexcept {
    return impl_->lifetime;
}

CallbackHandle Loop::call_later_ms(std::chrono::milliseconds delay, Callback callback) {
    return arm_timer(delay, true, std::move(callback));
}

CallbackHandle Loop::arm_timer(std::chrono::milliseconds delay, bool relative, Callback callback) {
    auto state = std::make_shared<ScheduledCallback>();
    if (impl_->shutting_down) {
        log().debug("call_later after the loop began closing: callback dropped");
        state->cancelled = true;
        return CallbackHandle(std::move(state));
    }
    state->fn = std::move(callback);
    detail::TimerEntry* entry = nullptr;
    if (!impl_->spare_timers.empty()) {
        entry = impl_->spare_timers.back();
        impl_->spare_timers.pop_back();
    } else {
        entry = new detail::TimerEntry();
        entry->loop = this;
        entry->handle.data = entry;
        uv_timer_init(&impl_->uv, &entry->handle);
        register_resource(*entry);
    }
    entry->callback = state;
    state->timer = entry;
    // libuv counts a timeout from the loop's cached time, which is stale by however long the
    // current iteration has run so far: refresh it so a timer armed after a slow step does not
    // fire early. The cached time is whole milliseconds, truncated; `delay` counts from an
    // instant anywhere inside the current millisecond, hence one more for a relative delay.
    uv_update_time(&impl_->uv);
    std::int64_t ms = std::max<std::int64_t>(delay.count(), 0);
    if (relative && ms > 0) {
        ++ms;
    }
    uv_timer_start(
        &entry->handle,
        [](uv_timer_t* handle) {
            auto* timer = static_cast<detail::TimerEntry*>(handle->data);
            Loop& loop = *timer->loop;
            auto scheduled = timer->callback;
            loop.retire_timer(*timer);
            if (scheduled->cancelled) {
                return;
            }
            scheduled->done = true;
            Callback fn = std::move(scheduled->fn);
            detail::invoke_guarded(loop, "exception in call_later callback", fn);
        },
        static_cast<std::uint64_t>(ms), 0);
    return CallbackHandle(std::move(state));
}

void Loop::retire_timer(detail::TimerEntry& timer) noexcept {
    uv_timer_stop(&timer.handle);
    timer.callback->timer = nullptr;
    timer.callback.reset();
    if (impl_->shutting_down || impl_->spare_timers.size() >= Impl::max_spare_timers) {
        timer.close();
        return;
    }
    try {
        impl_->spare_timers.push_back(&timer);
    } catch (...) {
        timer.close(); // no memory to keep it: close it as before
    }
}

detail::TimeoutList* Loop::timeout_list(std::uint64_t due) {
    if (impl_->shutting_down) {
        return nullptr;
    }
    // The list whose last timeout falls due latest but no later than `due` (so it stays in
    // order): timeouts of one duration keep joining the same list, and a deadline's shrinking
    // durations (the same due time) the list they began in. An empty list takes anything.
    detail::TimeoutList* best = nullptr;
    detail::TimeoutList* idle = nullptr;
    for (detail::TimeoutList* list : impl_->timeout_lists) {
        if (list->empty()) {
            idle = list;
        } else if (list->last_due() <= due &&
                   (best == nullptr || list->last_due() > best->last_due())) {
            best = list;
        }
    }
    if (best != nullptr || idle != nullptr) {
        return best != nullptr ? best : idle;
    }
    if (impl_->timeout_lists.size() >= detail::TimeoutList::max_lists) {
        return nullptr;
    }
    impl_->timeout_lists.push_back(new detail::TimeoutList(*this));
    return impl_->timeout_lists.back();
}

CallbackHandle Loop::call_at(std::chrono::milliseconds when, Callback callback) {
    // time() refreshes the clock, so `when` is compared with the time as it is now.
    return arm_timer(when - time(), false, std::move(callback));
}

void Loop::call_soon_threadsafe(Callback callback) {
    {
        std::lock_guard lock(impl_->posted_mutex);
        impl_->posted.push_back(std::move(callback));
    }
    uv_async_send(&impl_->wakeup);
}

void Loop::queue_work(std::function<void()> work, std::function<void(bool cancelled)> after) {
    if (impl_->shutting_down) {
        after(true);
        return;
    }
    auto* request = new detail::WorkRequest();
    request->req.data = request;
    request->work = std::move(work);
    request->after = std::move(after);
    const int rc = uv_queue_work(
        &impl_->uv, &request->req,
        [](uv_work_t* req) { static_cast<detail::WorkRequest*>(req->data)->work(); },
        [](uv_work_t* req, int status) {
            std::unique_ptr<detail::WorkRequest> request(
                static_cast<detail::WorkRequest*>(req->data));
            Loop& loop = detail::LoopAccess::from_native(req->loop);
            loop.impl_->work.erase(request.get());
            request->after(status == UV_ECANCELED);
        });
    if (rc != 0) {
        std::unique_ptr<detail::WorkRequest> failed(request);
        throw Error(uv_error(rc),
                    std::string("run_in_executor: uv_queue_work failed: ") + uv_strerror(rc));
    }
    impl_->work.insert(request);
}

void Loop::add_signal_handler(int signum, Callback handler) {
    if (impl_->shutting_down) {
        throw Error(make_error_code(errc::loop_closed), "add_signal_handler: loop is closing");
    }
    if (signum <= 0 || signum >= NSIG) {
        throw Error(make_error_code(errc::invalid_argument),
                    "add_signal_handler: invalid signal number " + std::to_string(signum));
    }
    auto found = impl_->signals.find(signum);
    if (found != impl_->signals.end()) {
        found->second->handler = std::move(handler);
        return;
    }
    auto* entry = new detail::SignalEntry();
    entry->loop = this;
    entry->handler = std::move(handler);
    entry->handle.data = entry;
    uv_signal_init(&impl_->uv, &entry->handle);
    register_resource(*entry);
    const int rc = uv_signal_start(
        &entry->handle,
        [](uv_signal_t* handle, int) {
            auto* self = static_cast<detail::SignalEntry*>(handle->data);
            // Copy: the handler may remove or replace itself.
            Callback handler = self->handler;
            detail::invoke_guarded(*self->loop, "exception in signal handler", handler);
        },
        signum);
    if (rc != 0) {
        entry->close();
        throw Error(uv_error(rc),
                    "add_signal_handler(" + std::to_string(signum) + "): " + uv_strerror(rc));
    }
    impl_->signals.emplace(signum, entry);
}

bool Loop::remove_signal_handler(int signum) {
    auto found = impl_->signals.find(signum);
    if (found == impl_->signals.end()) {
        return false;
    }
    found->second->close();
    impl_->signals.erase(found);
    return true;
}

void Loop::set_exception_handler(ExceptionHandler handler) {
    impl_->exception_handler = std::move(handler);
}

void Loop::call_exception_handler(const ExceptionContext& context) noexcept {
    try {
        if (impl_->exception_handler) {
            impl_->exception_handler(context);
        } else {
            default_exception_handler(context);
        }
    } catch (...) {
        // The handler itself failed: fall back to the default so the report is not lost.
        try {
            default_exception_handler(
                {"exception in the exception handler", std::current_exception()});
            default_exception_handler(context);
        } catch (...) {
        }
    }
}

void Loop::default_exception_handler(const ExceptionContext& context) {
    if (!context.exception) {
        log().error("{}", context.message);
        return;
    }
    log().error("{}: {}", context.message, detail::message_of(context.exception));
}

uv_loop_s* Loop::native() noexcept {
    return &impl_->uv;
}

Loop& Loop::from_native(uv_loop_s* native) noexcept {
    return *static_cast<Loop*>(native->data);
}

void Loop::register_resource(detail::LoopResource& resource) noexcept {
    resource.prev_ = nullptr;
    resource.next_ = impl_->resources;
    if (impl_->resources != nullptr) {
        impl_->resources->prev_ = &resource;
    }
    impl_->resources = &resource;
}

void Loop::unregister_resource(detail::LoopResource& resource) noexcept {
    if (resource.prev_ != nullptr) {
        resource.prev_->next_ = resource.next_;
    } else if (impl_->resources == &resource) {
        impl_->resources = resource.next_;
    }
    if (resource.next_ != nullptr) {
        resource.next_->prev_ = resource.prev_;
    }
    resource.prev_ = resource.next_ = nullptr;
}

bool Loop::is_shutting_down() const noexcept {
    return impl_->shutting_down;
}

void CallbackHandle::cancel() noexcept {
    if (!state_ || state_->done || state_->cancelled) {
        return;
    }
    state_->cancelled = true;
    state_->fn = nullptr;
    if (state_->timer != nullptr) {
        state_->timer->loop->retire_timer(*state_->timer);
    }
}

bool CallbackHandle::cancelled() const noexcept {
    return state_ && state_->cancelled;
}

} // namespace ferry
