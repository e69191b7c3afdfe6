// SPDX-License-Identifier: Apache-2.0
// Double-precision reference for the benchmarks' correctness gate: the attention formulas written
// as plainly as possible, sharing no code with ctattn or with the baselines being timed.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace ctattn_bench::ref {

using dvec = std::vector<double>;

inline dvec widen(const float* p, std::size_t n) { return dvec(p, p + n); }

// y (rows, dout) = x (rows, din) @ w (din, dout)
inline dvec matmul(const dvec& x, const dvec& w, std::size_t rows, std::size_t din, std::size_t dout) {
    dvec y(rows * dout, 0.0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t k = 0; k < din; ++k) {
            const double xv = x[r * din + k];
            for (std::size_t c = 0; c < dout; ++c) y[r * dout + c] += xv * w[k * dout + c];
        }
    return y;
}

inline std::size_t visible_keys(bool causal, std::size_t query, std::size_t n_keys) {
    return causal ? (query + 1 < n_keys ? query + 1 : n_keys) : n_keys;
}

// scores (heads, seq, seq): q_i . k_j / sqrt(head_dim) where visible, -inf elsewhere.
// q and k are (seq, dim) with head h in columns h*head_dim .. +head_dim.
inline dvec scores(const dvec& q, const dvec& k, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const std::size_t hd = dim / heads;
    dvec s(heads * seq * seq, -std::numeric_limits<double>::infinity());
    for (std::size_t h = 0; h < heads; ++h)
        for (std::size_t i = 0; i < seq; ++i)
            for (std::size_t j = 0; j < visible_keys(causal, i, seq); ++j) {
                double dot = 0.0;
                for (std::size_t d = 0; d < hd; ++d) dot += q[i * dim + h * hd + d] * k[j * dim + h * hd + d];
                s[(h * seq + i) * seq + j] = dot / std::sqrt(double(hd));
            }
    return s;
}

// Row-wise softmax over rows of length n; -inf entries get 0.
inline dvec softmax_rows(const dvec& s, std::size_t n) {
    dvec p(s.size(), 0.0);
    for (std::size_t r = 0; r < s.size() / n; ++r) {
        double m = -std::numeric_limits<double>::infinity();
        for (std::size_t j = 0; j < n; ++j) m = s[r * n + j] > m ? s[r * n + j] : m;
        double sum = 0.0;
        for (std::size_t j = 0; j < n; ++j)
            if (s[r * n + j] > -std::numeric_limits<double>::infinity()) sum += (p[r * n + j] = std::exp(s[r * n + j] - m));
        for (std::size_t j = 0; j < n; ++j) p[r * n + j] /= sum;
    }
    return p;
}

// context (seq, dim): head h's columns are P_h (seq, seq) times V's head-h columns.
inline dvec aggregate(const dvec& p, const dvec& v, std::size_t seq, std::size_t dim, std::size_t heads) {
    const std::size_t hd = dim / heads;
    dvec out(seq * dim, 0.0);
    for (std::size_t h = 0; h < heads; ++h)
        for (std::size_t i = 0; i < seq; ++i)
            for (std::size_t j = 0; j < seq; ++j) {
                const double pij = p[(h * seq + i) * seq + j];
                for (std::size_t d = 0; d < hd; ++d) out[i * dim + h * hd + d] += pij * v[j * dim + h * hd + d];
            }
    return out;
}

// Multi-head attention without bias, kv_heads == heads; weights in the x @ W layout.
inline dvec mha(const dvec& x, const dvec& wq, const dvec& wk, const dvec& wv, const dvec& wo, std::size_t seq,
                std::size_t dim, std::size_t heads, bool causal) {
    const dvec q = matmul(x, wq, seq, dim, dim), k = matmul(x, wk, seq, dim, dim), v = matmul(x, wv, seq, dim, dim);
    const dvec p = softmax_rows(scores(q, k, seq, dim, heads, causal), seq);
    return matmul(aggregate(p, v, seq, dim, heads), wo, seq, dim, dim);
}

}  // namespace ctattn_bench::ref
