// SPDX-License-Identifier: Apache-2.0
// Position policies: how a token's place in the sequence reaches attention.
//   no_positions           nothing (the seed-000 toy model)
//   sinusoidal_positions   x += PE[p], PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(same)
//   learned_positions      x += P[p], a trained (capacity x d_model) table
//   rotary_positions<T>    RoPE: rotate each (2i, 2i+1) pair of every q and k head by p / T^(2i/head_dim)
//                          (cos and sin by simd::cos_sin_polynomial: the same bits on every core)
// Additive policies act once on the embedding; rotary acts inside every attention layer, after
// the Q/K projection, on queries and on the keys as they enter the cache (so a cached key is
// already rotated and decoding never re-rotates anything).
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>

#include "../base/weight_storage.hpp"
#include "../simd/math.hpp"
#include "../simd/ops.hpp"
#include "../base/storage.hpp"

namespace ctattn {

/// No position information (the seed-000 toy model).
struct no_positions {
    static constexpr const char* name = "none";  ///< as configurations and test reports spell it
    static constexpr bool additive = false;      ///< nothing is added to the embedding
    static constexpr bool rotary = false;        ///< attention layers leave q and k as projected
    /// Empty: no position weights.
    template <std::size_t D, std::size_t Capacity, weight_storage Storage = owned_weights>
    struct weights {};
};

/// x += PE[p], the fixed sine/cosine table of "Attention Is All You Need", computed on the fly.
struct sinusoidal_positions {
    static constexpr const char* name = "sinusoidal";  ///< as configurations and test reports spell it
    static constexpr bool additive = true;             ///< add() acts once on the embedding
    static constexpr bool rotary = false;              ///< attention layers leave q and k as projected
    /// Empty: the table is computed, nothing stored.
    template <std::size_t D, std::size_t Capacity, weight_storage Storage = owned_weights>
    struct weights {};

    /// x[0..D) += PE[pos]. The angle is formed in float like llama2.c forms RoPE's: the same on
    /// every target, and accurate to ~pos * 1e-7 rad, far inside the model tolerance.
    template <std::size_t D, std::size_t Capacity, class Storage>
    static void add(const weights<D, Capacity, Storage>&, std::size_t pos, float* x) noexcept {
        for (std::size_t i = 0; i < D; i += 2) {
            const float inv_freq = 1.0f / std::pow(10000.0f, float(i) / float(D));
            const float angle = float(pos) * inv_freq;
            x[i] += std::sin(angle);
            if (i + 1 < D) x[i + 1] += std::cos(angle);
        }
    }
};

/// x += P[p], a trained (capacity x d_model) table.
struct learned_positions {
    static constexpr const char* name = "learned";  ///< as configurations and test reports spell it
    static constexpr bool additive = true;          ///< add() acts once on the embedding
    static constexpr bool rotary = false;           ///< attention layers leave q and k as projected
    /// The trained table for D-wide rows and Capacity positions, owned or a view into constant storage.
    template <std::size_t D, std::size_t Capacity, weight_storage Storage = owned_weights>
    struct weights {
        typename Storage::template matrix<Capacity, D> table;  ///< (seq_capacity, d_model)
    };
    /// x[0..D) += P[pos].
    template <std::size_t D, std::size_t Capacity, class Storage>
    static void add(const weights<D, Capacity, Storage>& w, std::size_t pos, float* x) noexcept {
        const float* row = w.table.row(pos);
        for (std::size_t i = 0; i < D; ++i) x[i] += row[i];
    }
};

/// RoPE as llama2.c applies it: pairs (2i, 2i+1) inside each head, frequency Theta^(-2i/head_dim).
template <unsigned Theta = 10000>
struct rotary_positions {
    static_assert(Theta > 1, "ctattn: rotary_positions needs a base theta > 1");
    static constexpr const char* name = "rope";   ///< as configurations and test reports spell it
    static constexpr bool additive = false;       ///< nothing is added to the embedding
    static constexpr bool rotary = true;          ///< rotate() acts on q and k in every attention layer
    static constexpr float theta = float(Theta);  ///< the frequency base Theta
    /// Empty: RoPE has no trained parameters.
    template <std::size_t D, std::size_t Capacity, weight_storage Storage = owned_weights>
    struct weights {};

    /// One pair (x0, x1) turned by the angle whose cos and sin are c and s. Each output is one
    /// product and one fused multiply-add, written out: left to the compiler, whether and which
    /// product it fuses depends on the target (GCC fuses on Cortex-M, x86's tuning may not).
    static void turn(float* pair, float c, float s) noexcept {
        using S = simd::ops<simd::scalar_arch>;
        const float x0 = pair[0], x1 = pair[1];
        pair[0] = S::fma(x0, c, -(x1 * s));
        pair[1] = S::fma(x0, s, x1 * c);
    }
    /// row: Heads heads of HeadDim floats side by side (a q row, or a k row with kv_heads heads).
    /// Each pair's cos/sin is computed once and applied to every head.
    template <std::size_t HeadDim, std::size_t Heads>
    static void rotate(float* row, std::size_t pos) noexcept {
        static_assert(HeadDim % 2 == 0, "ctattn: rotary_positions needs an even head_dim (it rotates pairs)");
        for (std::size_t i = 0; i < HeadDim; i += 2) {
            const float inv_freq = 1.0f / std::pow(theta, float(i) / float(HeadDim));
            const float angle = float(pos) * inv_freq;
            float c, s;
            simd::cos_sin_polynomial(angle, c, s);
            for (std::size_t h = 0; h < Heads; ++h) turn(row + h * HeadDim + i, c, s);
        }
    }
    /// A token's q row (Heads heads) and k row (KvHeads heads) at once: one cos/sin per pair for
    /// both (cos and sin are most of RoPE's cost for narrow models); the same values as rotating
    /// each row on its own.
    template <std::size_t HeadDim, std::size_t Heads, std::size_t KvHeads>
    static void rotate(float* q_row, float* k_row, std::size_t pos) noexcept {
        static_assert(HeadDim % 2 == 0, "ctattn: rotary_positions needs an even head_dim (it rotates pairs)");
        for (std::size_t i = 0; i < HeadDim; i += 2) {
            const float inv_freq = 1.0f / std::pow(theta, float(i) / float(HeadDim));
            const float angle = float(pos) * inv_freq;
            float c, s;
            simd::cos_sin_polynomial(angle, c, s);
            for (std::size_t h = 0; h < Heads; ++h) turn(q_row + h * HeadDim + i, c, s);
            for (std::size_t h = 0; h < KvHeads; ++h) turn(k_row + h * HeadDim + i, c, s);
        }
    }
};

/// What a type must provide to be used as a position policy.
template <class P>
concept position_policy = requires {
    { P::additive } -> std::convertible_to<bool>;
    { P::rotary } -> std::convertible_to<bool>;
    { P::name } -> std::convertible_to<const char*>;
    typename P::template weights<2, 1>;
};

}  // namespace ctattn
