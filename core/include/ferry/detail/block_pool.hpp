#pragma once
/// Recycling of small blocks: coroutine frames (a Task's frame is allocated when it is called
/// and freed when it ends, once per `co_await reader.readline()`) and small `Bytes` (a
/// 64-byte message read per round trip). malloc and free cost about a hundred instructions
/// for that; a free list per thread and size class costs about ten. Larger blocks (bulk
/// buffers) come from the heap aligned to a cache line, and the last one freed is kept.

#include <cstddef>
#include <cstdint>
#include <new>

namespace ferry::detail {

/// Per-thread free lists of small blocks by size class. Trivially destructible, so a block
/// freed after the thread's other thread_locals were destroyed (a Task held by a static
/// object) still finds it usable: the exit hook marks it closed at thread exit. A block freed
/// on another thread than the one that allocated it joins that thread's lists (the blocks
/// are plain malloc chunks either way).
struct BlockPool {
    /// Blocks up to `largest` bytes are recycled, in classes of 16-byte steps.
    static constexpr std::size_t largest = 1024;
    static constexpr std::size_t size_classes = largest / 16 + 1;
    /// A block's class. Blocks are 16k + 8 bytes: what a malloc chunk of 16(k + 1) bytes
    /// holds (glibc's 8-byte header), so rounding to a class costs no memory malloc would
    /// not have spent anyway.
    static constexpr std::size_t size_class(std::size_t size) noexcept { return (size + 7) / 16; }
    /// The block size of a class.
    static constexpr std::size_t block_size(std::size_t size_class) noexcept {
        return size_class * 16 + 8;
    }
    /// At most this much memory in small blocks is kept per thread for reuse (plus one large
    /// block).
    static constexpr std::uint32_t max_cached_bytes = 64 * 1024;

    /// Freed blocks from `large_min` to `large_max` bytes: the last one is kept for the next
    /// allocation of the same size. A streams reader hands its bulk receive buffer to read()
    /// and receives the next bulk into a new one; that one is then the buffer the last echo
    /// just freed, still in cache, as a Protocol's one read buffer is (and no trip through
    /// malloc, which trimmed and regrew the heap for blocks this large).
    static constexpr std::size_t large_min = 16 * 1024;
    static constexpr std::size_t large_max = 256 * 1024;
    /// Blocks larger than `largest` (bulk buffers) start on a cache line. A copy into memory
    /// 16 bytes off one (malloc's pointers) runs at half speed on AMD EPYC, for the kernel's
    /// copy of a receive and for glibc's memcpy alike (`rep movsb`): streams bulk echo
    /// measured 0.45x raw libuv's MB per CPU-second before, see docs/benchmarks.md.
    static constexpr std::align_val_t bulk_alignment{64};

    struct FreeBlock {
        FreeBlock* next;
    };
    FreeBlock* free[size_classes];
    void* large;            // the last large block freed, or null
    std::size_t large_size; // its size
    std::uint32_t cached_bytes;
    bool exit_hook_installed; // the exit hook runs at thread exit
    bool closed;              // the thread is exiting: blocks go back to the heap
};

// AddressSanitizer finds a use of a freed block only if the block really is freed.
#if defined(__SANITIZE_ADDRESS__)
#define FERRY_BLOCK_POOL_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRY_BLOCK_POOL_ENABLED 0
#endif
#endif
#ifndef FERRY_BLOCK_POOL_ENABLED
#define FERRY_BLOCK_POOL_ENABLED 1
#endif

/// This thread's pool (constant-initialised: no guard on access).
inline constinit thread_local BlockPool block_pool{};

/// Arranges for this thread's pool to be emptied when the thread exits.
void install_block_pool_exit_hook() noexcept;

/// Memory for a block (a coroutine frame, a small buffer) of `size` bytes.
inline void* allocate_block(std::size_t size) {
    if (FERRY_BLOCK_POOL_ENABLED && size <= BlockPool::largest) {
        const std::size_t size_class = BlockPool::size_class(size);
        BlockPool& pool = block_pool;
        if (BlockPool::FreeBlock* block = pool.free[size_class]) {
            pool.free[size_class] = block->next;
            pool.cached_bytes -= static_cast<std::uint32_t>(BlockPool::block_size(size_class));
            return block;
        }
        return ::operator new(BlockPool::block_size(size_class));
    }
    if (FERRY_BLOCK_POOL_ENABLED && size == block_pool.large_size && block_pool.large != nullptr) {
        void* block = block_pool.large;
        block_pool.large = nullptr;
        return block;
    }
    return ::operator new(size, BlockPool::bulk_alignment);
}

/// Gives back a block from allocate_block(size).
inline void free_block(void* memory, std::size_t size) noexcept {
    if (FERRY_BLOCK_POOL_ENABLED && size <= BlockPool::largest) {
        const std::size_t size_class = BlockPool::size_class(size);
        const auto bytes = static_cast<std::uint32_t>(BlockPool::block_size(size_class));
        BlockPool& pool = block_pool;
        if (pool.cached_bytes + bytes <= BlockPool::max_cached_bytes && !pool.closed) {
            if (!pool.exit_hook_installed) {
                install_block_pool_exit_hook();
            }
            auto* block = static_cast<BlockPool::FreeBlock*>(memory);
            block->next = pool.free[size_class];
            pool.free[size_class] = block;
            pool.cached_bytes += bytes;
            return;
        }
        ::operator delete(memory);
        return;
    }
    if (FERRY_BLOCK_POOL_ENABLED && size >= BlockPool::large_min && size <= BlockPool::large_max &&
        !block_pool.closed) {
        BlockPool& pool = block_pool;
        // The newest is kept (the one most likely still in cache), unless it is smaller than
        // the one kept: a write queue's chunk must not push out a bulk receive buffer.
        if (pool.large == nullptr || size >= pool.large_size) {
            if (!pool.exit_hook_installed) {
                install_block_pool_exit_hook();
            }
            ::operator delete(pool.large, BlockPool::bulk_alignment);
            pool.large = memory;
            pool.large_size = size;
            return;
        }
    }
    ::operator delete(memory, BlockPool::bulk_alignment);
}

} // namespace ferry::detail
