// The block pool: coroutine frames and small Bytes are recycled by size class on the thread
// that frees them, the memory kept is bounded, the last bulk buffer freed serves the next one,
// and a thread's pool is emptied when the thread exits.
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/bytes.hpp>
#include <ferry/detail/block_pool.hpp>
#include <ferry/detail/loop_access.hpp>
#include <ferry/loop.hpp>
#include <ferry/task.hpp>

namespace ferry {
namespace {

using detail::BlockPool;

TEST(BlockPoolTest, AFreedFrameServesTheNextFrameOfItsClass) {
    if (!FERRY_BLOCK_POOL_ENABLED) {
        GTEST_SKIP() << "the pool is off under AddressSanitizer (freed frames must be freed)";
    }
    void* first = detail::allocate_block(200);
    detail::free_block(first, 200);
    // 193..200 bytes share a class (blocks of 16k + 8 bytes); 201 does not.
    void* second = detail::allocate_block(193);
    EXPECT_EQ(second, first);
    detail::free_block(second, 193);
    void* other = detail::allocate_block(201);
    EXPECT_NE(other, first);
    detail::free_block(other, 201);
    EXPECT_EQ(BlockPool::block_size(BlockPool::size_class(200)), 200u);
    EXPECT_EQ(BlockPool::block_size(BlockPool::size_class(201)), 216u);
}

TEST(BlockPoolTest, TheMemoryKeptIsBounded) {
    if (!FERRY_BLOCK_POOL_ENABLED) {
        GTEST_SKIP() << "the pool is off under AddressSanitizer";
    }
    std::vector<void*> frames;
    for (int i = 0; i < 200; ++i) {
        frames.push_back(detail::allocate_block(1000));
    }
    for (void* frame : frames) {
        detail::free_block(frame, 1000);
    }
    EXPECT_LE(detail::block_pool.cached_bytes, BlockPool::max_cached_bytes);
    EXPECT_GT(detail::block_pool.cached_bytes, BlockPool::max_cached_bytes - 1024);
    // Frames larger than the largest class go straight to the heap.
    void* large = detail::allocate_block(BlockPool::largest + 1);
    const std::uint32_t before = detail::block_pool.cached_bytes;
    detail::free_block(large, BlockPool::largest + 1);
    EXPECT_EQ(detail::block_pool.cached_bytes, before);
}

TEST(BlockPoolTest, TheLastLargeBlockFreedServesTheNextOfItsSizeOnly) {
    if (!FERRY_BLOCK_POOL_ENABLED) {
        GTEST_SKIP() << "the pool is off under AddressSanitizer";
    }
    constexpr std::size_t bulk = 256 * 1024;
    void* first = detail::allocate_block(bulk);
    void* second = detail::allocate_block(bulk);
    detail::free_block(first, bulk);
    detail::free_block(second, bulk); // the newest is kept, the older goes back to the heap
    EXPECT_EQ(detail::block_pool.large, second);
    void* other_size = detail::allocate_block(bulk - 16);
    EXPECT_NE(other_size, second); // a different size never takes it
    void* again = detail::allocate_block(bulk);
    EXPECT_EQ(again, second);
    EXPECT_EQ(detail::block_pool.large, nullptr); // one block at most is kept
    detail::free_block(other_size, bulk - 16);    // kept: the slot was empty
    EXPECT_EQ(detail::block_pool.large, other_size);
    detail::free_block(again, bulk); // larger: replaces it
    EXPECT_EQ(detail::block_pool.large, again);
    void* chunk = detail::allocate_block(64 * 1024);
    detail::free_block(chunk, 64 * 1024); // smaller than the one kept: to the heap
    EXPECT_EQ(detail::block_pool.large, again);
    // Larger than a bulk receive: straight back to the heap, the kept block stays.
    void* huge = detail::allocate_block(BlockPool::large_max + 1);
    detail::free_block(huge, BlockPool::large_max + 1);
    EXPECT_EQ(detail::block_pool.large, again);
    EXPECT_EQ(detail::block_pool.large_size, bulk);
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

// A copy into memory 16 bytes off a cache line (malloc's pointers) runs at half speed on AMD
// EPYC (`rep movsb`, the kernel's and glibc's): bulk buffers and the loop's read buffer are
// aligned. With or without the pool (under AddressSanitizer it is off).
TEST(BlockPoolTest, BulkBuffersAndTheLoopsReadBufferStartOnACacheLine) {
    for (const std::size_t size :
         {BlockPool::largest + 1, std::size_t{64 * 1024}, std::size_t{100'000},
          BlockPool::large_max, BlockPool::large_max + 1}) {
        Bytes bulk(size);
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bulk.data()) % 64, 0u) << size;
    }
    Loop loop;
    const std::span<std::byte> read_buffer = detail::LoopAccess::read_buffer(loop);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(read_buffer.data()) % 4096, 0u);
    EXPECT_EQ(read_buffer.size(), 256u * 1024); // asyncio's largest read
}

TEST(BlockPoolTest, TasksOnAnotherThreadLeaveNothingBehindWhenItExits) {
    // Run under valgrind or LeakSanitizer, a pool not emptied at thread exit shows as a leak;
    // here the frames' reuse is checked through the result.
    int result = 0;
    std::thread worker([&result] {
        Loop loop;
        result = loop.run_until_complete(sum_of_many(1000));
        if (FERRY_BLOCK_POOL_ENABLED) {
            EXPECT_GT(detail::block_pool.cached_bytes, 0u);
        }
    });
    worker.join();
    EXPECT_EQ(result, 1000 * 999 / 2 + 1000);
}

TEST(BlockPoolTest, SmallBytesComeFromThePoolAndMayBeFreedOnAnotherThread) {
    if (!FERRY_BLOCK_POOL_ENABLED) {
        GTEST_SKIP() << "the pool is off under AddressSanitizer (freed blocks must be freed)";
    }
    const void* first = nullptr;
    {
        Bytes message(64);
        first = message.data();
    }
    Bytes again(60); // the same size class: the same block
    EXPECT_EQ(static_cast<const void*>(again.data()), first);
    Bytes large(64 * 1024); // above the pool's largest: malloc's, and back to malloc
    large.resize(128 * 1024);
    // Made here, freed on a worker (as an executor's result travels the other way): the
    // block joins the worker's pool, which the worker's exit empties.
    std::vector<Bytes> made;
    for (int i = 0; i < 100; ++i) {
        made.emplace_back(100, std::byte{7});
    }
    std::thread worker([taken = std::move(made)]() mutable {
        for (const Bytes& b : taken) {
            EXPECT_EQ(b.size(), 100u);
            EXPECT_EQ(b[99], std::byte{7});
        }
        taken.clear();
        EXPECT_GT(detail::block_pool.cached_bytes, 0u);
    });
    worker.join();
}

} // namespace
} // namespace ferry
