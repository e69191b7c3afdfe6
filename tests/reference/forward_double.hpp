// SPDX-License-Identifier: Apache-2.0
// The double-precision reference forward pass, shared by the tests and the benchmarks' correctness
// gates: the formulas written as plainly as possible, independent of the kernels under test (no
// shared code, no SIMD, no blocking). Attention is computed in its textbook stages,
//   Q = X Wq + bq, K = X Wk + bk, V = X Wv + bv,  S_h = Q_h K_g^T / sqrt(head_dim) (masked: -inf),
//   P_h = softmax(S_h) row by row,  context_h = P_h V_g,  Y = context Wo + bo   (g = h / group),
// and a language model stacks those with norms, FFNs and positions (block, logits, loss) on any
// ctattn configuration, reading each float weight through a `reader` that can add an exact double
// offset to one weight (finite differences in double). Test-only code: it allocates.
#pragma once

#include <ctattn/model/language_model.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numbers>
#include <type_traits>
#include <vector>

namespace ctattn_test::ref {

using vec = std::vector<double>;
using dvec = vec;

inline vec widen(const float* p, std::size_t n) { return vec(p, p + n); }

// ---- attention, stage by stage ----------------------------------------------------------------

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

// softmax over each row of length n of s.
inline vec softmax_rows(const vec& s, std::size_t n) {
    vec p(s.size(), 0.0);
    for (std::size_t r = 0; r < s.size() / n; ++r) {
        const vec row = softmax(vec(s.begin() + std::ptrdiff_t(r * n), s.begin() + std::ptrdiff_t((r + 1) * n)));
        std::copy(row.begin(), row.end(), p.begin() + std::ptrdiff_t(r * n));
    }
    return p;
}

enum class mask_kind { none, causal, padding, window };

// Whether query i sees key j; param is the valid length (padding) or the window width (window).
inline bool visible(mask_kind kind, std::size_t i, std::size_t j, std::size_t param) {
    switch (kind) {
        case mask_kind::none: return true;
        case mask_kind::causal: return j <= i;
        case mask_kind::padding: return j < param;
        case mask_kind::window: return j <= i && i - j < param;
    }
    return true;
}

inline mask_kind causal_or_none(bool causal) { return causal ? mask_kind::causal : mask_kind::none; }

// How many of n_keys keys query sees under a causal mask (or none): the benchmarks' baselines loop
// over exactly these.
inline std::size_t visible_keys(bool causal, std::size_t query, std::size_t n_keys) {
    return causal ? (query + 1 < n_keys ? query + 1 : n_keys) : n_keys;
}

// scores (heads, seq, seq): q_i . k_j / sqrt(head_dim) where visible(i, j), -inf elsewhere. q is
// (seq, d_model) and k (seq, kv_heads * head_dim), head h in columns h * head_dim ..; query head h
// reads key head h / (heads / kv_heads).
template <class Visible>
vec scores(const vec& q, const vec& k, std::size_t seq, std::size_t d_model, std::size_t heads, std::size_t kv_heads,
           const Visible& visible_key) {
    const std::size_t hd = d_model / heads, kv_dim = kv_heads * hd, group = heads / kv_heads;
    vec s(heads * seq * seq, -std::numeric_limits<double>::infinity());
    for (std::size_t h = 0; h < heads; ++h) {
        const std::size_t g = h / group;
        for (std::size_t i = 0; i < seq; ++i)
            for (std::size_t j = 0; j < seq; ++j) {
                if (!visible_key(i, j)) continue;
                double dot = 0.0;
                for (std::size_t d = 0; d < hd; ++d) dot += q[i * d_model + h * hd + d] * k[j * kv_dim + g * hd + d];
                s[(h * seq + i) * seq + j] = dot / std::sqrt(double(hd));
            }
    }
    return s;
}

inline vec scores(const vec& q, const vec& k, std::size_t seq, std::size_t d_model, std::size_t heads,
                  std::size_t kv_heads, mask_kind kind, std::size_t mask_param = 0) {
    return scores(q, k, seq, d_model, heads, kv_heads,
                  [&](std::size_t i, std::size_t j) { return visible(kind, i, j, mask_param); });
}

// context (seq, d_model): head h's columns are P_h (seq, seq) times V's columns of key head g.
inline vec aggregate(const vec& p, const vec& v, std::size_t seq, std::size_t d_model, std::size_t heads,
                     std::size_t kv_heads) {
    const std::size_t hd = d_model / heads, kv_dim = kv_heads * hd, group = heads / kv_heads;
    vec context(seq * d_model, 0.0);
    for (std::size_t h = 0; h < heads; ++h) {
        const std::size_t g = h / group;
        for (std::size_t i = 0; i < seq; ++i)
            for (std::size_t j = 0; j < seq; ++j) {
                const double pij = p[(h * seq + i) * seq + j];
                for (std::size_t d = 0; d < hd; ++d)
                    context[i * d_model + h * hd + d] += pij * v[j * kv_dim + g * hd + d];
            }
    }
    return context;
}

struct mha_result {
    vec y;     // seq x d_model
    vec attn;  // heads x seq x seq
};

// Multi-head (grouped-query when kv_heads < heads) attention on one sequence.
inline mha_result mha(const vec& x, std::size_t seq, std::size_t d_model, std::size_t heads, std::size_t kv_heads,
                      const vec& wq, const vec& wk, const vec& wv, const vec& wo, const vec* bq, const vec* bk,
                      const vec* bv, const vec* bo, mask_kind kind, std::size_t mask_param = 0) {
    const std::size_t kv_dim = kv_heads * (d_model / heads);
    const vec q = matmul(x, wq, bq, seq, d_model, d_model);
    const vec k = matmul(x, wk, bk, seq, d_model, kv_dim);
    const vec v = matmul(x, wv, bv, seq, d_model, kv_dim);
    mha_result out;
    out.attn = softmax_rows(scores(q, k, seq, d_model, heads, kv_heads, kind, mask_param), seq);
    out.y = matmul(aggregate(out.attn, v, seq, d_model, heads, kv_heads), wo, bo, seq, d_model, d_model);
    return out;
}

// ---- a language model on a ctattn configuration -------------------------------------------------

// Reads a float weight as a double, plus delta if it is the perturbed one.
struct reader {
    const float* perturbed = nullptr;
    double delta = 0.0;
    double operator()(const float* p) const { return double(*p) + (p == perturbed ? delta : 0.0); }
};

// y (rows x dout) = x W (+ b), W read through rd (din x dout, x @ W convention).
inline vec matmul(const vec& x, std::size_t rows, std::size_t din, std::size_t dout, const float* w, const float* b,
                  const reader& rd) {
    vec y(rows * dout, 0.0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < dout; ++c) {
            double acc = b ? rd(b + c) : 0.0;
            for (std::size_t k = 0; k < din; ++k) acc += x[r * din + k] * rd(w + k * dout + c);
            y[r * dout + c] = acc;
        }
    return y;
}

// LayerNorm (weights with a bias) or RMSNorm of each row of x, in place; no_norm leaves x alone.
template <class Norm, class W>
void norm_rows(const W& w, vec& x, std::size_t rows, std::size_t d, const reader& rd) {
    if constexpr (std::is_same_v<Norm, ctattn::no_norm>) {
        return;
    } else {
        const double eps = double(Norm::eps);
        for (std::size_t r = 0; r < rows; ++r) {
            double* row = x.data() + r * d;
            double mean = 0.0;
            constexpr bool layer = requires { w.bias; };
            if constexpr (layer) {
                for (std::size_t i = 0; i < d; ++i) mean += row[i];
                mean /= double(d);
            }
            double ms = 0.0;
            for (std::size_t i = 0; i < d; ++i) ms += (row[i] - mean) * (row[i] - mean);
            const double scale = 1.0 / std::sqrt(ms / double(d) + eps);
            for (std::size_t i = 0; i < d; ++i) {
                double y = (row[i] - mean) * scale * rd(w.gain.data() + i);
                if constexpr (layer) y += rd(w.bias.data() + i);
                row[i] = y;
            }
        }
    }
}

template <class Act>
double activation(double x) {
    if constexpr (std::is_same_v<Act, ctattn::relu>) return x > 0.0 ? x : 0.0;
    if constexpr (std::is_same_v<Act, ctattn::gelu_erf>) return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    if constexpr (std::is_same_v<Act, ctattn::gelu_tanh>)
        return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    if constexpr (std::is_same_v<Act, ctattn::silu>) return x / (1.0 + std::exp(-x));
}

// RoPE on the heads of one row (at offset) for position pos: pairs (2i, 2i+1) rotated by
// pos / theta^(2i / head_dim).
template <class Position>
void rope(vec& row_data, std::size_t offset, std::size_t head_dim, std::size_t heads, std::size_t pos) {
    for (std::size_t h = 0; h < heads; ++h)
        for (std::size_t i = 0; i < head_dim; i += 2) {
            const double angle = double(pos) / std::pow(double(Position::theta), double(i) / double(head_dim));
            double* pair = row_data.data() + offset + h * head_dim + i;
            const double x0 = pair[0], x1 = pair[1];
            pair[0] = x0 * std::cos(angle) - x1 * std::sin(angle);
            pair[1] = x0 * std::sin(angle) + x1 * std::cos(angle);
        }
}

// One block on the n rows of x, in place: the attention stages above under the block's mask, then
// the FFN, each sublayer with its residual and its norm (before or after, per the placement).
template <class Block, class Position>
void block(const ctattn::block_weights<Block>& w, vec& x, std::size_t n, const reader& rd) {
    using A = typename Block::attention;
    using Fc = typename Block::ffn;
    constexpr std::size_t D = Block::d_model, KV = A::kv_dim, HD = A::head_dim, F = Fc::d_ff;
    constexpr bool pre = Block::placement::norm_first;
    // attention sublayer
    vec in = x;
    if constexpr (pre) norm_rows<typename Block::norm>(w.attention_norm, in, n, D, rd);
    const auto& a = w.attention;
    vec q = matmul(in, n, D, D, a.wq.data(), a.q_bias(), rd);
    vec k = matmul(in, n, D, KV, a.wk.data(), a.k_bias(), rd);
    const vec v = matmul(in, n, D, KV, a.wv.data(), a.v_bias(), rd);
    if constexpr (Position::rotary)
        for (std::size_t r = 0; r < n; ++r) {
            rope<Position>(q, r * D, HD, A::heads, r);
            rope<Position>(k, r * KV, HD, A::kv_heads, r);
        }
    const auto visible_key = [n](std::size_t i, std::size_t j) {
        const ctattn::key_range vis = A::mask::visible_keys({}, i, n);
        return j >= vis.begin && j < vis.end;
    };
    const vec p = softmax_rows(scores(q, k, n, D, A::heads, A::kv_heads, visible_key), n);
    vec out = matmul(aggregate(p, v, n, D, A::heads, A::kv_heads), n, D, D, a.wo.data(), a.o_bias(), rd);
    for (std::size_t i = 0; i < n * D; ++i) x[i] += out[i];
    if constexpr (!pre) norm_rows<typename Block::norm>(w.attention_norm, x, n, D, rd);
    // feed-forward sublayer
    in = x;
    if constexpr (pre) norm_rows<typename Block::norm>(w.ffn_norm, in, n, D, rd);
    vec z = matmul(in, n, D, F, w.ffn.w1.data(), w.ffn.b1_data(), rd);
    for (double& e : z) e = activation<typename Fc::activation>(e);
    if constexpr (Fc::gated) {
        const vec u = matmul(in, n, D, F, w.ffn.w3_data(), w.ffn.b3_data(), rd);
        for (std::size_t i = 0; i < z.size(); ++i) z[i] *= u[i];
    }
    out = matmul(z, n, F, D, w.ffn.w2.data(), w.ffn.b2_data(), rd);
    for (std::size_t i = 0; i < n * D; ++i) x[i] += out[i];
    if constexpr (!pre) norm_rows<typename Block::norm>(w.ffn_norm, x, n, D, rd);
}

// logits (n, vocab) of a language model on tokens: embedding (+ positions), the blocks, the final
// norm and the head (tied to the embedding or its own, with or without bias).
template <class Config>
vec logits(const ctattn::model_weights<Config>& w, const std::vector<ctattn::token_id>& tokens, const reader& rd) {
    using Position = typename Config::position;
    constexpr std::size_t D = Config::d_model, V = Config::vocab;
    const std::size_t n = tokens.size();
    vec x(n * D);
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t i = 0; i < D; ++i) {
            double e = rd(w.embedding.data() + tokens[r] * D + i);
            if constexpr (std::is_same_v<Position, ctattn::sinusoidal_positions>) {
                const double angle = double(r) / std::pow(10000.0, double(i - i % 2) / double(D));
                e += i % 2 == 0 ? std::sin(angle) : std::cos(angle);
            }
            if constexpr (std::is_same_v<Position, ctattn::learned_positions>) e += rd(w.positions.table.data() + r * D + i);
            x[r * D + i] = e;
        }
    ctattn::hana::for_each(ctattn::hana::make_range(ctattn::hana::size_c<0>, ctattn::hana::size_c<Config::layers>),
                           [&](auto l) {
                               using B = typename Config::template block<decltype(l)::value>;
                               block<B, Position>(ctattn::hana::at(w.layers, l), x, n, rd);
                           });
    norm_rows<typename Config::final_norm>(w.final_norm, x, n, D, rd);
    vec out;
    if constexpr (Config::head::tied) {
        out.assign(n * V, 0.0);
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t t = 0; t < V; ++t)
                for (std::size_t i = 0; i < D; ++i) out[r * V + t] += x[r * D + i] * rd(w.embedding.data() + t * D + i);
    } else {
        const float* b = nullptr;
        if constexpr (Config::head::bias) b = w.head.b_out.data();
        out = matmul(x, n, D, V, w.head.w_out.data(), b, rd);
    }
    return out;
}

// Mean cross-entropy over the positions p with targets[p] != ignore.
template <class Config>
double loss(const ctattn::model_weights<Config>& w, const std::vector<ctattn::token_id>& tokens,
            const std::vector<ctattn::token_id>& targets, ctattn::token_id ignore, const reader& rd) {
    constexpr std::size_t V = Config::vocab;
    const vec z = logits(w, tokens, rd);
    double total = 0.0;
    std::size_t scored = 0;
    for (std::size_t r = 0; r < tokens.size(); ++r) {
        if (targets[r] == ignore) continue;
        double max = -1e300, sum = 0.0;
        for (std::size_t t = 0; t < V; ++t) max = std::max(max, z[r * V + t]);
        for (std::size_t t = 0; t < V; ++t) sum += std::exp(z[r * V + t] - max);
        total += std::log(sum) + max - z[r * V + targets[r]];
        ++scored;
    }
    return total / double(scored);
}

}  // namespace ctattn_test::ref
