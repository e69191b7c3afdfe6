// Double-precision scalar reference for the attention core: the formulas written as plainly as
// possible, independent of the kernels under test (no shared code, no SIMD, no blocking).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace ctattn_test::ref {

using vec = std::vector<double>;

// y[rows x dout] = x[rows x din] @ w[din x dout] + b
inline vec matmul(const vec& x, const vec& w, const vec* b, std::size_t rows, std::size_t din, std::size_t dout) {
    vec y(rows * dout, 0.0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < dout; ++c) {
            double acc = b ? (*b)[c] : 0.0;
            for (std::size_t k = 0; k < din; ++k) acc += x[r * din + k] * w[k * dout + c];
            y[r * dout + c] = acc;
        }
    return y;
}

// sum_k |x[r,k] * w[k,c]| + |b[c]| for every output element: the scale of the rounding error a
// float dot product can make (|error| <= gamma_{din+1} * this sum for any summation order).
inline vec matmul_abs(const vec& x, const vec& w, const vec* b, std::size_t rows, std::size_t din, std::size_t dout) {
    vec y(rows * dout, 0.0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < dout; ++c) {
            double acc = b ? std::abs((*b)[c]) : 0.0;
            for (std::size_t k = 0; k < din; ++k) acc += std::abs(x[r * din + k] * w[k * dout + c]);
            y[r * dout + c] = acc;
        }
    return y;
}

// Softmax of one row with -inf entries as masked; a fully masked row gives zeros.
inline vec softmax(const vec& s) {
    double m = -std::numeric_limits<double>::infinity();
    for (double v : s) m = v > m ? v : m;
    vec p(s.size(), 0.0);
    if (!(m > -std::numeric_limits<double>::infinity())) return p;
    double sum = 0.0;
    for (std::size_t j = 0; j < s.size(); ++j) sum += (p[j] = std::exp(s[j] - m));
    for (double& v : p) v /= sum;
    return p;
}

enum class mask_kind { none, causal, padding, window };

inline bool visible(mask_kind kind, std::size_t i, std::size_t j, std::size_t param) {
    switch (kind) {
        case mask_kind::none: return true;
        case mask_kind::causal: return j <= i;
        case mask_kind::padding: return j < param;
        case mask_kind::window: return j <= i && i - j < param;
    }
    return true;
}

struct mha_result {
    vec y;     // seq x d_model
    vec attn;  // heads x seq x seq
};

// Multi-head (grouped-query when kv_heads < heads) attention on one sequence.
inline mha_result mha(const vec& x, std::size_t seq, std::size_t d_model, std::size_t heads, std::size_t kv_heads,
                      const vec& wq, const vec& wk, const vec& wv, const vec& wo, const vec* bq, const vec* bk,
                      const vec* bv, const vec* bo, mask_kind kind, std::size_t mask_param = 0) {
    const std::size_t hd = d_model / heads, kv_dim = kv_heads * hd, group = heads / kv_heads;
    const vec q = matmul(x, wq, bq, seq, d_model, d_model);
    const vec k = matmul(x, wk, bk, seq, d_model, kv_dim);
    const vec v = matmul(x, wv, bv, seq, d_model, kv_dim);
    vec context(seq * d_model, 0.0);
    mha_result out;
    out.attn.assign(heads * seq * seq, 0.0);
    for (std::size_t h = 0; h < heads; ++h) {
        const std::size_t g = h / group;
        for (std::size_t i = 0; i < seq; ++i) {
            vec s(seq, -std::numeric_limits<double>::infinity());
            for (std::size_t j = 0; j < seq; ++j) {
                if (!visible(kind, i, j, mask_param)) continue;
                double dot = 0.0;
                for (std::size_t d = 0; d < hd; ++d) dot += q[i * d_model + h * hd + d] * k[j * kv_dim + g * hd + d];
                s[j] = dot / std::sqrt(double(hd));
            }
            const vec p = softmax(s);
            for (std::size_t j = 0; j < seq; ++j) {
                out.attn[(h * seq + i) * seq + j] = p[j];
                for (std::size_t d = 0; d < hd; ++d) context[i * d_model + h * hd + d] += p[j] * v[j * kv_dim + g * hd + d];
            }
        }
    }
    out.y = matmul(context, wo, bo, seq, d_model, d_model);
    return out;
}

}  // namespace ctattn_test::ref
