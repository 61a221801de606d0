// Table-driven CRCs in the Rocksoft model. Reflected algorithms keep the register
// right-aligned and shift right; the others keep it left-aligned in 32 bits and shift left, so
// one slicing-by-8 loop of each kind serves every width from 8 to 32.
#include <ferry/crc.hpp>

#include <cstring>

#include <ferry/error.hpp>

namespace ferry {
namespace {

std::uint32_t reflect(std::uint32_t value, unsigned width) noexcept {
    std::uint32_t out = 0;
    for (unsigned i = 0; i < width; ++i) {
        if ((value >> i) & 1u) {
            out |= 1u << (width - 1 - i);
        }
    }
    return out;
}

std::uint32_t mask(unsigned width) noexcept {
    return width == 32 ? 0xFFFFFFFFu : (1u << width) - 1;
}

std::uint32_t load_le32(const std::byte* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

std::uint32_t load_be32(const std::byte* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}

} // namespace

Crc::Crc(const CrcParameters& parameters) : parameters_(parameters), tables_() {
    const unsigned w = parameters.width;
    if (w < 8 || w > 32) {
        throw Error(make_error_code(errc::invalid_argument),
                    std::string("CRC ") + parameters.name + ": width " + std::to_string(w) +
                        " is not supported (8 to 32 bits)");
    }
    auto& t0 = tables_[0];
    if (parameters.reflect_in) {
        const std::uint32_t poly = reflect(parameters.poly & mask(w), w);
        for (std::uint32_t b = 0; b < 256; ++b) {
            std::uint32_t r = b;
            for (int bit = 0; bit < 8; ++bit) {
                r = (r & 1u) ? (r >> 1) ^ poly : r >> 1;
            }
            t0[b] = r;
        }
        for (int k = 1; k < 8; ++k) {
            for (std::uint32_t b = 0; b < 256; ++b) {
                const std::uint32_t prev = tables_[k - 1][b];
                tables_[k][b] = (prev >> 8) ^ t0[prev & 0xFF];
            }
        }
        start_ = reflect(parameters.init & mask(w), w);
    } else {
        const std::uint32_t poly = (parameters.poly & mask(w)) << (32 - w);
        for (std::uint32_t b = 0; b < 256; ++b) {
            std::uint32_t r = b << 24;
            for (int bit = 0; bit < 8; ++bit) {
                r = (r & 0x80000000u) ? (r << 1) ^ poly : r << 1;
            }
            t0[b] = r;
        }
        for (int k = 1; k < 8; ++k) {
            for (std::uint32_t b = 0; b < 256; ++b) {
                const std::uint32_t prev = tables_[k - 1][b];
                tables_[k][b] = (prev << 8) ^ t0[prev >> 24];
            }
        }
        start_ = (parameters.init & mask(w)) << (32 - w);
    }
}

std::uint32_t Crc::update(std::uint32_t state, ByteView data) const noexcept {
    const std::byte* p = data.data();
    std::size_t n = data.size();
    const auto& t = tables_;
    if (parameters_.reflect_in) {
        while (n >= 8) {
            const std::uint32_t a = state ^ load_le32(p);
            const std::uint32_t b = load_le32(p + 4);
            state = t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^
                    t[4][a >> 24] ^ t[3][b & 0xFF] ^ t[2][(b >> 8) & 0xFF] ^
                    t[1][(b >> 16) & 0xFF] ^ t[0][b >> 24];
            p += 8;
            n -= 8;
        }
        while (n-- > 0) {
            state = (state >> 8) ^ t[0][(state ^ static_cast<std::uint32_t>(*p++)) & 0xFF];
        }
    } else {
        while (n >= 8) {
            const std::uint32_t a = state ^ load_be32(p);
            const std::uint32_t b = load_be32(p + 4);
            state = t[7][a >> 24] ^ t[6][(a >> 16) & 0xFF] ^ t[5][(a >> 8) & 0xFF] ^
                    t[4][a & 0xFF] ^ t[3][b >> 24] ^ t[2][(b >> 16) & 0xFF] ^
                    t[1][(b >> 8) & 0xFF] ^ t[0][b & 0xFF];
            p += 8;
            n -= 8;
        }
        while (n-- > 0) {
            state = (state << 8) ^ t[0][(state >> 24) ^ static_cast<std::uint32_t>(*p++)];
        }
    }
    return state;
}

std::uint32_t Crc::finish(std::uint32_t state) const noexcept {
    const unsigned w = parameters_.width;
    std::uint32_t value = parameters_.reflect_in ? state : state >> (32 - w);
    // The register is already reflected when input is; reflect again only if the two differ.
    if (parameters_.reflect_in != parameters_.reflect_out) {
        value = reflect(value, w);
    }
    return (value ^ parameters_.xor_out) & mask(w);
}

namespace crc {

#define FERRY_CRC(function, ...)                                                                   \
    const Crc& function() {                                                                        \
        static const Crc algorithm(CrcParameters{__VA_ARGS__});                                    \
        return algorithm;                                                                          \
    }

// name, width, poly, init, refin, refout, xorout, check (from the CRC catalogue)
FERRY_CRC(crc8_smbus, "CRC-8/SMBUS", 8, 0x07, 0x00, false, false, 0x00, 0xF4)
FERRY_CRC(crc8_maxim, "CRC-8/MAXIM-DOW", 8, 0x31, 0x00, true, true, 0x00, 0xA1)
FERRY_CRC(crc8_autosar, "CRC-8/AUTOSAR", 8, 0x2F, 0xFF, false, false, 0xFF, 0xDF)
FERRY_CRC(crc8_sae_j1850, "CRC-8/SAE-J1850", 8, 0x1D, 0xFF, false, false, 0xFF, 0x4B)
FERRY_CRC(crc8_cdma2000, "CRC-8/CDMA2000", 8, 0x9B, 0xFF, false, false, 0x00, 0xDA)
FERRY_CRC(crc8_bluetooth, "CRC-8/BLUETOOTH", 8, 0xA7, 0x00, true, true, 0x00, 0x26)
FERRY_CRC(crc8_i432_1, "CRC-8/I-432-1", 8, 0x07, 0x00, false, false, 0x55, 0xA1)
FERRY_CRC(crc16_modbus, "CRC-16/MODBUS", 16, 0x8005, 0xFFFF, true, true, 0x0000, 0x4B37)
FERRY_CRC(crc16_ccitt_false, "CRC-16/IBM-3740", 16, 0x1021, 0xFFFF, false, false, 0x0000, 0x29B1)
FERRY_CRC(crc16_xmodem, "CRC-16/XMODEM", 16, 0x1021, 0x0000, false, false, 0x0000, 0x31C3)
FERRY_CRC(crc16_kermit, "CRC-16/KERMIT", 16, 0x1021, 0x0000, true, true, 0x0000, 0x2189)
FERRY_CRC(crc32, "CRC-32/ISO-HDLC", 32, 0x04C11DB7, 0xFFFFFFFF, true, true, 0xFFFFFFFF, 0xCBF43926)
FERRY_CRC(crc32c, "CRC-32/ISCSI", 32, 0x1EDC6F41, 0xFFFFFFFF, true, true, 0xFFFFFFFF, 0xE3069283)

#undef FERRY_CRC

} // namespace crc
} // namespace ferry
