// LineCodec, tested as Twisted tests LineReceiver: every chunk size from 1 byte to the whole
// input, oversized lines, raw mode and back.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/error.hpp>
#include <ferry/framing/line_codec.hpp>

#include "../support/frame_collector.hpp"

namespace ferry {
namespace {

using test::CollectingSink;
using test::decode_in_chunks;
using Lines = std::vector<std::string>;

TEST(LineCodecTest, SplitsLinesWhateverTheChunking) {
    const std::string input = "hello\r\nworld\r\n\r\nsplit delimiter\r\nlast";
    const LineCodec codec;
    for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
        LineCodec fed = codec;
        CollectingSink sink;
        test::feed_in_chunks(fed, input, chunk, sink);
        ASSERT_EQ(sink.frames, (Lines{"hello", "world", "", "split delimiter"})) << chunk;
        EXPECT_TRUE(sink.errors.empty());
        EXPECT_EQ(fed.buffered(), 4u) << "'last' waits for its delimiter";
    }
}

TEST(LineCodecTest, KeepsTheDelimiterWhenAsked) {
    LineOptions options;
    options.keep_delimiter = true;
    const std::string input = "a\r\nbc\r\n";
    for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
        EXPECT_EQ(decode_in_chunks(LineCodec(options), input, chunk).frames,
                  (Lines{"a\r\n", "bc\r\n"}));
    }
}

TEST(LineCodecTest, SeveralDelimitersTheEarliestAndLongestWins) {
    LineOptions options;
    options.delimiters = {"\n", "\r\n", ";"};
    const std::string input = "a\nb\r\nc;d\n\r\n";
    for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
        EXPECT_EQ(decode_in_chunks(LineCodec(options), input, chunk).frames,
                  (Lines{"a", "b", "c", "d", ""}))
            << chunk;
    }
    Bytes out;
    LineCodec(options).encode(ByteView("x"), out);
    EXPECT_EQ(ByteView(out).to_string(), "x\n"); // the first delimiter frames
}

TEST(LineCodecTest, ARareDelimiterIsFoundWhereverItFalls) {
    // ";" appears in few lines: its remembered position must stay right as lines go by.
    LineOptions options;
    options.delimiters = {"\r\n", ";"};
    const std::string input = "a;b\r\nccc\r\ndddd\r\ne;\r\n;;f\r\n";
    for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
        EXPECT_EQ(decode_in_chunks(LineCodec(options), input, chunk).frames,
                  (Lines{"a", "b", "ccc", "dddd", "e", "", "", "", "f"}))
            << chunk;
    }
}

TEST(LineCodecTest, AnOversizedLineIsReportedOnceAndSkippedToItsDelimiter) {
    LineOptions options;
    options.max_length = 5;
    const std::string input = "12345\r\n123456789\r\nok\r\n";
    for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
        const CollectingSink sink = decode_in_chunks(LineCodec(options), input, chunk);
        ASSERT_EQ(sink.frames, (Lines{"12345", "ok"})) << chunk;
        ASSERT_EQ(sink.errors.size(), 1u) << chunk;
        EXPECT_EQ(sink.errors[0].code(), make_error_code(errc::frame_too_large));
        EXPECT_NE(std::string(sink.errors[0].what()).find("line: frame of"), std::string::npos);
        EXPECT_NE(std::string(sink.errors[0].what()).find("exceeds the maximum of 5"),
                  std::string::npos)
            << std::string(sink.errors[0].what());
    }
}

TEST(LineCodecTest, MemoryStaysBoundedWhileAHugeLineIsSkipped) {
    LineOptions options;
    options.max_length = 1024;
    LineCodec codec(options);
    CollectingSink sink;
    const std::string junk(4096, 'x');
    for (int i = 0; i < 256; ++i) { // 1 MiB without a delimiter
        codec.decode(ByteView(junk), sink);
        ASSERT_LE(codec.buffered(), options.max_length + 4096);
    }
    EXPECT_LE(codec.buffered(), 1u); // only a possible delimiter start is kept
    codec.decode(ByteView("tail\r\nnext\r\n"), sink);
    EXPECT_EQ(sink.frames, (Lines{"next"}));
    EXPECT_EQ(sink.errors.size(), 1u);
}

/// Switches to raw mode after a "RAW n" line and back to lines after n raw bytes, handing
/// back what follows (Twisted's setRawMode / setLineMode(extra)).
struct ModeSwitchingSink : CollectingSink {
    LineCodec* codec = nullptr;
    std::size_t raw_left = 0;
    void frame_decoded(ByteView frame) override {
        CollectingSink::frame_decoded(frame);
        const std::string line = frame.to_string();
        if (line.rfind("RAW ", 0) == 0) {
            raw_left = std::stoul(line.substr(4));
            codec->set_raw_mode();
        }
    }
    void raw_data(ByteView data) override {
        const std::size_t take = std::min(raw_left, data.size());
        raw.append(data.subview(0, take).as_string_view());
        raw_left -= take;
        if (raw_left == 0) {
            codec->set_line_mode(data.subview(take));
        }
    }
};

TEST(LineCodecTest, RawModeTakesTheRestOfTheBufferAndLineModeTakesItBack) {
    const std::string input = "header\r\nRAW 10\r\n0123\r\n6789after\r\nRAW 3\r\nxyzend\r\n";
    for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
        LineCodec codec;
        ModeSwitchingSink sink;
        sink.codec = &codec;
        test::feed_in_chunks(codec, input, chunk, sink);
        ASSERT_EQ(sink.frames, (Lines{"header", "RAW 10", "after", "RAW 3", "end"})) << chunk;
        EXPECT_EQ(sink.raw, "0123\r\n6789xyz") << chunk;
        EXPECT_FALSE(codec.raw_mode());
    }
}

TEST(LineCodecTest, RawDataWithoutASinkForItIsAClearError) {
    struct PlainSink : FrameSink {
        LineCodec* codec;
        void frame_decoded(ByteView) override { codec->set_raw_mode(); }
        void frame_error(const FrameError&) override {}
    } sink;
    LineCodec codec;
    sink.codec = &codec;
    EXPECT_THROW(codec.decode(ByteView("a\r\nrest"), sink), Error);
}

TEST(LineCodecTest, ResetDropsAPartialLine) {
    LineCodec codec;
    CollectingSink sink;
    codec.decode(ByteView("partial"), sink);
    EXPECT_EQ(codec.buffered(), 7u);
    codec.reset();
    EXPECT_EQ(codec.buffered(), 0u);
    codec.decode(ByteView("whole\r\n"), sink);
    EXPECT_EQ(sink.frames, (Lines{"whole"}));
}

TEST(LineCodecTest, BadOptionsAreRefused) {
    LineOptions none;
    none.delimiters.clear();
    EXPECT_THROW(LineCodec{none}, Error);
    LineOptions empty;
    empty.delimiters = {""};
    EXPECT_THROW(LineCodec{empty}, Error);
}

TEST(LineCodecTest, EncodeRefusesWhatDecodeWouldNotDeliverAsOneLine) {
    LineOptions options;
    options.max_length = 5;
    const LineCodec codec(options);
    Bytes out;
    codec.encode(ByteView("12345"), out);
    EXPECT_EQ(ByteView(out).to_string(), "12345\r\n");
    try {
        codec.encode(ByteView("123456"), out);
        ADD_FAILURE() << "an over-long line was encoded";
    } catch (const FrameError& e) {
        EXPECT_EQ(e.code(), make_error_code(errc::frame_too_large));
        EXPECT_NE(std::string(e.what()).find("line: cannot encode a frame of 6 bytes"),
                  std::string::npos)
            << e.what();
    }
    try {
        codec.encode(ByteView("a\r\nb"), out);
        ADD_FAILURE() << "a line holding the delimiter was encoded";
    } catch (const FrameError& e) {
        EXPECT_EQ(e.code(), make_error_code(errc::bad_frame));
    }
}

} // namespace
} // namespace ferry
