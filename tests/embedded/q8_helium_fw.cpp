// SPDX-License-Identifier: Apache-2.0
// Firmware test (Cortex-M55): simd/q8.hpp's row dot on its Helium body (VMLADAVA; the scalar loop
// where MVE is off) equals, bit for bit, the scalar body and an independent reference
// (int64 sums per group, then the same float steps), for awkward group sizes (1, 7, 15, 16, 17,
// 31, 32, 33, 64, 100: whole 16-code vectors, tails, both) and 1 to 5 groups, with random codes
// and the extremes -127 and 127 everywhere (the largest group sums).
// firmware_main() returns the number of failures.
#include <cstddef>
#include <cstdint>

#include <ctattn/simd/q8.hpp>

#include "check.hpp"
#include "print.hpp"

namespace {

constexpr std::size_t max_group = 100, max_groups = 5;
std::int8_t w[max_group * max_groups], xq[max_group * max_groups];
float ws[max_groups], xs[max_groups];

struct rng32 {
    std::uint32_t state;
    std::uint32_t next() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }
};

// The formula of simd/q8.hpp, written out: int64 group sums (exact), then the float steps.
template <std::size_t G>
float reference(std::size_t groups) {
    float sum = 0.0f;
    for (std::size_t g = 0; g < groups; ++g) {
        std::int64_t acc = 0;
        for (std::size_t i = 0; i < G; ++i) acc += std::int64_t(w[g * G + i]) * std::int64_t(xq[g * G + i]);
        sum += (ws[g] * xs[g]) * static_cast<float>(acc);
    }
    return sum;
}

template <std::size_t G>
bool group_size_agrees(rng32& rng) {
    bool same = true;
    for (int pattern = 0; pattern < 3; ++pattern)
        for (std::size_t groups = 1; groups <= max_groups; ++groups) {
            for (std::size_t i = 0; i < G * groups; ++i) {
                const int r = int(rng.next() % 255u) - 127;  // [-127, 127]
                w[i] = std::int8_t(pattern == 0 ? r : (pattern == 1 ? 127 : -127));
                xq[i] = std::int8_t(pattern == 0 ? int(rng.next() % 255u) - 127 : (pattern == 1 ? -127 : -127));
            }
            for (std::size_t g = 0; g < groups; ++g) {
                ws[g] = float(rng.next() >> 8) / 16777216.0f * 0.01f;
                xs[g] = float(rng.next() >> 8) / 16777216.0f * 0.02f;
            }
            const float got = ctattn::simd::q8_row_dot<G>(w, ws, xq, xs, groups);
            const float scalar = ctattn::simd::scalar_q8::row_dot<G>(w, ws, xq, xs, groups);
            const float want = reference<G>(groups);
            same = same && got == want && scalar == want;
        }
    return same;
}

}  // namespace

int firmware_main() {
    embedded::checker check;
    embedded::print("q8 row dot on ", ctattn::simd::target::mve_int ? "Helium (VMLADAVA)" : "the scalar body", "\n");
    rng32 rng{31337u};
    const bool same = group_size_agrees<1>(rng) && group_size_agrees<7>(rng) && group_size_agrees<15>(rng) &&
                      group_size_agrees<16>(rng) && group_size_agrees<17>(rng) && group_size_agrees<31>(rng) &&
                      group_size_agrees<32>(rng) && group_size_agrees<33>(rng) && group_size_agrees<64>(rng) &&
                      group_size_agrees<100>(rng);
    check.is_true("q8_row_dot equals the int64 reference and the scalar body bit for bit, groups of 1 to 100", same);
    return embedded::finish(check, "q8", 0, 0, 0);
}
