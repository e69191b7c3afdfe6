// SPDX-License-Identifier: Apache-2.0
// Backward of RoPE (position.hpp's rotary_positions): each (2i, 2i+1) pair of a head was rotated
// by the angle pos / theta^(2i/head_dim); a rotation's transpose is its inverse, so the gradient
// is rotated back by the same angle:  (d0, d1) -> (d0 c + d1 s, -d0 s + d1 c).
// Angles are formed in float exactly as the forward forms them.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cmath>
#include <cstddef>

namespace ctattn::train {

// row: Heads heads of HeadDim gradient floats side by side, for the token at `pos`.
template <std::size_t HeadDim, std::size_t Heads, class Rotary>
inline void rope_row_gradient(float* row, std::size_t pos) noexcept {
    static_assert(HeadDim % 2 == 0, "ctattn: rotary_positions needs an even head_dim (it rotates pairs)");
    for (std::size_t i = 0; i < HeadDim; i += 2) {
        const float inv_freq = 1.0f / std::pow(Rotary::theta, float(i) / float(HeadDim));
        const float angle = float(pos) * inv_freq;
        const float c = std::cos(angle), s = std::sin(angle);
        for (std::size_t h = 0; h < Heads; ++h) {
            float* pair = row + h * HeadDim + i;
            const float d0 = pair[0], d1 = pair[1];
            pair[0] = d0 * c + d1 * s;
            pair[1] = -d0 * s + d1 * c;
        }
    }
}

}  // namespace ctattn::train
