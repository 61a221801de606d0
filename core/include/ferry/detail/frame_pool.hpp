#pragma once
/// Recycling of coroutine frames: a Task's frame is allocated when it is called and freed when
/// it ends, once per `co_await reader.read()` or `writer.drain()`. malloc and free cost about
/// a hundred instructions for that; a free list per thread and size class costs about ten.

#include <cstddef>
#include <cstdint>
#include <new>

namespace ferry::detail {

/// Per-thread free lists of coroutine frames by size class. Trivially destructible, so a
/// frame freed after the thread's other thread_locals were destroyed (a Task held by a static
/// object) still finds it usable: drain_frame_pool() marks it closed at thread exit.
struct FramePool {
    /// Frames up to `largest` bytes are recycled, in classes of 16-byte steps.
    static constexpr std::size_t largest = 1024;
    static constexpr std::size_t size_classes = largest / 16 + 1;
    /// A frame's class. Blocks are 16k + 8 bytes: what a malloc chunk of 16(k + 1) bytes
    /// holds (glibc's 8-byte header), so rounding to a class costs no memory malloc would
    /// not have spent anyway.
    static constexpr std::size_t size_class(std::size_t size) noexcept { return (size + 7) / 16; }
    /// The block size of a class.
    static constexpr std::size_t block_size(std::size_t size_class) noexcept {
        return size_class * 16 + 8;
    }
    /// At most this much memory is kept per thread for reuse.
    static constexpr std::uint32_t max_cached_bytes = 64 * 1024;

    struct FreeFrame {
        FreeFrame* next;
    };
    FreeFrame* free[size_classes];
    std::uint32_t cached_bytes;
    bool exit_hook_installed; // drain_frame_pool runs at thread exit
    bool closed;              // the thread is exiting: frames go back to the heap
};

// AddressSanitizer finds a use of a freed frame only if the frame really is freed.
#if defined(__SANITIZE_ADDRESS__)
#define FERRY_FRAME_POOL_ENABLED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRY_FRAME_POOL_ENABLED 0
#endif
#endif
#ifndef FERRY_FRAME_POOL_ENABLED
#define FERRY_FRAME_POOL_ENABLED 1
#endif

/// This thread's pool (constant-initialised: no guard on access).
inline constinit thread_local FramePool frame_pool{};

/// Arranges for this thread's pool to be emptied when the thread exits.
void install_frame_pool_exit_hook() noexcept;

/// Memory for a coroutine frame of `size` bytes.
inline void* allocate_frame(std::size_t size) {
    if (FERRY_FRAME_POOL_ENABLED && size <= FramePool::largest) {
        const std::size_t size_class = FramePool::size_class(size);
        FramePool& pool = frame_pool;
        if (FramePool::FreeFrame* frame = pool.free[size_class]) {
            pool.free[size_class] = frame->next;
            pool.cached_bytes -= static_cast<std::uint32_t>(FramePool::block_size(size_class));
            return frame;
        }
        return ::operator new(FramePool::block_size(size_class));
    }
    return ::operator new(size);
}

/// Gives back a frame from allocate_frame(size).
inline void free_frame(void* memory, std::size_t size) noexcept {
    if (FERRY_FRAME_POOL_ENABLED && size <= FramePool::largest) {
        const std::size_t size_class = FramePool::size_class(size);
        const auto bytes = static_cast<std::uint32_t>(FramePool::block_size(size_class));
        FramePool& pool = frame_pool;
        if (pool.cached_bytes + bytes <= FramePool::max_cached_bytes && !pool.closed) {
            if (!pool.exit_hook_installed) {
                install_frame_pool_exit_hook();
            }
            auto* frame = static_cast<FramePool::FreeFrame*>(memory);
            frame->next = pool.free[size_class];
            pool.free[size_class] = frame;
            pool.cached_bytes += bytes;
            return;
        }
    }
    ::operator delete(memory);
}

} // namespace ferry::detail
