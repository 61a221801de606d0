#pragma once
// Helpers for bulk-transfer tests: random blocks and a running checksum.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

namespace ferry::test {

/// Fills `block` with random bytes, eight at a time.
inline void fill_random(std::string& block, std::mt19937_64& random) {
    for (std::size_t i = 0; i + 8 <= block.size(); i += 8) {
        const std::uint64_t word = random();
        std::memcpy(block.data() + i, &word, 8);
    }
}

/// FNV-1a, to compare large transfers without keeping both copies.
struct Checksum {
    std::uint64_t value = 1469598103934665603ull;
    void add(const void* data, std::size_t n) {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (std::size_t i = 0; i < n; ++i) {
            value = (value ^ bytes[i]) * 1099511628211ull;
        }
    }
};

} // namespace ferry::test
