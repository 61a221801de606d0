#pragma once
/// Byte views and owned byte buffers used at every ferry API boundary.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <ferry/detail/block_pool.hpp>

namespace ferry {

namespace detail {
/// std::allocator, except that growing a vector leaves new elements uninitialised instead of
/// zero-filling them (a reader can resize its buffer and let the OS write into it without
/// first paying for a memset of every byte), and small buffers come from the thread's block
/// pool (a streams read per message allocates one).
template <class T>
struct DefaultInitAllocator : std::allocator<T> {
    template <class U>
    struct rebind {
        using other = DefaultInitAllocator<U>;
    };
    DefaultInitAllocator() noexcept = default;
    template <class U>
    DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) {
        if (n > std::size_t(-1) / sizeof(T)) {
            throw std::bad_array_new_length();
        }
        return static_cast<T*>(allocate_block(n * sizeof(T)));
    }
    void deallocate(T* memory, std::size_t n) noexcept { free_block(memory, n * sizeof(T)); }
    template <class U>
    void construct(U* where) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(where)) U;
    }
    template <class U, class... Args>
    void construct(U* where, Args&&... args) {
        ::new (static_cast<void*>(where)) U(std::forward<Args>(args)...);
    }
};
} // namespace detail

/// An owned, growable byte buffer: a std::vector of std::byte (every vector operation works),
/// except that `Bytes(n)` and `resize(n)` leave the new bytes unspecified (as malloc does);
/// write `Bytes(n, std::byte{0})` for zeros. That is what lets streams hand their buffers to
/// the caller without copying. It converts to a plain `std::vector<std::byte>` (a copy):
/// `std::vector<std::byte> line = co_await reader.readline();`.
class Bytes : public std::vector<std::byte, detail::DefaultInitAllocator<std::byte>> {
public:
    /// The vector type underneath.
    using Vector = std::vector<std::byte, detail::DefaultInitAllocator<std::byte>>;
    using Vector::Vector;
    /// An empty buffer.
    Bytes() noexcept = default;
    /// Takes over a vector with the same allocator.
    Bytes(Vector&& other) noexcept : Vector(std::move(other)) {}
    /// Copies a plain byte vector.
    explicit Bytes(const std::vector<std::byte>& other) : Vector(other.begin(), other.end()) {}
    /// A copy as a plain std::vector<std::byte>, for APIs that take one.
    operator std::vector<std::byte>() const { return {begin(), end()}; }
};

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
    /// A view of a std::vector of bytes.
    ByteView(const std::vector<std::byte>& bytes) noexcept : ByteView(bytes.data(), bytes.size()) {}
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
    Bytes to_bytes() const;
    /// An owned copy as a string.
    std::string to_string() const { return std::string(as_string_view()); }

private:
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

/// True when both views hold the same bytes.
bool operator==(ByteView a, ByteView b) noexcept;

/// Appends `bytes` to `buffer` with one memcpy. (Range insert would copy byte by byte:
/// libstdc++ only uses memcpy for std::allocator itself.)
inline void append(Bytes& buffer, ByteView bytes) {
    if (bytes.empty()) {
        return;
    }
    const std::size_t old_size = buffer.size();
    buffer.resize(old_size + bytes.size()); // default-initialises: no per-byte work
    std::memcpy(buffer.data() + old_size, bytes.data(), bytes.size());
}

inline Bytes ByteView::to_bytes() const {
    Bytes copy;
    append(copy, *this);
    return copy;
}

/// Renders bytes as a classic hex dump (offset, hex, ASCII), for trace logging and tests.
std::string hex_dump(ByteView bytes, std::size_t max_bytes = 256);

} // namespace ferry
