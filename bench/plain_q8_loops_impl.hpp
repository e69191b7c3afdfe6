// SPDX-License-Identifier: Apache-2.0
// Definitions of the runq.c-style int8 baseline (plain_q8_loops.hpp); included once per namespace
// by plain_q8_loops.cpp (ctattn's flags) and plain_q8_loops_fast.cpp (-ffast-math).
// CTATTN_PLAIN_Q8_NS names the namespace.
#include <cmath>
#include <cstring>

#include "plain_q8_loops.hpp"

namespace CTATTN_PLAIN_Q8_NS {

void quantize(std::int8_t* q, float* s, const float* x, int n) {
    for (int group = 0; group < n / plain_q8_group; group++) {
        const float* xg = x + group * plain_q8_group;
        float wmax = 0.0f;
        for (int i = 0; i < plain_q8_group; i++)
            if (std::fabs(xg[i]) > wmax) wmax = std::fabs(xg[i]);
        const float scale = wmax / 127.0f;
        s[group] = scale;
        for (int i = 0; i < plain_q8_group; i++)
            q[group * plain_q8_group + i] = scale > 0.0f ? std::int8_t(std::round(xg[i] / scale)) : std::int8_t(0);
    }
}

void matmul(float* xout, const std::int8_t* xq, const float* xs, const plain_q8_tensor& w, int l, int n, int d) {
    const std::int8_t* wq = w.q + std::size_t(l) * std::size_t(n) * std::size_t(d);
    const float* ws = w.s + std::size_t(l) * std::size_t(n) * std::size_t(d) / plain_q8_group;
    for (int i = 0; i < d; i++) {
        float val = 0.0f;
        const std::int8_t* row = wq + std::size_t(i) * std::size_t(n);
        const float* row_scales = ws + std::size_t(i) * std::size_t(n / plain_q8_group);
        for (int j = 0; j < n; j += plain_q8_group) {
            std::int32_t ival = 0;
            for (int k = 0; k < plain_q8_group; k++) ival += std::int32_t(xq[j + k]) * std::int32_t(row[j + k]);
            val += float(ival) * row_scales[j / plain_q8_group] * xs[j / plain_q8_group];
        }
        xout[i] = val;
    }
}

namespace {

void rmsnorm(float* o, const float* x, const float* weight, int size) {
    float ss = 0.0f;
    for (int j = 0; j < size; j++) ss += x[j] * x[j];
    ss /= float(size);
    ss += 1e-5f;
    ss = 1.0f / std::sqrt(ss);
    for (int j = 0; j < size; j++) o[j] = weight[j] * (ss * x[j]);
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

}  // namespace

void llama_forward(const plain_llama_shape& p, const plain_q8_weights& w, plain_q8_state& st, int token, int pos) {
    plain_llama_state& s = st.f;
    const int dim = p.dim, hidden_dim = p.hidden_dim, head_size = dim / p.n_heads;
    const int kv_dim = (p.dim * p.n_kv_heads) / p.n_heads, kv_mul = p.n_heads / p.n_kv_heads;
    float* x = s.x;
    // The token's embedding row, dequantized.
    const std::int8_t* eq = w.token_embedding.q + std::size_t(token) * std::size_t(dim);
    const float* es = w.token_embedding.s + std::size_t(token) * std::size_t(dim / plain_q8_group);
    for (int i = 0; i < dim; i++) x[i] = float(eq[i]) * es[i / plain_q8_group];

    for (int l = 0; l < p.n_layers; l++) {
        rmsnorm(s.xb, x, w.rms_att + l * dim, dim);
        const int loff = l * p.seq_len * kv_dim;
        float* k = s.key_cache + loff + pos * kv_dim;
        float* v = s.value_cache + loff + pos * kv_dim;
        quantize(st.xq, st.xs, s.xb, dim);
        matmul(s.q, st.xq, st.xs, w.wq, l, dim, dim);
        matmul(k, st.xq, st.xs, w.wk, l, dim, kv_dim);
        matmul(v, st.xq, st.xs, w.wv, l, dim, kv_dim);

        for (int i = 0; i < dim; i += 2) {  // RoPE
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

        for (int h = 0; h < p.n_heads; h++) {  // attention in float, as in runq.c
            const float* q = s.q + h * head_size;
            float* att = s.att + h * p.seq_len;
            const int kv_off = (h / kv_mul) * head_size;
            for (int t = 0; t <= pos; t++) {
                const float* kt = s.key_cache + loff + t * kv_dim + kv_off;
                float score = 0.0f;
                for (int i = 0; i < head_size; i++) score += q[i] * kt[i];
                att[t] = score / std::sqrt(float(head_size));
            }
            softmax(att, pos + 1);
            float* xb = s.xb + h * head_size;
            std::memset(xb, 0, std::size_t(head_size) * sizeof(float));
            for (int t = 0; t <= pos; t++) {
                const float* vt = s.value_cache + loff + t * kv_dim + kv_off;
                for (int i = 0; i < head_size; i++) xb[i] += att[t] * vt[i];
            }
        }
        quantize(st.xq, st.xs, s.xb, dim);
        matmul(s.xb2, st.xq, st.xs, w.wo, l, dim, dim);
        for (int i = 0; i < dim; i++) x[i] += s.xb2[i];

        rmsnorm(s.xb, x, w.rms_ffn + l * dim, dim);
        quantize(st.xq, st.xs, s.xb, dim);
        matmul(s.hb, st.xq, st.xs, w.w1, l, dim, hidden_dim);
        matmul(s.hb2, st.xq, st.xs, w.w3, l, dim, hidden_dim);
        for (int i = 0; i < hidden_dim; i++) {
            float val = s.hb[i];
            val *= 1.0f / (1.0f + std::exp(-val));  // SiLU
            s.hb[i] = val * s.hb2[i];
        }
        quantize(st.xq, st.xs, s.hb, hidden_dim);
        matmul(s.xb, st.xq, st.xs, w.w2, l, hidden_dim, dim);
        for (int i = 0; i < dim; i++) x[i] += s.xb[i];
    }
    rmsnorm(x, x, w.rms_final, dim);
    quantize(st.xq, st.xs, x, dim);
    matmul(s.logits, st.xq, st.xs, w.wcls, 0, dim, p.vocab_size);
}

}  // namespace CTATTN_PLAIN_Q8_NS
