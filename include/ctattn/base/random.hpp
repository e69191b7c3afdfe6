// SPDX-License-Identifier: Apache-2.0
// A small seeded pseudo-random generator for sampling: a 64-bit linear congruential state whose
// output is permuted by an xorshift and a data-dependent rotation (the PCG "XSH-RR" output
// function), giving 32 well-mixed bits per step from 16 bytes of state, no heap, no <random>.
// The same seed gives the same stream on every platform and SIMD setting.
#pragma once

#include "language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstdint>

namespace ctattn {

/// PCG32 (O'Neill's XSH-RR): a 64-bit LCG whose output is a permuted 32-bit word; constexpr, no
/// heap, the same sequence on every platform (sampling, initial weights, tests).
class pcg32 {
public:
    /// `stream` selects one of 2^63 independent sequences (the LCG increment must be odd).
    constexpr explicit pcg32(std::uint64_t seed, std::uint64_t stream = 0x853c49e6748fea9bULL) noexcept
        : increment_((stream << 1u) | 1u) {
        // Advancing once before and after adding the seed spreads small seeds (0, 1, 2...) across
        // the whole state, so neighbouring seeds do not start with correlated outputs.
        next_u32();
        state_ += seed;
        next_u32();
    }

    /// The next 32 random bits.
    constexpr std::uint32_t next_u32() noexcept {
        const std::uint64_t old = state_;
        state_ = old * multiplier + increment_;
        // The high bits of an LCG are the good ones: fold them down, then rotate by the top 5 bits.
        const auto folded = static_cast<std::uint32_t>(((old >> 18u) ^ old) >> 27u);
        const auto rotation = static_cast<std::uint32_t>(old >> 59u);
        return (folded >> rotation) | (folded << ((32u - rotation) & 31u));
    }

    /// Uniform in [0, 1): the top 24 bits fill a float's mantissa exactly, so every value is
    /// representable and 1.0f is never returned.
    constexpr float next_float() noexcept {
        return static_cast<float>(next_u32() >> 8u) * (1.0f / 16777216.0f);
    }

    /// Uniform in [0, 1) with 53 random bits, for callers that accumulate in double.
    constexpr double next_double() noexcept {
        const std::uint64_t hi = next_u32() >> 5u;  // 27 bits
        const std::uint64_t lo = next_u32() >> 6u;  // 26 bits
        return static_cast<double>((hi << 26u) | lo) * (1.0 / 9007199254740992.0);
    }

private:
    static constexpr std::uint64_t multiplier = 6364136223846793005ULL;  ///< Knuth's MMIX LCG multiplier
    std::uint64_t state_ = 0;
    std::uint64_t increment_;
};

}  // namespace ctattn
