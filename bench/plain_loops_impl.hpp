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

}  // namespace CTATTN_PLAIN_NS
