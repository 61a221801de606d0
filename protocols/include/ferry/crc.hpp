#pragma once
/// CRCs for device protocols: the Rocksoft model, table-driven (eight tables, eight bytes per
/// step), with the common algorithms of the CRC catalogue ready to use.

#include <array>
#include <cstdint>
#include <string>

#include <ferry/bytes.hpp>

namespace ferry {

/// An algorithm in the Rocksoft model, as the CRC catalogue lists them (widths 8 to 32).
struct CrcParameters {
    /// The catalogue's name, e.g. "CRC-16/MODBUS".
    const char* name;
    /// Bits in the CRC: 8 to 32.
    unsigned width;
    /// The generator polynomial, normal (MSB-first) form, without the top bit.
    std::uint32_t poly;
    /// The register's value before the first byte.
    std::uint32_t init;
    /// Bytes enter least significant bit first.
    bool reflect_in;
    /// The register is reflected before the final XOR.
    bool reflect_out;
    /// XORed into the result.
    std::uint32_t xor_out;
    /// The CRC of the ASCII string "123456789" (the catalogue's check value).
    std::uint32_t check;
};

/// One CRC algorithm with its tables. Immutable once built; safe to share between threads.
class Crc {
public:
    /// Builds the tables for `parameters`. Throws ferry::Error for a width outside 8..32.
    explicit Crc(const CrcParameters& parameters);

    /// The CRC of `data`.
    std::uint32_t compute(ByteView data) const noexcept { return finish(update(start(), data)); }
    /// The register before any data (for CRCs computed over several pieces).
    std::uint32_t start() const noexcept { return start_; }
    /// The register after `data` (chain: update(update(start(), a), b)).
    std::uint32_t update(std::uint32_t state, ByteView data) const noexcept;
    /// The CRC from a register.
    std::uint32_t finish(std::uint32_t state) const noexcept;

    /// The algorithm.
    const CrcParameters& parameters() const noexcept { return parameters_; }
    /// Bytes the CRC takes in a frame: width / 8, rounded up.
    std::size_t size() const noexcept { return (parameters_.width + 7) / 8; }

private:
    CrcParameters parameters_;
    std::uint32_t start_;
    /// tables_[k][b]: the register change for byte b followed by k zero bytes.
    std::array<std::array<std::uint32_t, 256>, 8> tables_;
};

/// The algorithms ferry ships, each checked against its catalogue check value in the tests.
namespace crc {
/// CRC-8/SMBUS (poly 0x07), the plain "CRC-8".
const Crc& crc8_smbus();
/// CRC-8/MAXIM-DOW (1-Wire, poly 0x31 reflected).
const Crc& crc8_maxim();
/// CRC-8/AUTOSAR (poly 0x2F).
const Crc& crc8_autosar();
/// CRC-8/SAE-J1850 (poly 0x1D).
const Crc& crc8_sae_j1850();
/// CRC-8/CDMA2000 (poly 0x9B).
const Crc& crc8_cdma2000();
/// CRC-8/BLUETOOTH (poly 0xA7 reflected).
const Crc& crc8_bluetooth();
/// CRC-8/I-432-1 (ITU-T I.432.1 ATM HEC: poly 0x07, xorout 0x55).
const Crc& crc8_i432_1();
/// CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF); sent low byte first.
const Crc& crc16_modbus();
/// CRC-16/IBM-3740, known as CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF).
const Crc& crc16_ccitt_false();
/// CRC-16/XMODEM (poly 0x1021, init 0).
const Crc& crc16_xmodem();
/// CRC-16/KERMIT (poly 0x1021 reflected, init 0).
const Crc& crc16_kermit();
/// CRC-32/ISO-HDLC: zlib's, Ethernet's, PNG's "CRC-32".
const Crc& crc32();
/// CRC-32/ISCSI, known as CRC-32C (Castagnoli).
const Crc& crc32c();
} // namespace crc

} // namespace ferry
