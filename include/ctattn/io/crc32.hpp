// SPDX-License-Identifier: Apache-2.0
// CRC-32 (ISO-HDLC: zlib's and Python's zlib.crc32), table-driven with 1 KiB of constants:
//   crc = ~crc; for each byte b: crc = table[(crc ^ b) & 0xff] ^ (crc >> 8); crc = ~crc
// where table[i] is i run through 8 steps of the reflected polynomial 0xEDB88320. The blob
// format's header and payload checksums (io/blob.hpp, tools/ctattn_blob.py).
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <array>
#include <cstddef>
#include <cstdint>

namespace ctattn::io {

namespace detail {
constexpr std::array<std::uint32_t, 256> make_crc_table() noexcept {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    return table;
}
inline constexpr std::array<std::uint32_t, 256> crc_table = make_crc_table();
}  // namespace detail

/// One byte into a running CRC register (the complemented state between ~crc and the final ~):
/// for loops that do more per byte than the CRC (blob::validate's fused payload pass).
constexpr std::uint32_t crc32_step(std::uint32_t state, unsigned char byte) noexcept {
    return detail::crc_table[(state ^ byte) & 0xffu] ^ (state >> 8);
}

/// Running CRC: crc32_update(crc32_update(0, a), b) == crc32(a + b).
constexpr std::uint32_t crc32_update(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept {
    crc = ~crc;
    for (std::size_t i = 0; i < n; ++i) crc = crc32_step(crc, p[i]);
    return ~crc;
}
/// The CRC-32 of p[0, n).
constexpr std::uint32_t crc32(const unsigned char* p, std::size_t n) noexcept { return crc32_update(0, p, n); }

}  // namespace ctattn::io
