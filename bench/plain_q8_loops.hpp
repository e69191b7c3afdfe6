// SPDX-License-Identifier: Apache-2.0
// The int8 baseline a firmware engineer writes from llama2.c runq.c's description (Q8_0): every
// matrix quantized in groups of GS = 32 consecutive weights of a row (one float scale per group,
// s = max|w| / 127, q = round(w / s)), the activations quantized the same way before each matrix
// product, and each output one integer dot per group scaled by the two groups' scales:
//   y[i] = sum_g (s_w[i][g] * s_x[g]) * sum_{j in g} q_w[i][j] q_x[j]
// Everything else is the plain float model (plain_loops_impl.hpp): run-time sizes, attention in
// float. Compiled twice like the plain float loops: `plain_q8` with ctattn's flags, `plain_q8_fast`
// with -O3 -march=native -ffast-math.
#pragma once

#include <cstddef>
#include <cstdint>

#include "plain_loops.hpp"

// One group size for the whole model, as in runq.c (every stories15M width is a multiple of it).
constexpr int plain_q8_group = 32;

struct plain_q8_tensor {
    const std::int8_t* q;  // codes, row-major (rows, cols)
    const float* s;        // (rows * cols / plain_q8_group) scales
};
struct plain_q8_weights {
    plain_q8_tensor token_embedding;  // (vocab, dim); a looked-up row is dequantized
    const float* rms_att;             // (layers, dim)
    plain_q8_tensor wq, wk, wv, wo;   // per layer (dim, dim), (kv_dim, dim), (kv_dim, dim), (dim, dim)
    const float* rms_ffn;             // (layers, dim)
    plain_q8_tensor w1, w2, w3;       // per layer (hidden, dim), (dim, hidden), (hidden, dim)
    const float* rms_final;           // (dim)
    plain_q8_tensor wcls;             // (vocab, dim), the embedding when tied
};
struct plain_q8_state {
    plain_llama_state f;              // the float buffers (plain_loops.hpp)
    std::int8_t* xq;                  // (max(dim, hidden)) activation codes
    float* xs;                        // (max(dim, hidden) / plain_q8_group) activation scales
};

#define CTATTN_PLAIN_Q8_DECLARATIONS                                                                        \
    /* Quantizes n floats (n a multiple of plain_q8_group) into codes q and scales s. */                    \
    void quantize(std::int8_t* q, float* s, const float* x, int n);                                        \
    /* xout (d) = W (d, n) . x (n), x already quantized into xq, xs; layer l's matrix of a stacked tensor */ \
    void matmul(float* xout, const std::int8_t* xq, const float* xs, const plain_q8_tensor& w, int l, int n, int d); \
    /* One decode step: token at position pos in, s.f.logits out. */                                        \
    void llama_forward(const plain_llama_shape& p, const plain_q8_weights& w, plain_q8_state& s, int token, int pos);

namespace plain_q8 {
CTATTN_PLAIN_Q8_DECLARATIONS
}
namespace plain_q8_fast {
CTATTN_PLAIN_Q8_DECLARATIONS
}
