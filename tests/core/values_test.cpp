// Value types of core: error categories, Result, ByteView, hex dumps, SocketAddress.
#include <uv.h>

#include "../support/test_support.hpp"

namespace ferry {
namespace {

TEST(ErrorTest, LibuvCodesCarryLibuvMessagesAndCompareToStdErrc) {
    const std::error_code refused = uv_error(UV_ECONNREFUSED);
    EXPECT_EQ(refused.message(), "connection refused");
    EXPECT_STREQ(refused.category().name(), "libuv");
    EXPECT_EQ(refused, std::errc::connection_refused);
    EXPECT_EQ(uv_error(UV_EOF).message(), "end of file");
    EXPECT_EQ(uv_error(UV_ETIMEDOUT), std::errc::timed_out);
}

TEST(ErrorTest, FerryCodesHaveMessagesAndConditions) {
    const std::error_code removed = errc::device_removed;
    EXPECT_EQ(removed.message(), "device removed");
    EXPECT_STREQ(removed.category().name(), "ferry");
    EXPECT_EQ(std::error_code(errc::connect_timeout), std::errc::timed_out);
    EXPECT_EQ(std::error_code(errc::cancelled), std::errc::operation_canceled);
}

TEST(ErrorTest, ThrowErrorPicksTheMatchingException) {
    EXPECT_THROW(throw_error(errc::connect_timeout, "x"), TimeoutError);
    EXPECT_THROW(throw_error(errc::cancelled, "x"), CancelledError);
    try {
        throw_error(uv_error(UV_ECONNRESET), "reading from 127.0.0.1:9");
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), std::errc::connection_reset);
        EXPECT_NE(std::string(e.what()).find("reading from 127.0.0.1:9"), std::string::npos);
    }
}

TEST(ResultTest, HoldsAValueOrAnError) {
    Result<int> good(5);
    EXPECT_TRUE(good.ok());
    EXPECT_EQ(good.value(), 5);
    EXPECT_FALSE(good.code());
    EXPECT_EQ(good.message(), "");

    auto bad = Result<int>::failure(uv_error(UV_ENOENT), "open /dev/ttyUSB9");
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(bad.code(), std::errc::no_such_file_or_directory);
    EXPECT_NE(bad.message().find("open /dev/ttyUSB9"), std::string::npos);
    EXPECT_THROW(bad.value(), Error);

    Result<int> foreign(std::make_exception_ptr(std::runtime_error("odd")));
    EXPECT_FALSE(foreign.code());
    EXPECT_EQ(foreign.message(), "odd");
}

TEST(BytesTest, ConvertsToAndFromAPlainByteVector) {
    const Bytes bytes = ByteView("abc").to_bytes();
    std::vector<std::byte> plain = bytes; // what `= co_await reader.readline()` needs
    EXPECT_EQ(plain.size(), 3u);
    EXPECT_EQ(plain[0], std::byte{'a'});
    const std::vector<std::byte> from_function = [] { return ByteView("xy").to_bytes(); }();
    EXPECT_EQ(from_function.size(), 2u);
    EXPECT_EQ(Bytes(plain), bytes);
    EXPECT_EQ(ByteView(plain).to_string(), "abc");
    Bytes zeros(4, std::byte{0});
    EXPECT_EQ(zeros, (Bytes{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}}));
}

TEST(ByteViewTest, ViewsStringsBytesAndVectors) {
    const std::string text = "hello";
    ByteView from_string(text);
    EXPECT_EQ(from_string.size(), 5u);
    EXPECT_EQ(from_string.as_string_view(), "hello");
    const Bytes bytes = from_string.to_bytes();
    EXPECT_EQ(ByteView(bytes), from_string);
    const std::vector<std::uint8_t> raw{'h', 'e', 'l', 'l', 'o'};
    EXPECT_EQ(ByteView(raw), ByteView("hello"));
    EXPECT_EQ(from_string.subview(1, 3).as_string_view(), "ell");
    EXPECT_EQ(from_string.subview(4).as_string_view(), "o");
    EXPECT_TRUE(from_string.subview(9).empty());
    EXPECT_FALSE(ByteView("abc") == ByteView("abd"));
    EXPECT_EQ(ByteView(), ByteView(""));
}

TEST(ByteViewTest, HexDumpShowsOffsetsHexAndText) {
    const std::string dump = hex_dump(ByteView("AB\x01", 3));
    EXPECT_EQ(dump, "00000000  41 42 01 " + std::string(13 * 3, ' ') + " AB.\n");
    const std::string long_dump = hex_dump(std::string(40, 'x'), 16);
    EXPECT_NE(long_dump.find("(24 more bytes)"), std::string::npos);
}

TEST(SocketAddressTest, ParsesAndFormatsNumericAddresses) {
    auto v4 = SocketAddress::from_numeric("127.0.0.1", 8080);
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->family(), SocketAddress::Family::ipv4);
    EXPECT_EQ(v4->to_string(), "127.0.0.1:8080");
    auto v6 = SocketAddress::from_numeric("::1", 80);
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->family(), SocketAddress::Family::ipv6);
    EXPECT_EQ(v6->to_string(), "[::1]:80");
    EXPECT_EQ(v6->port(), 80);
    EXPECT_FALSE(SocketAddress::from_numeric("localhost", 80));
    auto path = SocketAddress::from_unix_path("/tmp/x.sock");
    EXPECT_EQ(path.family(), SocketAddress::Family::unix_path);
    EXPECT_EQ(path.to_string(), "/tmp/x.sock");
    EXPECT_EQ(SocketAddress().to_string(), "<none>");
    EXPECT_EQ(v4->ip_bytes(), (std::vector<std::uint8_t>{127, 0, 0, 1}));
    std::vector<std::uint8_t> loopback6(16, 0);
    loopback6[15] = 1;
    EXPECT_EQ(v6->ip_bytes(), loopback6);
    EXPECT_TRUE(path.ip_bytes().empty());
}

} // namespace
} // namespace ferry
