// SPDX-License-Identifier: Apache-2.0
// Double-precision reference of a language model's training loss, for finite-difference checks:
// the formulas of model.hpp / block.hpp written plainly (no ctattn kernels), reading every weight
// through `reader`, which can add an exact double offset to one weight. So
//   (loss(w + h e_i) - loss(w - h e_i)) / 2h
// is a central difference taken entirely in double around the float weights.
// Test-only code: it allocates.
#pragma once

#include <ctattn/model/language_model.hpp>

#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

namespace ctattn_test::train_ref {

using dvec = std::vector<double>;

struct reader {
    const float* perturbed = nullptr;
    double delta = 0.0;
    double operator()(const float* p) const { return double(*p) + (p == perturbed ? delta : 0.0); }
};

// y (rows x dout) = x W (+ b), W read through rd (din x dout, x @ W convention).
inline dvec matmul(const dvec& x, std::size_t rows, std::size_t din, std::size_t dout, const float* w, const float* b,
                   const reader& rd) {
    dvec y(rows * dout, 0.0);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < dout; ++c) {
            double acc = b ? rd(b + c) : 0.0;
            for (std::size_t k = 0; k < din; ++k) acc += x[r * din + k] * rd(w + k * dout + c);
            y[r * dout + c] = acc;
        }
    return y;
}

template <class Norm, class W>
void norm_rows(const W& w, dvec& x, std::size_t rows, std::size_t d, const reader& rd) {
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
        return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    if constexpr (std::is_same_v<Act, ctattn::silu>) return x / (1.0 + std::exp(-x));
}

template <class Position>
void rope(dvec& row_data, std::size_t offset, std::size_t head_dim, std::size_t heads, std::size_t pos) {
    for (std::size_t h = 0; h < heads; ++h)
        for (std::size_t i = 0; i < head_dim; i += 2) {
            const double angle = double(pos) / std::pow(double(Position::theta), double(i) / double(head_dim));
            double* pair = row_data.data() + offset + h * head_dim + i;
            const double x0 = pair[0], x1 = pair[1];
            pair[0] = x0 * std::cos(angle) - x1 * std::sin(angle);
            pair[1] = x0 * std::sin(angle) + x1 * std::cos(angle);
        }
}

template <class Block, class Position>
void block(const ctattn::block_weights<Block>& w, dvec& x, std::size_t n, const reader& rd) {
    using A = typename Block::attention;
    using Fc = typename Block::ffn;
    constexpr std::size_t D = Block::d_model, KV = A::kv_dim, HD = A::head_dim, F = Fc::d_ff;
    constexpr bool pre = Block::placement::norm_first;
    // attention sublayer
    dvec in = x;
    if constexpr (pre) norm_rows<typename Block::norm>(w.attention_norm, in, n, D, rd);
    const auto& a = w.attention;
    dvec q = matmul(in, n, D, D, a.wq.data(), a.q_bias(), rd);
    dvec k = matmul(in, n, D, KV, a.wk.data(), a.k_bias(), rd);
    dvec v = matmul(in, n, D, KV, a.wv.data(), a.v_bias(), rd);
    if constexpr (Position::rotary)
        for (std::size_t r = 0; r < n; ++r) {
            rope<Position>(q, r * D, HD, A::heads, r);
            rope<Position>(k, r * KV, HD, A::kv_heads, r);
        }
    dvec context(n * D, 0.0);
    for (std::size_t h = 0; h < A::heads; ++h) {
        const std::size_t g = h / A::group_size;
        for (std::size_t i = 0; i < n; ++i) {
            const ctattn::key_range vis = A::mask::visible_keys({}, i, n);
            dvec s(n, 0.0);
            double max = -1e300;
            for (std::size_t j = vis.begin; j < vis.end; ++j) {
                double dot = 0.0;
                for (std::size_t d = 0; d < HD; ++d) dot += q[i * D + h * HD + d] * k[j * KV + g * HD + d];
                s[j] = dot / std::sqrt(double(HD));
                max = std::max(max, s[j]);
            }
            double sum = 0.0;
            for (std::size_t j = vis.begin; j < vis.end; ++j) sum += (s[j] = std::exp(s[j] - max));
            for (std::size_t j = vis.begin; j < vis.end; ++j)
                for (std::size_t d = 0; d < HD; ++d) context[i * D + h * HD + d] += s[j] / sum * v[j * KV + g * HD + d];
        }
    }
    dvec out = matmul(context, n, D, D, a.wo.data(), a.o_bias(), rd);
    for (std::size_t i = 0; i < n * D; ++i) x[i] += out[i];
    if constexpr (!pre) norm_rows<typename Block::norm>(w.attention_norm, x, n, D, rd);
    // feed-forward sublayer
    in = x;
    if constexpr (pre) norm_rows<typename Block::norm>(w.ffn_norm, in, n, D, rd);
    dvec z = matmul(in, n, D, F, w.ffn.w1.data(), w.ffn.b1_data(), rd);
    for (double& e : z) e = activation<typename Fc::activation>(e);
    if constexpr (Fc::gated) {
        const dvec u = matmul(in, n, D, F, w.ffn.w3_data(), w.ffn.b3_data(), rd);
        for (std::size_t i = 0; i < z.size(); ++i) z[i] *= u[i];
    }
    out = matmul(z, n, F, D, w.ffn.w2.data(), w.ffn.b2_data(), rd);
    for (std::size_t i = 0; i < n * D; ++i) x[i] += out[i];
    if constexpr (!pre) norm_rows<typename Block::norm>(w.ffn_norm, x, n, D, rd);
}

// Mean cross-entropy over the positions p with targets[p] != ignore.
template <class Config>
double loss(const ctattn::model_weights<Config>& w, const std::vector<ctattn::token_id>& tokens,
            const std::vector<ctattn::token_id>& targets, ctattn::token_id ignore, const reader& rd) {
    using Position = typename Config::position;
    constexpr std::size_t D = Config::d_model, V = Config::vocab;
    const std::size_t n = tokens.size();
    dvec x(n * D);
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
    dvec logits;
    if constexpr (Config::head::tied) {
        logits.assign(n * V, 0.0);
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t t = 0; t < V; ++t)
                for (std::size_t i = 0; i < D; ++i) logits[r * V + t] += x[r * D + i] * rd(w.embedding.data() + t * D + i);
    } else {
        const float* b = nullptr;
        if constexpr (Config::head::bias) b = w.head.b_out.data();
        logits = matmul(x, n, D, V, w.head.w_out.data(), b, rd);
    }
    double total = 0.0;
    std::size_t scored = 0;
    for (std::size_t r = 0; r < n; ++r) {
        if (targets[r] == ignore) continue;
        double max = -1e300, sum = 0.0;
        for (std::size_t t = 0; t < V; ++t) max = std::max(max, logits[r * V + t]);
        for (std::size_t t = 0; t < V; ++t) sum += std::exp(logits[r * V + t] - max);
        total += std::log(sum) + max - logits[r * V + targets[r]];
        ++scored;
    }
    return total / double(scored);
}

}  // namespace ctattn_test::train_ref
