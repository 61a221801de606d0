// The thread-exit half of the coroutine frame pool (the hot paths are inline in the header).
#include <ferry/detail/frame_pool.hpp>

namespace ferry::detail {
namespace {

/// Empties the thread's pool when the thread exits, and sends later frees to the heap.
struct FramePoolExitHook {
    ~FramePoolExitHook() {
        FramePool& pool = frame_pool;
        pool.closed = true;
        for (FramePool::FreeFrame*& head : pool.free) {
            while (head != nullptr) {
                FramePool::FreeFrame* next = head->next;
                ::operator delete(head);
                head = next;
            }
        }
        pool.cached_bytes = 0;
    }
};

} // namespace

void install_frame_pool_exit_hook() noexcept {
    static thread_local FramePoolExitHook hook;
    frame_pool.exit_hook_installed = true;
}

} // namespace ferry::detail
