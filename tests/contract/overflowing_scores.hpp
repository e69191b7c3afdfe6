// SPDX-License-Identifier: Apache-2.0
// Inputs whose float score q . k overflows although q and k are finite, and their attention in
// double: shared by the host test (tests/contract/test_overflowing_scores.cpp, every arch) and the
// firmware (tests/embedded/numeric_fw.cpp, Cortex-M's scalar path and VFP decode kernel). No heap,
// no <vector>: fixed arrays, so the firmware can use it as is.
// Three tokens A, B, C (rows of head_dim floats), keys k = x Wk with Wk = diag(-1, 1, ..., 1),
// queries and values q = v = x:
//   sign flip     B = (-1e30, 1e30, ..., 1e30): q_B . k_B = -1e60 + (head_dim - 1) 1e60 is the
//                 row's largest score by far, but a multiply-add chain from d = 0 overflows to -inf
//                 on its first product and stays there (fma(a, b, -inf) = -inf): "weight 0", and the
//                 output is another key's value.
//   partial sums  B = (-1e30, 1e30, 1, 0, ...): q_B . k_B = -1e60 + 1e60 + 1 = 1 exactly (finite);
//                 the chain gives -inf (with FMA) or NaN (without), and the exact weights put most of
//                 row B on B (0.67 at head_dim 8).
// Tolerance: every projection here is exact (one nonzero product per element); each output is a
// convex combination of value rows with weights within (2n + 16) u relative of the double softmax,
// summed with (n + 4) u more: 64 u of the row's largest |expected| covers it with margin. A wrong
// key's weight is off by the whole row (a factor ~2 here).
#pragma once

#include <ctattn/base/attention_config.hpp>
#include <ctattn/base/mask.hpp>
#include <ctattn/layers/block.hpp>
#include <ctattn/model/config.hpp>

#include <cmath>
#include <cstddef>

namespace ctattn_test::overflow {

enum class awkward { sign_flip, partial_sums };
inline constexpr awkward cases[] = {awkward::sign_flip, awkward::partial_sums};
inline constexpr std::size_t tokens = 3;  // A, B, C: query B sees A and B, C sees all three
inline constexpr double tolerance = 64.0 / 16777216.0;  // 64 u of the row's largest |expected|

inline const char* case_name(awkward c) {
    return c == awkward::sign_flip ? "sign flip" : "partial-sum overflow, finite exact score";
}

// x: tokens rows of Hd floats, A, B, C.
template <std::size_t Hd>
void token_rows(awkward c, float* x) {
    for (std::size_t i = 0; i < tokens * Hd; ++i) x[i] = 0.0f;
    float* a = x;
    float* b = x + Hd;
    float* t = x + 2 * Hd;
    if (c == awkward::sign_flip) {
        a[0] = 0.5f;  // q_B . k_A = 5e29: finite, far below q_B . k_B
        for (std::size_t d = 0; d < Hd; ++d) b[d] = d == 0 ? -1e30f : 1e30f;
        t[2] = 1.0f;  // q_C . k_B = 1e30: C puts its weight on B too
    } else {
        a[2] = -1.0f;  // q_B . k_A = -1
        b[0] = -1e30f;
        b[1] = 1e30f;
        b[2] = 1.0f;
        t[3] = 1.0f;  // q_C: scores 0, 0, 1 against A, B, C
    }
}

// k = x Wk, Wk = diag(-1, 1, ..., 1).
template <std::size_t Hd>
void keys_of(const float* x, float* k) {
    for (std::size_t i = 0; i < tokens * Hd; ++i) k[i] = i % Hd == 0 ? -x[i] : x[i];
}

// The causal attention context of every row in double: s_ij = q_i . k_j / sqrt(Hd), softmax over
// j <= i, context_i = sum_j p_ij v_j. Products of floats are exact in double, and sums of <= 32 of
// them (<= 1.2e77 each) cannot overflow.
template <std::size_t Hd>
void context_in_double(const float* x, double* context) {
    float k[tokens * Hd];
    keys_of<Hd>(x, k);
    for (std::size_t i = 0; i < tokens * Hd; ++i) context[i] = 0.0;
    for (std::size_t i = 0; i < tokens; ++i) {
        double s[tokens], max = -INFINITY, sum = 0.0;
        for (std::size_t j = 0; j <= i; ++j) {
            double dot = 0.0;
            for (std::size_t d = 0; d < Hd; ++d) dot += double(x[i * Hd + d]) * double(k[j * Hd + d]);
            s[j] = dot / std::sqrt(double(Hd));
            max = s[j] > max ? s[j] : max;
        }
        for (std::size_t j = 0; j <= i; ++j) sum += (s[j] = std::exp(s[j] - max));
        for (std::size_t j = 0; j <= i; ++j)
            for (std::size_t d = 0; d < Hd; ++d) context[i * Hd + d] += s[j] / sum * double(x[j * Hd + d]);
    }
}

// The largest |got - want| / (tolerance * the row's largest |want|) over `rows` rows of `width`
// (got at row stride `stride`); NaN when an output is not finite. <= 1 passes.
inline double error_ratio(const float* got, std::size_t stride, const double* want, std::size_t rows, std::size_t width) {
    double worst = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
        double largest = 0.0;
        for (std::size_t d = 0; d < width; ++d)
            largest = std::fabs(want[r * width + d]) > largest ? std::fabs(want[r * width + d]) : largest;
        for (std::size_t d = 0; d < width; ++d) {
            const double g = got[r * stride + d];
            if (!std::isfinite(g)) return NAN;
            const double ratio = std::fabs(g - want[r * width + d]) / (tolerance * largest + 0x1p-125);
            worst = ratio > worst ? ratio : worst;
        }
    }
    return worst;
}

// One head of Hd (the layer and the cores).
template <std::size_t Hd>
using one_head = ctattn::attention_config<Hd, 1, 1, 4, ctattn::no_bias, ctattn::causal_mask>;

// Wq, Wv, Wo identity and Wk = diag(-1, 1, ..., 1) on a one-head layer.
template <std::size_t Hd, class Weights>
void set_one_head_projections(Weights& w) {
    for (std::size_t d = 0; d < Hd; ++d) {
        w.wq[d * Hd + d] = 1.0f;
        w.wk[d * Hd + d] = d == 0 ? -1.0f : 1.0f;
        w.wv[d * Hd + d] = 1.0f;
        w.wo[d * Hd + d] = 1.0f;
    }
}

// A language model of one block whose two query heads share one KV head (the pairs the decode
// kernels take, and the Cortex-M VFP kernel's shape at head_dim 8): d_model 2 Hd, no norms, no
// positions, an FFN of zeros, vocab 2 Hd with an identity head. Token t's embedding is (x_t, 0);
// Wq copies x_t into both heads, Wk and Wv read it (Wk with the sign flip), Wo puts head 0's context
// back in the first half. So the logits of token t are (x_t + context_t, 0).
template <std::size_t Hd>
using paired_heads_block =
    ctattn::block_config<ctattn::attention_config<2 * Hd, 2, 1, 4, ctattn::no_bias, ctattn::causal_mask>,
                         ctattn::ffn_config<2 * Hd, ctattn::dense_ffn<ctattn::relu, false>, 4>, ctattn::no_norm,
                         ctattn::pre_norm>;
template <std::size_t Hd>
using paired_heads_model = ctattn::stacked_model_config<2 * Hd, 1, paired_heads_block<Hd>, ctattn::no_positions,
                                                        ctattn::no_norm, ctattn::untied_head<>>;

// w: model_weights<paired_heads_model<Hd>> (zeros), x: the token rows.
template <std::size_t Hd, class Weights>
void fill_model(Weights& w, const float* x) {
    constexpr std::size_t D = 2 * Hd;
    for (std::size_t t = 0; t < tokens; ++t)
        for (std::size_t d = 0; d < Hd; ++d) w.embedding[t * D + d] = x[t * Hd + d];
    auto& a = w.template layer<0>().attention;
    for (std::size_t d = 0; d < Hd; ++d) {
        a.wq[d * D + d] = 1.0f;       // head 0
        a.wq[d * D + Hd + d] = 1.0f;  // head 1
        a.wk[d * Hd + d] = d == 0 ? -1.0f : 1.0f;
        a.wv[d * Hd + d] = 1.0f;
        a.wo[d * D + d] = 1.0f;
    }
    for (std::size_t d = 0; d < D; ++d) w.head.w_out[d * D + d] = 1.0f;
}

// logits: tokens rows of 2 Hd.
template <std::size_t Hd>
void logits_in_double(const float* x, double* logits) {
    double context[tokens * Hd];
    context_in_double<Hd>(x, context);
    for (std::size_t t = 0; t < tokens; ++t)
        for (std::size_t d = 0; d < 2 * Hd; ++d)
            logits[t * 2 * Hd + d] = d < Hd ? double(x[t * Hd + d]) + context[t * Hd + d] : 0.0;
}

}  // namespace ctattn_test::overflow
