// Length-field, netstring, fixed-length, COBS, SLIP, CRC-wrapped and idle-gap codecs: published
// vectors, round trips in every chunk size, and recovery from oversized, malformed and
// corrupted input.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/error.hpp>
#include <ferry/framing.hpp>

#include "../support/frame_collector.hpp"

namespace ferry {
namespace {

using test::bytes_of;
using test::CollectingSink;
using test::decode_in_chunks;
using test::encoded;
using Frames = std::vector<std::string>;

/// Decodes `input` in every chunk size and expects the same frames and error codes each time.
template <class Codec>
void expect_in_every_chunking(const Codec& codec, const std::string& input, const Frames& frames,
                              const std::vector<errc>& errors = {}) {
    for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
        const CollectingSink sink = decode_in_chunks(codec, input, chunk);
        ASSERT_EQ(sink.frames, frames) << "chunk " << chunk;
        ASSERT_EQ(sink.errors.size(), errors.size()) << "chunk " << chunk;
        for (std::size_t i = 0; i < errors.size(); ++i) {
            EXPECT_EQ(sink.errors[i].code(), make_error_code(errors[i]))
                << "chunk " << chunk << ": " << sink.errors[i].what();
        }
    }
}

std::string random_bytes(std::mt19937& random, std::size_t n) {
    std::string s(n, '\0');
    for (char& c : s) {
        // Plenty of zeros and SLIP specials, which are what the codecs must get right.
        const unsigned r = random() % 8;
        c = r == 0 ? '\0' : r == 1 ? '\xC0' : r == 2 ? '\xDB' : static_cast<char>(random());
    }
    return s;
}

/// Encodes `payloads` one after another, then checks they decode back in every chunking.
template <class Codec>
void expect_round_trip(const Codec& codec, const Frames& payloads) {
    std::string stream;
    for (const std::string& p : payloads) {
        stream += encoded(codec, p);
    }
    expect_in_every_chunking(codec, stream, payloads);
}

// ---- length field (Netty's LengthFieldBasedFrameDecoder Javadoc examples) ----

const std::string hello = "HELLO, WORLD"; // 12 bytes, as in Netty's examples

TEST(LengthFieldCodecTest, NettyExamples) {
    LengthFieldOptions o;
    // 2 bytes length field at offset 0, do not strip header.
    const std::string whole = bytes_of({0x00, 0x0C}) + hello;
    expect_in_every_chunking(LengthFieldCodec(o), whole, {whole});
    // ... strip header.
    o.initial_bytes_to_strip = 2;
    expect_in_every_chunking(LengthFieldCodec(o), whole, {hello});
    // ... the length covers the whole frame.
    o = {};
    o.length_adjustment = -2;
    const std::string inclusive = bytes_of({0x00, 0x0E}) + hello;
    expect_in_every_chunking(LengthFieldCodec(o), inclusive, {inclusive});
    o.length_adjustment = 0;
    o.length_includes_header = true;
    expect_in_every_chunking(LengthFieldCodec(o), inclusive, {inclusive});
    // 3 bytes length field at the end of a 5-byte header.
    o = {};
    o.length_field_offset = 2;
    o.length_field_size = 3;
    const std::string header_first = bytes_of({0xCA, 0xFE, 0x00, 0x00, 0x0C}) + hello;
    expect_in_every_chunking(LengthFieldCodec(o), header_first, {header_first});
    // 3 bytes length field at the beginning of a 5-byte header.
    o = {};
    o.length_field_size = 3;
    o.length_adjustment = 2;
    const std::string header_after = bytes_of({0x00, 0x00, 0x0C, 0xCA, 0xFE}) + hello;
    expect_in_every_chunking(LengthFieldCodec(o), header_after, {header_after});
    // 2 bytes length field at offset 1 in the middle of a 4-byte header, strip the first
    // header field and the length field.
    o = {};
    o.length_field_offset = 1;
    o.length_adjustment = 1;
    o.initial_bytes_to_strip = 3;
    const std::string middle = bytes_of({0xCA, 0x00, 0x0C, 0xFE}) + hello;
    expect_in_every_chunking(LengthFieldCodec(o), middle, {bytes_of({0xFE}) + hello});
    // ... the length field covers the whole message.
    o.length_adjustment = -3;
    const std::string middle_whole = bytes_of({0xCA, 0x00, 0x10, 0xFE}) + hello;
    expect_in_every_chunking(LengthFieldCodec(o), middle_whole, {bytes_of({0xFE}) + hello});
}

TEST(LengthFieldCodecTest, RoundTripsEveryFieldSizeAndByteOrder) {
    std::mt19937 random(2);
    Frames payloads{"", "a", random_bytes(random, 200), random_bytes(random, 3)};
    for (unsigned size : {1u, 2u, 3u, 4u, 8u}) {
        for (bool big : {true, false}) {
            LengthFieldOptions o;
            o.length_field_size = size;
            o.big_endian = big;
            o.initial_bytes_to_strip = size;
            expect_round_trip(LengthFieldCodec(o), payloads);
            o.length_includes_header = true;
            expect_round_trip(LengthFieldCodec(o), payloads);
        }
    }
    // Little endian puts the low byte first.
    LengthFieldOptions little;
    little.big_endian = false;
    EXPECT_EQ(encoded(LengthFieldCodec(little), "abc"), bytes_of({0x03, 0x00}) + "abc");
}

TEST(LengthFieldCodecTest, AnOversizedFrameIsSkippedByItsDeclaredLength) {
    LengthFieldOptions o;
    o.max_frame_length = 10;
    o.initial_bytes_to_strip = 2;
    const std::string input =
        bytes_of({0x00, 0x14}) + std::string(20, 'x') + bytes_of({0x00, 0x03}) + "abc";
    expect_in_every_chunking(LengthFieldCodec(o), input, {"abc"}, {errc::frame_too_large});
}

TEST(LengthFieldCodecTest, NonsenseLengthsAreReportedAndSkipped) {
    LengthFieldOptions o;
    o.length_includes_header = true; // a field below 2 cannot be
    o.initial_bytes_to_strip = 2;
    const std::string input = bytes_of({0x00, 0x01}) + bytes_of({0x00, 0x05}) + "abc";
    expect_in_every_chunking(LengthFieldCodec(o), input, {"abc"}, {errc::bad_frame});
    // The largest 8-byte length: reported, never an overflow or a huge allocation.
    LengthFieldOptions eight;
    eight.length_field_size = 8;
    const std::string huge = std::string(8, '\xFF') + "rest";
    const CollectingSink sink = decode_in_chunks(LengthFieldCodec(eight), huge, 3);
    ASSERT_EQ(sink.errors.size(), 1u);
    EXPECT_TRUE(sink.frames.empty());
}

TEST(LengthFieldCodecTest, EncodeRefusesWhatTheFieldCannotHold) {
    LengthFieldOptions o;
    o.length_field_size = 1;
    EXPECT_THROW(encoded(LengthFieldCodec(o), std::string(256, 'x')), Error);
    EXPECT_NO_THROW(encoded(LengthFieldCodec(o), std::string(255, 'x')));
    LengthFieldOptions offset;
    offset.length_field_offset = 4;
    EXPECT_THROW(encoded(LengthFieldCodec(offset), "abc"), Error); // no room for the header
    LengthFieldOptions bad;
    bad.length_field_size = 5;
    EXPECT_THROW(LengthFieldCodec{bad}, Error);
}

// ---- netstring ----

TEST(NetstringCodecTest, DecodesAndEncodes) {
    expect_in_every_chunking(NetstringCodec(), "5:hello,0:,12:hello world!,",
                             {"hello", "", "hello world!"});
    EXPECT_EQ(encoded(NetstringCodec(), "hello world!"), "12:hello world!,");
    std::mt19937 random(3);
    expect_round_trip(NetstringCodec(), {random_bytes(random, 100), "", ","});
}

TEST(NetstringCodecTest, MalformedInputIsReportedAndDecodingStartsAfresh) {
    // Missing comma: reported at ';', then "3:abc," decodes.
    expect_in_every_chunking(NetstringCodec(), "5:hello;3:abc,", {"abc"}, {errc::bad_frame});
    // Leading zero.
    const CollectingSink zero = decode_in_chunks(NetstringCodec(), "05:hello,3:abc,", 1);
    EXPECT_FALSE(zero.errors.empty());
    EXPECT_EQ(zero.errors[0].code(), make_error_code(errc::bad_frame));
    EXPECT_NE(std::string(zero.errors[0].what()).find("leading zero"), std::string::npos);
    EXPECT_EQ(zero.frames, Frames{"abc"});
    // Endless digits.
    const CollectingSink digits = decode_in_chunks(NetstringCodec(), std::string(40, '9'), 7);
    EXPECT_FALSE(digits.errors.empty());
    EXPECT_NE(std::string(digits.errors[0].what()).find("more than 19 digits"), std::string::npos);
}

TEST(NetstringCodecTest, AnOversizedPayloadIsSkipped) {
    expect_in_every_chunking(NetstringCodec(4), "5:hello,3:abc,", {"abc"}, {errc::frame_too_large});
}

// ---- fixed length ----

TEST(FixedLengthCodecTest, SplitsAndRefusesOtherSizes) {
    expect_in_every_chunking(FixedLengthCodec(3), "abcdefghi", {"abc", "def", "ghi"});
    EXPECT_EQ(encoded(FixedLengthCodec(3), "xyz"), "xyz");
    EXPECT_THROW(encoded(FixedLengthCodec(3), "toolong"), Error);
    EXPECT_THROW(FixedLengthCodec(0), Error);
}

// ---- COBS (the vectors of Cheshire and Baker's paper, as Wikipedia lists them) ----

std::string run(int first, int last) {
    std::string s;
    for (int b = first; b <= last; ++b) {
        s.push_back(static_cast<char>(b));
    }
    return s;
}

/// The FrameError `encode` throws for `payload`, or an empty message if it encoded.
template <class Codec>
std::string encode_error(const Codec& codec, const std::string& payload) {
    Bytes out;
    try {
        codec.encode(ByteView(payload), out);
    } catch (const FrameError& e) {
        EXPECT_EQ(e.code(), make_error_code(errc::frame_too_large)) << e.what();
        return e.what();
    }
    return {};
}

// An encoder never produces a frame its own decoder refuses; the largest one it accepts
// decodes. For a CrcCodec the CRC counts towards the inner maximum, and the message says so.
TEST(EncodeLimitTest, EveryEncoderRefusesWhatItsDecoderWouldRefuse) {
    const std::string at_limit(256, 'x');
    const std::string over(257, 'x');
    EXPECT_EQ(encode_error(CobsCodec(256), at_limit), "");
    EXPECT_NE(encode_error(CobsCodec(256), over).find("COBS: cannot encode a frame of 257 bytes"),
              std::string::npos);
    EXPECT_NE(encode_error(SlipCodec(256), over), "");
    EXPECT_NE(encode_error(NetstringCodec(256), over), "");
    LengthFieldOptions length;
    length.length_field_size = 2;
    length.max_frame_length = 258; // counts the 2-byte field too
    EXPECT_EQ(encode_error(LengthFieldCodec(length), at_limit), "");
    EXPECT_NE(encode_error(LengthFieldCodec(length), over), "");

    using CrcCobs = CrcCodec<CobsCodec>;
    const CrcCobs crc_cobs(CobsCodec(256), crc::crc16_modbus());
    EXPECT_EQ(encode_error(crc_cobs, std::string(254, 'x')), "");
    const std::string refused = encode_error(crc_cobs, std::string(255, 'x'));
    EXPECT_NE(refused.find("the payload of 255 bytes plus its 2-byte CRC"), std::string::npos)
        << refused;
    // What it accepts, it decodes.
    Bytes wire;
    crc_cobs.encode(ByteView(std::string(254, 'y')), wire);
    CrcCobs decoder = crc_cobs;
    test::CollectingSink sink;
    decoder.decode(wire, sink);
    ASSERT_EQ(sink.frames.size(), 1u);
    EXPECT_EQ(sink.frames[0], std::string(254, 'y'));
}

TEST(CobsCodecTest, PublishedVectors) {
    const std::vector<std::pair<std::string, std::string>> vectors = {
        {bytes_of({0x00}), bytes_of({0x01, 0x01, 0x00})},
        {bytes_of({0x00, 0x00}), bytes_of({0x01, 0x01, 0x01, 0x00})},
        {bytes_of({0x00, 0x11, 0x00}), bytes_of({0x01, 0x02, 0x11, 0x01, 0x00})},
        {bytes_of({0x11, 0x22, 0x00, 0x33}), bytes_of({0x03, 0x11, 0x22, 0x02, 0x33, 0x00})},
        {bytes_of({0x11, 0x22, 0x33, 0x44}), bytes_of({0x05, 0x11, 0x22, 0x33, 0x44, 0x00})},
        {bytes_of({0x11, 0x00, 0x00, 0x00}), bytes_of({0x02, 0x11, 0x01, 0x01, 0x01, 0x00})},
        {run(0x01, 0xFE), bytes_of({0xFF}) + run(0x01, 0xFE) + bytes_of({0x00})},
        {run(0x00, 0xFE), bytes_of({0x01, 0xFF}) + run(0x01, 0xFE) + bytes_of({0x00})},
        {run(0x01, 0xFF), bytes_of({0xFF}) + run(0x01, 0xFE) + bytes_of({0x02, 0xFF, 0x00})},
        {run(0x02, 0xFF) + bytes_of({0x00}),
         bytes_of({0xFF}) + run(0x02, 0xFF) + bytes_of({0x01, 0x01, 0x00})},
        {run(0x03, 0xFF) + bytes_of({0x00, 0x01}),
         bytes_of({0xFE}) + run(0x03, 0xFF) + bytes_of({0x02, 0x01, 0x00})},
    };
    for (const auto& [payload, expected] : vectors) {
        EXPECT_EQ(encoded(CobsCodec(), payload), expected) << payload.size() << " bytes";
        expect_in_every_chunking(CobsCodec(), expected, {payload});
    }
}

TEST(CobsCodecTest, RoundTripsRandomFramesAndSkipsEmptyOnes) {
    std::mt19937 random(4);
    Frames payloads;
    for (std::size_t n : {1u, 2u, 253u, 254u, 255u, 256u, 600u}) {
        payloads.push_back(random_bytes(random, n));
    }
    expect_round_trip(CobsCodec(), payloads);
    // Zeros between frames (a sender resynchronising the receiver) are empty frames: skipped.
    const std::string input = bytes_of({0x00, 0x00}) + encoded(CobsCodec(), "ab") +
                              bytes_of({0x00}) + encoded(CobsCodec(), "cd");
    expect_in_every_chunking(CobsCodec(), input, {"ab", "cd"});
}

TEST(CobsCodecTest, ATruncatedBlockIsDroppedAndTheNextFrameDecodes) {
    // Code 0x05 promises four bytes, the zero comes after two.
    const std::string input = bytes_of({0x05, 0x11, 0x22, 0x00}) + encoded(CobsCodec(), "ok");
    expect_in_every_chunking(CobsCodec(), input, {"ok"}, {errc::bad_frame});
}

TEST(CobsCodecTest, AnOversizedFrameIsSkippedToTheNextZero) {
    const std::string input =
        encoded(CobsCodec(), std::string(100, 'x')) + encoded(CobsCodec(), "fits") +
        encoded(CobsCodec(), std::string(17, 'y')) + encoded(CobsCodec(), "also");
    expect_in_every_chunking(CobsCodec(16), input, {"fits", "also"},
                             {errc::frame_too_large, errc::frame_too_large});
}

// ---- SLIP (RFC 1055) ----

TEST(SlipCodecTest, EscapesEndAndEsc) {
    const std::string payload = bytes_of({0x01, 0xC0, 0x02, 0xDB, 0x03});
    const std::string wire = bytes_of({0xC0, 0x01, 0xDB, 0xDC, 0x02, 0xDB, 0xDD, 0x03, 0xC0});
    EXPECT_EQ(encoded(SlipCodec(), payload), wire);
    EXPECT_EQ(encoded(SlipCodec(65536, false), payload), wire.substr(1));
    expect_in_every_chunking(SlipCodec(), wire, {payload});
    std::mt19937 random(5);
    expect_round_trip(SlipCodec(), {random_bytes(random, 300), random_bytes(random, 1), "x"});
}

TEST(SlipCodecTest, ABadEscapeDropsTheFrameAndDecodingResumesAfterTheNextEnd) {
    const std::string input =
        bytes_of({0xC0, 0x01, 0xDB, 0x41, 0x02, 0xC0}) + encoded(SlipCodec(), "next");
    expect_in_every_chunking(SlipCodec(), input, {"next"}, {errc::bad_frame});
    // ESC END: the END still ends the broken frame, so the next one is not lost.
    const std::string esc_end = bytes_of({0x01, 0xDB, 0xC0}) + bytes_of({0x61, 0xC0});
    expect_in_every_chunking(SlipCodec(), esc_end, {"a"}, {errc::bad_frame});
}

TEST(SlipCodecTest, AnOversizedFrameIsSkippedToTheNextEnd) {
    const std::string input =
        encoded(SlipCodec(), std::string(50, 'x')) + encoded(SlipCodec(), "ok");
    expect_in_every_chunking(SlipCodec(8), input, {"ok"}, {errc::frame_too_large});
    const std::string escapes =
        encoded(SlipCodec(), std::string(20, '\xC0')) + encoded(SlipCodec(), "ok");
    expect_in_every_chunking(SlipCodec(8), escapes, {"ok"}, {errc::frame_too_large});
}

// ---- CRC on any codec ----

TEST(CrcCodecTest, ModbusFramesCarryTheirCrcLowByteFirst) {
    const CrcCodec<FixedLengthCodec> codec(FixedLengthCodec(8), crc::crc16_modbus());
    const std::string request = bytes_of({0x01, 0x03, 0x00, 0x00, 0x00, 0x0A});
    EXPECT_EQ(encoded(codec, request), request + bytes_of({0xC5, 0xCD}));
    expect_in_every_chunking(codec, request + bytes_of({0xC5, 0xCD}), {request});
}

TEST(CrcCodecTest, CorruptFramesAreDroppedCountedAndTheStreamGoesOn) {
    CrcCodec<CobsCodec> codec(CobsCodec(), crc::crc16_xmodem());
    std::string good = encoded(codec, "first");
    std::string bad = encoded(codec, "second");
    bad[2] = static_cast<char>(bad[2] ^ 0x01); // one bit flipped in transit
    const std::string third = encoded(codec, "third");
    const std::string too_short = encoded(CobsCodec(), "x"); // no room for a 2-byte CRC
    expect_in_every_chunking(codec, good + bad + too_short + third, {"first", "third"},
                             {errc::checksum_mismatch, errc::bad_frame});
    CollectingSink sink;
    test::feed_in_chunks(codec, good + bad + third, 5, sink);
    EXPECT_EQ(codec.crc_errors(), 1u);
    EXPECT_NE(std::string(sink.errors[0].what()).find("CRC-16/XMODEM mismatch"), std::string::npos)
        << std::string(sink.errors[0].what());
    // XMODEM's CRC goes high byte first.
    EXPECT_EQ(
        encoded(CrcCodec<FixedLengthCodec>(FixedLengthCodec(11), crc::crc16_xmodem()), "123456789"),
        "123456789" + bytes_of({0x31, 0xC3}));
}

TEST(CrcCodecTest, WorksAroundLinesAndLengthFieldsToo) {
    std::mt19937 random(6);
    LengthFieldOptions o;
    o.initial_bytes_to_strip = 2;
    expect_round_trip(CrcCodec<LengthFieldCodec>(LengthFieldCodec(o), crc::crc32()),
                      {random_bytes(random, 64), "", "abc"});
    expect_round_trip(CrcCodec<SlipCodec>(SlipCodec(), crc::crc8_maxim()),
                      {random_bytes(random, 64), "abc"});
}

// ---- idle gap ----

TEST(IdleGapCodecTest, AFrameEndsAtTheGap) {
    IdleGapCodec codec(std::chrono::microseconds(1750), 8);
    CollectingSink sink;
    codec.decode(ByteView(bytes_of({0x01, 0x03})), sink);
    codec.decode(ByteView(bytes_of({0x00, 0x01})), sink);
    EXPECT_TRUE(sink.frames.empty());
    codec.end_of_frame(sink);
    codec.end_of_frame(sink); // silence with nothing collected: no frame
    EXPECT_EQ(sink.frames, Frames{bytes_of({0x01, 0x03, 0x00, 0x01})});
    codec.decode(ByteView("123456789"), sink); // over 8 bytes
    codec.decode(ByteView("more"), sink);
    codec.end_of_frame(sink);
    codec.decode(ByteView("ok"), sink);
    codec.end_of_frame(sink);
    EXPECT_EQ(sink.frames.back(), "ok");
    ASSERT_EQ(sink.errors.size(), 1u);
    EXPECT_EQ(sink.errors[0].code(), make_error_code(errc::frame_too_large));
}

TEST(IdleGapCodecTest, ModbusGapsFollowTheSpecification) {
    SerialOptions options;
    options.baud_rate = 9600;                         // 8N1: 10 bits a character
    EXPECT_EQ(modbus_rtu_gap(options).count(), 3646); // 3.5 x 10 / 9600 s
    options.baud_rate = 19200;
    EXPECT_EQ(modbus_rtu_gap(options).count(), 1823);
    options.baud_rate = 38400; // above 19200: the fixed 1.75 ms
    EXPECT_EQ(modbus_rtu_gap(options).count(), 1750);
    options.baud_rate = 9600;
    options.parity = Parity::even; // 11 bits
    EXPECT_EQ(idle_gap(options, 1.5).count(), 1719);
}

} // namespace
} // namespace ferry
