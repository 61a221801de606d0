// The coroutine frame pool: frames are recycled by size class on the thread that frees them,
// the memory kept is bounded, and a thread's pool is emptied when the thread exits.
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/detail/frame_pool.hpp>
#include <ferry/loop.hpp>
#include <ferry/task.hpp>

namespace ferry {
namespace {

using detail::FramePool;

TEST(FramePoolTest, AFreedFrameServesTheNextFrameOfItsClass) {
    if (!FERRY_FRAME_POOL_ENABLED) {
        GTEST_SKIP() << "the pool is off under AddressSanitizer (freed frames must be freed)";
    }
    void* first = detail::allocate_frame(200);
    detail::free_frame(first, 200);
    // 193..200 bytes share a class (blocks of 16k + 8 bytes); 201 does not.
    void* second = detail::allocate_frame(193);
    EXPECT_EQ(second, first);
    detail::free_frame(second, 193);
    void* other = detail::allocate_frame(201);
    EXPECT_NE(other, first);
    detail::free_frame(other, 201);
    EXPECT_EQ(FramePool::block_size(FramePool::size_class(200)), 200u);
    EXPECT_EQ(FramePool::block_size(FramePool::size_class(201)), 216u);
}

TEST(FramePoolTest, TheMemoryKeptIsBounded) {
    if (!FERRY_FRAME_POOL_ENABLED) {
        GTEST_SKIP() << "the pool is off under AddressSanitizer";
    }
    std::vector<void*> frames;
    for (int i = 0; i < 200; ++i) {
        frames.push_back(detail::allocate_frame(1000));
    }
    for (void* frame : frames) {
        detail::free_frame(frame, 1000);
    }
    EXPECT_LE(detail::frame_pool.cached_bytes, FramePool::max_cached_bytes);
    EXPECT_GT(detail::frame_pool.cached_bytes, FramePool::max_cached_bytes - 1024);
    // Frames larger than the largest class go straight to the heap.
    void* large = detail::allocate_frame(FramePool::largest + 1);
    const std::uint32_t before = detail::frame_pool.cached_bytes;
    detail::free_frame(large, FramePool::largest + 1);
    EXPECT_EQ(detail::frame_pool.cached_bytes, before);
}

Task<int> add(int a, int b) {
    co_return a + b;
}

Task<int> sum_of_many(int count) {
    int total = 0;
    for (int i = 0; i < count; ++i) {
        total += co_await add(i, 1);
    }
    co_return total;
}

TEST(FramePoolTest, TasksOnAnotherThreadLeaveNothingBehindWhenItExits) {
    // Run under valgrind or LeakSanitizer, a pool not emptied at thread exit shows as a leak;
    // here the frames' reuse is checked through the result.
    int result = 0;
    std::thread worker([&result] {
        Loop loop;
        result = loop.run_until_complete(sum_of_many(1000));
        if (FERRY_FRAME_POOL_ENABLED) {
            EXPECT_GT(detail::frame_pool.cached_bytes, 0u);
        }
    });
    worker.join();
    EXPECT_EQ(result, 1000 * 999 / 2 + 1000);
}

} // namespace
} // namespace ferry
