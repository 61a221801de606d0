// Spawned tasks: starting, finishing, done callbacks, and closing with the loop.
#include <ferry/detail/loop_access.hpp>
#include <ferry/task.hpp>
#include <ferry/task_handle.hpp>

#include <ferry/log.hpp>

namespace ferry::detail {

SpawnedTaskBase::SpawnedTaskBase(Loop& loop)
    : TaskRuntime(loop), loop_alive_(detail::LoopAccess::lifetime_token(loop)) {}

SpawnedTaskBase::~SpawnedTaskBase() {
    if (!error_ || retrieved_ || cancelled_) {
        return;
    }
    // asyncio's "Task exception was never retrieved": report it rather than lose it.
    if (!loop_alive_.expired()) {
        loop().call_exception_handler({"task exception was never retrieved", error_});
    } else {
        log().error("task exception was never retrieved: {}", message_of(error_));
    }
}

void SpawnedTaskBase::start(std::shared_ptr<SpawnedTaskBase> self, std::coroutine_handle<> runner) {
    self_ = std::move(self);
    runner_ = runner;
    detail::LoopAccess::register_resource(loop(), *this);
    detail::LoopAccess::resume_soon(loop(), runner_, this);
}

void SpawnedTaskBase::finish(std::exception_ptr error, bool cancelled) noexcept {
    // Released last: waking awaiters and scheduling callbacks may drop every other reference.
    std::shared_ptr<SpawnedTaskBase> keep_alive = std::move(self_);
    done_ = true;
    runner_ = nullptr; // the runner frame frees itself once this returns
    error_ = std::move(error);
    cancelled_ = cancelled;
    awaiters_.wake_all();
    for (auto& callback : done_callbacks_) {
        loop().call_soon(std::move(callback));
    }
    done_callbacks_.clear();
    detail::LoopAccess::unregister_resource(loop(), *this);
}

void SpawnedTaskBase::add_done_callback(std::function<void()> callback) {
    if (done_) {
        loop().call_soon(std::move(callback));
        return;
    }
    done_callbacks_.push_back(std::move(callback));
}

std::exception_ptr SpawnedTaskBase::exception() noexcept {
    retrieved_ = true;
    return error_;
}

void SpawnedTaskBase::check_result() {
    if (!done_) {
        throw Error(make_error_code(errc::invalid_argument), "the task is not done yet");
    }
    retrieved_ = true;
    if (error_) {
        std::rethrow_exception(error_);
    }
}

void SpawnedTaskBase::close_for_loop_shutdown() noexcept {
    std::shared_ptr<SpawnedTaskBase> keep_alive = std::move(self_);
    log().debug("destroying a pending task because its loop is closing");
    done_ = true;
    cancelled_ = true;
    if (runner_) {
        // Destroys every frame of the task; their awaitables unlink themselves.
        std::exchange(runner_, nullptr).destroy();
    }
    done_callbacks_.clear();
    detail::LoopAccess::unregister_resource(loop(), *this);
}

} // namespace ferry::detail
