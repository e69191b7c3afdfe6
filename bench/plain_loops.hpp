// SPDX-License-Identifier: Apache-2.0
// The baseline a firmware engineer writes by hand, in the style of llama2.c's run.c: run-time
// sizes, weights stored (out_features, in_features) so each output is one dot product, softmax and
// attention as straight loops over the keys a token may see. The same source (plain_loops_impl.hpp)
// is compiled twice: `plain` with exactly ctattn's flags, `plain_fast` with -O3 -march=native
// -ffast-math (the only way its reductions vectorise).
#pragma once

#include <cstddef>

// A llama2.c-style model (legacy checkpoint layout: matrices (out, in), tied classifier when
// wcls == token_embedding). Pointers into one float block; the state's buffers belong to the caller.
struct plain_llama_shape {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};
struct plain_llama_weights {
    const float* token_embedding;  // (vocab, dim)
    const float* rms_att;          // (layers, dim)
    const float* wq;               // (layers, dim, dim)
    const float* wk;               // (layers, kv_dim, dim)
    const float* wv;               // (layers, kv_dim, dim)
    const float* wo;               // (layers, dim, dim)
    const float* rms_ffn;          // (layers, dim)
    const float* w1;               // (layers, hidden, dim)
    const float* w2;               // (layers, dim, hidden)
    const float* w3;               // (layers, hidden, dim)
    const float* rms_final;        // (dim)
    const float* wcls;             // (vocab, dim)
};
struct plain_llama_state {
    float *x, *xb, *xb2;           // (dim)
    float *hb, *hb2;               // (hidden)
    float *q;                      // (dim)
    float *att;                    // (heads, seq_len)
    float *logits;                 // (vocab)
    float *key_cache, *value_cache;  // (layers, seq_len, kv_dim)
};

#define CTATTN_PLAIN_DECLARATIONS                                                                          \
    /* xout (d) = W (d, n) . x (n) */                                                                      \
    void matmul(float* xout, const float* x, const float* w, int n, int d);                                \
    void softmax(float* x, int size);                                                                      \
    /* scores (n_keys) = q . k_t / sqrt(head_dim) for t < n_keys; k rows have stride k_stride */           \
    void scores(float* att, const float* q, const float* k, int n_keys, int head_dim, int k_stride);       \
    /* out (head_dim) = sum_t att[t] v_t for t < n_keys */                                                 \
    void aggregate(float* out, const float* att, const float* v, int n_keys, int head_dim, int v_stride);  \
    /* Multi-head attention over a sequence, llama2.c-style one token at a time.                           \
       wq, wo: (dim, dim); wk, wv: (kv_dim, dim) -- (out, in) layout. x, y: (seq, dim).                    \
       scratch: at least seq * (dim + 2 * kv_dim) + dim + seq floats. */                                   \
    void mha(float* y, const float* x, int seq, int dim, int heads, int kv_heads, bool causal,            \
             const float* wq, const float* wk, const float* wv, const float* wo, float* scratch);             \
    /* One layer of the llama model for the token at position pos, on the residual row s.x. */           \
    void llama_layer(const plain_llama_shape& p, const plain_llama_weights& w, plain_llama_state& s, int l, \
                     int pos);                                                                             \
    /* One decode step of the llama model: token at position pos in, s.logits out. */                     \
    void llama_forward(const plain_llama_shape& p, const plain_llama_weights& w, plain_llama_state& s,     \
                       int token, int pos);

namespace plain {
CTATTN_PLAIN_DECLARATIONS
}
namespace plain_fast {
CTATTN_PLAIN_DECLARATIONS
}
