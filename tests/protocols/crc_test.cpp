// CRCs: every shipped algorithm against its CRC catalogue check value, and the table-driven
// (eight bytes per step) implementation against a bit-at-a-time reference on random data.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <ferry/crc.hpp>
#include <ferry/error.hpp>

namespace ferry {
namespace {

/// The Rocksoft model computed one bit at a time: slow, obviously right.
std::uint32_t reference_crc(const CrcParameters& p, const std::string& data) {
    const std::uint64_t top = std::uint64_t{1} << (p.width - 1);
    const std::uint64_t mask = (top << 1) - 1;
    std::uint64_t reg = p.init & mask;
    for (unsigned char byte : data) {
        unsigned char b = byte;
        if (p.reflect_in) {
            unsigned char r = 0;
            for (int i = 0; i < 8; ++i) {
                r = static_cast<unsigned char>(r | (((b >> i) & 1) << (7 - i)));
            }
            b = r;
        }
        reg ^= static_cast<std::uint64_t>(b) << (p.width - 8);
        for (int i = 0; i < 8; ++i) {
            reg = (reg & top) ? ((reg << 1) ^ p.poly) & mask : (reg << 1) & mask;
        }
    }
    if (p.reflect_out) {
        std::uint64_t r = 0;
        for (unsigned i = 0; i < p.width; ++i) {
            r |= ((reg >> i) & 1) << (p.width - 1 - i);
        }
        reg = r;
    }
    return static_cast<std::uint32_t>((reg ^ p.xor_out) & mask);
}

const std::vector<const Crc*>& all_algorithms() {
    static const std::vector<const Crc*> all = {
        &crc::crc8_smbus(),     &crc::crc8_maxim(),    &crc::crc8_autosar(),
        &crc::crc8_sae_j1850(), &crc::crc8_cdma2000(), &crc::crc8_bluetooth(),
        &crc::crc8_i432_1(),    &crc::crc16_modbus(),  &crc::crc16_ccitt_false(),
        &crc::crc16_xmodem(),   &crc::crc16_kermit(),  &crc::crc32(),
        &crc::crc32c()};
    return all;
}

TEST(CrcTest, EveryAlgorithmGivesItsCatalogueCheckValue) {
    for (const Crc* crc : all_algorithms()) {
        EXPECT_EQ(crc->compute(ByteView("123456789")), crc->parameters().check)
            << crc->parameters().name;
    }
    // The values the catalogue lists, spelled out for the ones users ask about by name.
    EXPECT_EQ(crc::crc16_modbus().compute(ByteView("123456789")), 0x4B37u);
    EXPECT_EQ(crc::crc16_ccitt_false().compute(ByteView("123456789")), 0x29B1u);
    EXPECT_EQ(crc::crc16_xmodem().compute(ByteView("123456789")), 0x31C3u);
    EXPECT_EQ(crc::crc16_kermit().compute(ByteView("123456789")), 0x2189u);
    EXPECT_EQ(crc::crc32().compute(ByteView("123456789")), 0xCBF43926u);
    EXPECT_EQ(crc::crc32c().compute(ByteView("123456789")), 0xE3069283u);
    EXPECT_EQ(crc::crc8_smbus().compute(ByteView("123456789")), 0xF4u);
}

TEST(CrcTest, TablesAgreeWithABitAtATimeReferenceOnRandomData) {
    std::mt19937 random(1);
    for (const Crc* crc : all_algorithms()) {
        for (std::size_t length = 0; length < 70; ++length) {
            std::string data(length, '\0');
            for (char& c : data) {
                c = static_cast<char>(random());
            }
            ASSERT_EQ(crc->compute(ByteView(data)), reference_crc(crc->parameters(), data))
                << crc->parameters().name << " length " << length;
        }
    }
}

TEST(CrcTest, PiecesChainToTheWholeAtEverySplit) {
    const std::string data = "The quick brown fox jumps over the lazy dog, 0123456789";
    for (const Crc* crc : all_algorithms()) {
        const std::uint32_t whole = crc->compute(ByteView(data));
        for (std::size_t split = 0; split <= data.size(); ++split) {
            std::uint32_t state = crc->start();
            state = crc->update(state, ByteView(data.data(), split));
            state = crc->update(state, ByteView(data.data() + split, data.size() - split));
            ASSERT_EQ(crc->finish(state), whole) << crc->parameters().name << " split " << split;
        }
    }
}

TEST(CrcTest, AModbusRequestCarriesItsKnownCrc) {
    // Read holding registers 0..9 of unit 1: the frame every Modbus guide shows, CRC C5 CD
    // (sent low byte first).
    const std::string request("\x01\x03\x00\x00\x00\x0A", 6);
    EXPECT_EQ(crc::crc16_modbus().compute(ByteView(request)), 0xCDC5u);
}

TEST(CrcTest, UnsupportedWidthsAreRefused) {
    EXPECT_THROW(Crc(CrcParameters{"CRC-5/USB", 5, 0x05, 0x1F, true, true, 0x1F, 0x19}), Error);
    EXPECT_THROW(Crc(CrcParameters{"CRC-40/GSM", 40, 0x02, 0, false, false, 0, 0}), Error);
}

} // namespace
} // namespace ferry
