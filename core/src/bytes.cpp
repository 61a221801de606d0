// ByteView comparison and hex dumps.
#include <ferry/bytes.hpp>

#include <cstdio>
#include <cstring>

namespace ferry {

bool operator==(ByteView a, ByteView b) noexcept {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

std::string hex_dump(ByteView bytes, std::size_t max_bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    const std::size_t shown = bytes.size() < max_bytes ? bytes.size() : max_bytes;
    std::string out;
    for (std::size_t row = 0; row < shown; row += 16) {
        char offset[32];
        std::snprintf(offset, sizeof offset, "%08zx  ", row);
        out += offset;
        std::string ascii;
        for (std::size_t i = row; i < row + 16; ++i) {
            if (i < shown) {
                const auto b = static_cast<unsigned char>(bytes[i]);
                out += digits[b >> 4];
                out += digits[b & 0xf];
                out += ' ';
                ascii += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '.';
            } else {
                out += "   ";
            }
        }
        out += ' ';
        out += ascii;
        out += '\n';
    }
    if (shown < bytes.size()) {
        out += "... (" + std::to_string(bytes.size() - shown) + " more bytes)\n";
    }
    return out;
}

} // namespace ferry
