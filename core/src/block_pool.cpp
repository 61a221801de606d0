// The thread-exit half of the small-block pool (the hot paths are inline in the header).
#include <ferry/detail/block_pool.hpp>

namespace ferry::detail {
namespace {

/// Empties the thread's pool when the thread exits, and sends later frees to the heap.
struct BlockPoolExitHook {
    ~BlockPoolExitHook() {
        BlockPool& pool = block_pool;
        pool.closed = true;
        for (BlockPool::FreeBlock*& head : pool.free) {
            while (head != nullptr) {
                BlockPool::FreeBlock* next = head->next;
                ::operator delete(head);
                head = next;
            }
        }
        pool.cached_bytes = 0;
        ::operator delete(pool.large, BlockPool::bulk_alignment);
        pool.large = nullptr;
    }
};

} // namespace

void install_block_pool_exit_hook() noexcept {
    static thread_local BlockPoolExitHook hook;
    block_pool.exit_hook_installed = true;
}

} // namespace ferry::detail
