// SPDX-License-Identifier: Apache-2.0
// How a KV cache stores its K and V rows: a policy in the decoder's type (model/decoder.hpp).
//   kv_float32  4 bytes per element: the rows as computed (the default; bit-identical to before)
//   kv_float16  2 bytes: IEEE binary16, rounded to nearest even; x = half(x) within 2^-11 |x|
//   kv_int8     1 byte + one 16-bit scale per cached row and KV head: x_d ~ s q_d, where
//               q_d = round(x_d / s0) in [-127, 127], s0 = max_d |x_d| / 127 rounded up to a stored
//               scale, and s = sum_d x_d q_d / sum_d q_d^2 (the least-squares scale for those codes)
//               rounded to nearest; a stored scale is a float cut to its exponent and 8 mantissa bits
// One scale per (row, KV head) follows the unit the kernels stream (one head's key or value row):
// the scale is read once per row and a whole row is a single dot product, so it multiplies one
// score (keys) or one weight (values), not every element. Rows are quantized once, when written.
// Sizes are constexpr: kv_rows_storage<Storage, Rows, HeadDim> is the cache's exact layout, and the
// compile-time footprint (model/footprint.hpp) is its sizeof.
#pragma once

#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "storage.hpp"

namespace ctattn {

/// KV storage policy: float32 elements, as computed (the default).
struct kv_float32 {
    static constexpr const char* name = "float32";  ///< the policy's name as text
    using element = float;                          ///< one stored element
    using scale = float;                            ///< unused (no per-row scale)
    static constexpr bool scaled = false;           ///< no per-row scale
};

/// KV storage policy: IEEE binary16 elements, converted with round-to-nearest-even.
struct kv_float16 {
    static constexpr const char* name = "float16";  ///< the policy's name as text
    using element = std::uint16_t;                  ///< the half's bit pattern
    using scale = float;                            ///< unused (no per-row scale)
    static constexpr bool scaled = false;           ///< no per-row scale
};

/// KV storage policy: int8 elements with one 16-bit scale per cached row and KV head.
struct kv_int8 {
    static constexpr const char* name = "int8";  ///< the policy's name as text
    using element = std::int8_t;                 ///< one quantized element in [-127, 127]
    using scale = std::uint16_t;                 ///< one row's scale: a float's bits 30..15
    static constexpr bool scaled = true;         ///< one scale per (row, KV head)
};

/// A KV storage policy: kv_float32, kv_float16 or kv_int8.
template <class S>
concept kv_storage = std::same_as<S, kv_float32> || std::same_as<S, kv_float16> || std::same_as<S, kv_int8>;

/// Bytes one cached row of one KV head takes (head_dim elements and, for kv_int8, its scale).
template <kv_storage S, std::size_t HeadDim>
inline constexpr std::size_t kv_row_bytes = HeadDim * sizeof(typename S::element) + (S::scaled ? sizeof(typename S::scale) : 0);

// ---- IEEE binary16 <-> binary32, in software (exact; the kernels use the FPU's VCVTB where it has one)

/// The float16 nearest to x (ties to even), as its bit pattern: overflow gives +-inf, NaN stays a
/// (quiet) NaN, values below the smallest subnormal round to +-0.
constexpr std::uint16_t half_from_float(float x) noexcept {
    const std::uint32_t f = std::bit_cast<std::uint32_t>(x);
    const std::uint32_t sign = (f >> 16) & 0x8000u;
    const std::uint32_t abs = f & 0x7fffffffu;
    if (abs >= 0x7f800000u)  // inf or NaN: NaN keeps a quiet bit and its top payload bits
        return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x0200u | ((abs >> 13) & 0x03ffu) : 0u));
    if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504: inf
    if (abs >= 0x38800000u) {  // normal half: drop 13 mantissa bits, ties to even
        const std::uint32_t rebased = abs - 0x38000000u;  // exponent bias 127 -> 15
        const std::uint32_t round = 0x0fffu + ((rebased >> 13) & 1u);
        return static_cast<std::uint16_t>(sign | ((rebased + round) >> 13));
    }
    if (abs < 0x33000000u) return static_cast<std::uint16_t>(sign);  // below half the smallest subnormal: 0
    // Subnormal half: the value in units of 2^-24, with the implicit bit, ties to even.
    const std::uint32_t exponent = abs >> 23;                       // 102 .. 112
    const std::uint32_t mantissa = (abs & 0x007fffffu) | 0x00800000u;
    const std::uint32_t shift = 126u - exponent;                    // 14 .. 24
    const std::uint32_t units = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1u), half_unit = 1u << (shift - 1u);
    const std::uint32_t rounded = units + ((rest > half_unit || (rest == half_unit && (units & 1u))) ? 1u : 0u);
    return static_cast<std::uint16_t>(sign | rounded);
}

/// The float a float16 bit pattern stands for (exact: every half is a float).
constexpr float float_from_half(std::uint16_t h) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x03ffu;
    if (exponent == 0x1fu) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
    if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal: mantissa x 2^-24, normalised for the float.
    std::uint32_t m = mantissa, e = 113u;
    while ((m & 0x0400u) == 0) m <<= 1, --e;
    return std::bit_cast<float>(sign | (e << 23) | ((m & 0x03ffu) << 13));
}

// ---- kv_int8's row scale in 16 bits: a float without its sign bit and its 15 lowest mantissa
// bits (scales are >= 0): float's 8-bit exponent, so float's whole range (the numeric contract's
// rows of 1e20 stay finite), and 8 mantissa bits, a relative step of 2^-8. Decoding is one shift.

/// The 16-bit pattern of the stored scale nearest to s (s >= 0; ties to even; NaN stays NaN).
constexpr std::uint16_t kv_scale_bits_nearest(float s) noexcept {
    const std::uint32_t f = std::bit_cast<std::uint32_t>(s);
    if (s != s) return static_cast<std::uint16_t>((f >> 15) | 0x0080u);  // a quiet NaN
    return static_cast<std::uint16_t>((f + 0x3fffu + ((f >> 15) & 1u)) >> 15);
}

/// The 16-bit pattern of the smallest stored scale >= s (s >= 0 and finite): a scale rounded up, so
/// that max|x| / scale <= 127 and no code clips.
constexpr std::uint16_t kv_scale_bits_at_least(float s) noexcept {
    const std::uint32_t f = std::bit_cast<std::uint32_t>(s);
    return static_cast<std::uint16_t>((f >> 15) + ((f & 0x7fffu) != 0 ? 1u : 0u));
}

/// The scale a kv_int8 row's stored bits stand for.
constexpr float kv_scale_value(std::uint16_t bits) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 15);
}

/// Rows x HeadDim cached elements of one storage type (one layer's K or V, head by head), and for
/// kv_int8 one scale per row. Zero-initialised in static storage like every ctattn buffer.
template <kv_storage S, std::size_t Rows, std::size_t HeadDim>
struct kv_rows_storage {
    alignas(storage_alignment) typename S::element values[Rows * HeadDim];  ///< (rows, head_dim)
    /// (rows): one scale per row; a single unused float for unscaled types.
    typename S::scale scales[S::scaled ? Rows : 1];
};

/// Where a cache's rows are, for the kernels: the elements (row r of KV head g at g *
/// head_stride + r * head_dim) and, for kv_int8, the scales (row r of head g at g * rows_per_head + r).
template <kv_storage S>
struct kv_rows {
    using storage = S;                  ///< the storage policy
    typename S::element* values;        ///< the elements
    typename S::scale* scales;          ///< one per row and KV head (kv_int8), else unused
    /// The same rows from `elements` elements and `rows` scales further on (a KV head's start).
    constexpr kv_rows advanced(std::size_t elements, std::size_t rows) const noexcept {
        return {values + elements, S::scaled ? scales + rows : scales};
    }
};

}  // namespace ctattn
