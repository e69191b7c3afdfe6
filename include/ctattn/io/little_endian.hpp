// SPDX-License-Identifier: Apache-2.0
// Little-endian fields of untrusted files (llama2.c checkpoints, tokenizer.bin, blobs), read from
// any alignment: v = b[0] | b[1] << 8 | b[2] << 16 | ..., the same value on a big-endian target.
// read_*_le read one field at a pointer; le_reader is a cursor over [data, data + size) that
// reads fields in file order, so a format is parsed by naming its fields, never by offsets.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace ctattn::io {

/// u with its four bytes in reverse order.
constexpr std::uint32_t byte_swap(std::uint32_t u) noexcept {
    return (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
}

/// The little-endian uint32 at p (any alignment).
constexpr std::uint32_t read_u32_le(const unsigned char* p) noexcept {
    if (!std::is_constant_evaluated()) {
        // One (unaligned) load: what the shifts below compile to on a little-endian core, spelled
        // out so loops over many fields (the finiteness scans) vectorise at every -O level.
        std::uint32_t u;
        std::memcpy(&u, p, sizeof u);
        if constexpr (std::endian::native == std::endian::big) u = byte_swap(u);
        return u;
    }
    return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
/// The little-endian uint64 at p (any alignment).
constexpr std::uint64_t read_u64_le(const unsigned char* p) noexcept {
    return std::uint64_t(read_u32_le(p)) | (std::uint64_t(read_u32_le(p + 4)) << 32);
}
/// The little-endian int32 at p (any alignment).
constexpr std::int32_t read_i32_le(const unsigned char* p) noexcept { return std::bit_cast<std::int32_t>(read_u32_le(p)); }
/// The little-endian IEEE-754 float at p (any alignment).
constexpr float read_f32_le(const unsigned char* p) noexcept { return std::bit_cast<float>(read_u32_le(p)); }

/// Fields in file order. has(n) says whether n more bytes remain; the readers do not check (the
/// caller asked has() first, or validated the whole file's size), so they cost one load each.
struct le_reader {
    const unsigned char* data;  ///< first byte of the file (or buffer), not owned
    std::size_t size;           ///< bytes at data
    std::size_t position = 0;   ///< offset of the next field from data

    /// Whether n more bytes remain after position.
    [[nodiscard]] constexpr bool has(std::size_t n) const noexcept { return size - position >= n; }
    /// The byte at position.
    [[nodiscard]] constexpr const unsigned char* here() const noexcept { return data + position; }
    /// Steps over n bytes.
    constexpr void skip(std::size_t n) noexcept { position += n; }
    /// The next field as a uint32 (4 bytes).
    constexpr std::uint32_t u32() noexcept {
        const std::uint32_t v = read_u32_le(here());
        position += 4;
        return v;
    }
    /// The next field as a uint64 (8 bytes).
    constexpr std::uint64_t u64() noexcept {
        const std::uint64_t v = read_u64_le(here());
        position += 8;
        return v;
    }
    /// The next field as an int32 (4 bytes).
    constexpr std::int32_t i32() noexcept { return std::bit_cast<std::int32_t>(u32()); }
    /// The next field as a float (4 bytes).
    constexpr float f32() noexcept { return std::bit_cast<float>(u32()); }
    /// n raw bytes (a magic number) into out[0, n).
    constexpr void bytes(unsigned char* out, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i) out[i] = data[position + i];
        position += n;
    }
};

}  // namespace ctattn::io
