#pragma once
/// Byte views and owned byte buffers used at every ferry API boundary.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

/// An owned, growable byte buffer.
using Bytes = std::vector<std::byte>;

/// A non-owning view of bytes; built implicitly from strings, byte spans and byte vectors.
/// Valid only as long as the memory it points at: a protocol must copy what it keeps.
class ByteView {
public:
    /// An empty view.
    constexpr ByteView() noexcept = default;
    /// A view of `size` bytes at `data`.
    constexpr ByteView(const std::byte* data, std::size_t size) noexcept
        : data_(data), size_(size) {}
    /// A view of raw memory, e.g. a C buffer.
    ByteView(const void* data, std::size_t size) noexcept
        : data_(static_cast<const std::byte*>(data)), size_(size) {}
    /// A view of a string's characters (not its terminator).
    ByteView(std::string_view text) noexcept : ByteView(text.data(), text.size()) {}
    /// A view of a string's characters.
    ByteView(const std::string& text) noexcept : ByteView(text.data(), text.size()) {}
    /// A view of a NUL-terminated string literal's characters.
    ByteView(const char* text) noexcept : ByteView(std::string_view(text)) {}
    /// A view of a byte span.
    constexpr ByteView(std::span<const std::byte> bytes) noexcept
        : data_(bytes.data()), size_(bytes.size()) {}
    /// A view of an unsigned-char span.
    ByteView(std::span<const std::uint8_t> bytes) noexcept : ByteView(bytes.data(), bytes.size()) {}
    /// A view of an owned buffer.
    ByteView(const Bytes& bytes) noexcept : ByteView(bytes.data(), bytes.size()) {}
    /// A view of a vector of unsigned chars.
    ByteView(const std::vector<std::uint8_t>& bytes) noexcept
        : ByteView(bytes.data(), bytes.size()) {}

    /// First byte.
    constexpr const std::byte* data() const noexcept { return data_; }
    /// Number of bytes.
    constexpr std::size_t size() const noexcept { return size_; }
    /// True when there are no bytes.
    constexpr bool empty() const noexcept { return size_ == 0; }
    /// Iteration support.
    constexpr const std::byte* begin() const noexcept { return data_; }
    /// Iteration support.
    constexpr const std::byte* end() const noexcept { return data_ + size_; }
    /// Byte at `index` (unchecked).
    constexpr std::byte operator[](std::size_t index) const noexcept { return data_[index]; }
    /// The bytes `[offset, offset + count)`, clamped to the view.
    constexpr ByteView subview(std::size_t offset, std::size_t count = SIZE_MAX) const noexcept {
        if (offset > size_) {
            offset = size_;
        }
        return {data_ + offset, count < size_ - offset ? count : size_ - offset};
    }
    /// The same bytes as characters, for text protocols.
    std::string_view as_string_view() const noexcept {
        return {reinterpret_cast<const char*>(data_), size_};
    }
    /// The same bytes as a span.
    constexpr std::span<const std::byte> as_span() const noexcept { return {data_, size_}; }
    /// An owned copy.
    Bytes to_bytes() const { return Bytes(begin(), end()); }
    /// An owned copy as a string.
    std::string to_string() const { return std::string(as_string_view()); }

private:
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

/// True when both views hold the same bytes.
bool operator==(ByteView a, ByteView b) noexcept;

/// Appends `bytes` to `buffer`.
inline void append(Bytes& buffer, ByteView bytes) {
    buffer.insert(buffer.end(), bytes.begin(), bytes.end());
}

/// Renders bytes as a classic hex dump (offset, hex, ASCII), for trace logging and tests.
std::string hex_dump(ByteView bytes, std::size_t max_bytes = 256);

} // namespace ferry
