// SPDX-License-Identifier: Apache-2.0
// Definitions of the plain-loops baseline; included once per namespace by plain_loops.cpp
// (ctattn's flags) and plain_loops_fast.cpp (-ffast-math). CTATTN_PLAIN_NS names the namespace.
#include <cmath>
#include <cstring>

#include "plain_loops.hpp"

namespace CTATTN_PLAIN_NS {

void matmul(float* xout, const float* x, const float* w, int n, int d) {
    for (int i = 0; i < d; i++) {
        float val = 0.0f;
        for (int j = 0; j < n; j++) val += w[i * n + j] * x[j];
        xout[i] = val;
    }
}

void softmax(float* x, int size) {
    float max_val = x[0];
    for (int i = 1; i < size; i++)
        if (x[i] > max_val) max_val = x[i];
    float sum = 0.0f;
    for (int i = 0; i < size; i++) {
        x[i] = std::exp(x[i] - max_val);
        sum += x[i];
    }
    for (int i = 0; i < size; i++) x[i] /= sum;
}

void scores(float* att, const float* q, const float* k, int n_keys, int head_dim, int k_stride) {
    for (int t = 0; t < n_keys; t++) {
        const float* kt = k + t * k_stride;
        float score = 0.0f;
        for (int i = 0; i < head_dim; i++) score += q[i] * kt[i];
        att[t] = score / std::sqrt(float(head_dim));
    }
}

void aggregate(float* out, const float* att, const float* v, int n_keys, int head_dim, int v_stride) {
    std::memset(out, 0, std::size_t(head_dim) * sizeof(float));
    for (int t = 0; t < n_keys; t++) {
        const float* vt = v + t * v_stride;
        const float a = att[t];
        for (int i = 0; i < head_dim; i++) out[i] += a * vt[i];
    }
}

void mha(float* y, const float* x, int seq, int dim, int heads, int kv_heads, bool causal, const float* wq,
         const float* wk, const float* wv, const float* wo, float* scratch) {
    const int head_dim = dim / heads, kv_dim = kv_heads * head_dim, kv_mul = heads / kv_heads;
    float* q = scratch;               // (seq, dim)
    float* k = q + seq * dim;         // (seq, kv_dim)
    float* v = k + seq * kv_dim;      // (seq, kv_dim)
    float* xb = v + seq * kv_dim;     // (dim)
    float* att = xb + dim;            // (seq)
    for (int t = 0; t < seq; t++) {
        matmul(q + t * dim, x + t * dim, wq, dim, dim);
        matmul(k + t * kv_dim, x + t * dim, wk, dim, kv_dim);
        matmul(v + t * kv_dim, x + t * dim, wv, dim, kv_dim);
    }
    for (int pos = 0; pos < seq; pos++) {
        const int n_keys = causal ? pos + 1 : seq;
        for (int h = 0; h < heads; h++) {
            const int kv_off = (h / kv_mul) * head_dim;
            scores(att, q + pos * dim + h * head_dim, k + kv_off, n_keys, head_dim, kv_dim);
            softmax(att, n_keys);
            aggregate(xb + h * head_dim, att, v + kv_off, n_keys, head_dim, kv_dim);
        }
        matmul(y + pos * dim, xb, wo, dim, dim);
    }
}

void rmsnorm(float* o, const float* x, const float* weight, int size) {
    float ss = 0.0f;
    for (int j = 0; j < size; j++) ss += x[j] * x[j];
    ss /= float(size);
    ss += 1e-5f;
    ss = 1.0f / std::sqrt(ss);
    for (int j = 0; j < size; j++) o[j] = weight[j] * (ss * x[j]);
}

// One layer of the llama model for the token at position pos, on the residual row s.x.
void llama_layer(const plain_llama_shape& p, const plain_llama_weights& w, plain_llama_state& s, int l, int pos) {
    const int dim = p.dim, hidden_dim = p.hidden_dim, head_size = dim / p.n_heads;
    const int kv_dim = (p.dim * p.n_kv_heads) / p.n_heads, kv_mul = p.n_heads / p.n_kv_heads;
    float* x = s.x;
    rmsnorm(s.xb, x, w.rms_att + l * dim, dim);
    const int loff = l * p.seq_len * kv_dim;
    float* k = s.key_cache + loff + pos * kv_dim;
    float* v = s.value_cache + loff + pos * kv_dim;
    matmul(s.q, s.xb, w.wq + l * dim * dim, dim, dim);
    matmul(k, s.xb, w.wk + l * dim * kv_dim, dim, kv_dim);
    matmul(v, s.xb, w.wv + l * dim * kv_dim, dim, kv_dim);

    // RoPE: rotate each pair (i, i+1) of q and k by pos / 10000^(i_in_head / head_size).
    for (int i = 0; i < dim; i += 2) {
        const int head_dim = i % head_size;
        const float freq = 1.0f / std::pow(10000.0f, float(head_dim) / float(head_size));
        const float val = float(pos) * freq, fcr = std::cos(val), fci = std::sin(val);
        const int rotn = i < kv_dim ? 2 : 1;
        for (int r = 0; r < rotn; r++) {
            float* vec = r == 0 ? s.q : k;
            const float v0 = vec[i], v1 = vec[i + 1];
            vec[i] = v0 * fcr - v1 * fci;
            vec[i + 1] = v0 * fci + v1 * fcr;
        }
    }

    for (int h = 0; h < p.n_heads; h++) {
        float* att = s.att + h * p.seq_len;
        const int kv_off = (h / kv_mul) * head_size;
        scores(att, s.q + h * head_size, s.key_cache + loff + kv_off, pos + 1, head_size, kv_dim);
        softmax(att, pos + 1);
        aggregate(s.xb + h * head_size, att, s.value_cache + loff + kv_off, pos + 1, head_size, kv_dim);
    }
    matmul(s.xb2, s.xb, w.wo + l * dim * dim, dim, dim);
    for (int i = 0; i < dim; i++) x[i] += s.xb2[i];

    rmsnorm(s.xb, x, w.rms_ffn + l * dim, dim);
    matmul(s.hb, s.xb, w.w1 + l * dim * hidden_dim, dim, hidden_dim);
    matmul(s.hb2, s.xb, w.w3 + l * dim * hidden_dim, dim, hidden_dim);
    for (int i = 0; i < hidden_dim; i++) {
        float val = s.hb[i];
        val *= 1.0f / (1.0f + std::exp(-val));  // SiLU
        s.hb[i] = val * s.hb2[i];
    }
    matmul(s.xb, s.hb, w.w2 + l * dim * hidden_dim, hidden_dim, dim);
    for (int i = 0; i < dim; i++) x[i] += s.xb[i];
}

void llama_forward(const plain_llama_shape& p, const plain_llama_weights& w, plain_llama_state& s, int token,
                   int pos) {
    const int dim = p.dim;
    float* x = s.x;
    std::memcpy(x, w.token_embedding + token * dim, std::size_t(dim) * sizeof(float));
    for (int l = 0; l < p.n_layers; l++) llama_layer(p, w, s, l, pos);
    rmsnorm(x, x, w.rms_final, dim);
    matmul(s.logits, x, w.wcls, dim, p.vocab_size);
}

}  // namespace CTATTN_PLAIN_NS
