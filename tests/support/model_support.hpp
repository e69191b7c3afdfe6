// SPDX-License-Identifier: Apache-2.0
// Shared by the model tests: error measures against reference arrays, copying golden arrays into
// fixed-size weights, and deterministic random weights for whole models.
// Test-only code: it may allocate (the library never does).
#pragma once

#include <catch2/catch.hpp>

#include <ctattn/model/decoder.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "golden.hpp"

namespace ctattn_test {

// Two error measures per array (as in the attention golden tests):
//   rel:  largest |got - want| / |want| over elements with |want| >= 1e-3 of the array's largest
//         magnitude (smaller ones are cancellation noise, set by the error of their neighbours);
//   norm: max |got - want| / max |want|.
struct error_summary {
    double rel = 0.0;
    double norm = 0.0;
    double max_abs = 0.0;
};

template <class Want>
error_summary summarise(const float* got, const Want& want, std::size_t n) {
    double max_want = 0.0;
    for (std::size_t i = 0; i < n; ++i) max_want = std::max(max_want, std::abs(double(want[i])));
    error_summary s;
    for (std::size_t i = 0; i < n; ++i) {
        const double err = std::abs(double(got[i]) - double(want[i]));
        if (std::isnan(err)) return {INFINITY, INFINITY, INFINITY};
        s.max_abs = std::max(s.max_abs, err);
        if (std::abs(double(want[i])) >= 1e-3 * max_want) s.rel = std::max(s.rel, err / std::abs(double(want[i])));
    }
    s.norm = max_want > 0.0 ? s.max_abs / max_want : s.max_abs;
    return s;
}

inline void print_errors(const std::string& case_name, const std::string& array, const error_summary& s) {
    std::printf("golden %-36s %-7s largest rel %.3e  norm %.3e  abs %.3e\n", case_name.c_str(), array.c_str(), s.rel,
                s.norm, s.max_abs);
}

template <class M>
void copy_array(const golden_case& gc, const std::string& name, M& dest) {
    INFO("array " << name);
    REQUIRE(gc.has(name));
    REQUIRE(gc.at(name).size() == M::size);
    for (std::size_t i = 0; i < M::size; ++i) dest[i] = static_cast<float>(gc.at(name)[i]);
}

// An encoder-style block (torch.nn.TransformerEncoderLayer naming) from a golden case.
template <class Block>
void load_encoder_block(const golden_case& gc, const std::string& prefix, ctattn::block_weights<Block>& w) {
    copy_array(gc, prefix + "wq", w.attention.wq);
    copy_array(gc, prefix + "wk", w.attention.wk);
    copy_array(gc, prefix + "wv", w.attention.wv);
    copy_array(gc, prefix + "wo", w.attention.wo);
    copy_array(gc, prefix + "bq", w.attention.bq);
    copy_array(gc, prefix + "bk", w.attention.bk);
    copy_array(gc, prefix + "bv", w.attention.bv);
    copy_array(gc, prefix + "bo", w.attention.bo);
    copy_array(gc, prefix + "w1", w.ffn.w1);
    copy_array(gc, prefix + "b1", w.ffn.b1);
    copy_array(gc, prefix + "w2", w.ffn.w2);
    copy_array(gc, prefix + "b2", w.ffn.b2);
    copy_array(gc, prefix + "ln1_g", w.attention_norm.gain);
    copy_array(gc, prefix + "ln1_b", w.attention_norm.bias);
    copy_array(gc, prefix + "ln2_g", w.ffn_norm.gain);
    copy_array(gc, prefix + "ln2_b", w.ffn_norm.bias);
}

// A llama block (llama2.c naming) from a golden case.
template <class Block>
void load_llama_block(const golden_case& gc, const std::string& prefix, ctattn::block_weights<Block>& w) {
    copy_array(gc, prefix + "attn_norm", w.attention_norm.gain);
    copy_array(gc, prefix + "wq", w.attention.wq);
    copy_array(gc, prefix + "wk", w.attention.wk);
    copy_array(gc, prefix + "wv", w.attention.wv);
    copy_array(gc, prefix + "wo", w.attention.wo);
    copy_array(gc, prefix + "ffn_norm", w.ffn_norm.gain);
    copy_array(gc, prefix + "w1", w.ffn.w1);
    copy_array(gc, prefix + "w3", w.ffn.w3);
    copy_array(gc, prefix + "w2", w.ffn.w2);
}

// The two-layer llama golden case (llama_v64_s10_e32_h4_kv2_l2: embedding, blocks l0. and l1.,
// final norm, untied head w_cls) into a float model of Config, on the heap.
template <class Config>
std::unique_ptr<ctattn::model_weights<Config>> load_llama_two_layers(const golden_case& gc) {
    static_assert(Config::layers == 2, "load_llama_two_layers: the golden case has blocks l0. and l1.");
    auto w = std::make_unique<ctattn::model_weights<Config>>();
    copy_array(gc, "embedding", w->embedding);
    load_llama_block(gc, "l0.", w->template layer<0>());
    load_llama_block(gc, "l1.", w->template layer<1>());
    copy_array(gc, "final_norm", w->final_norm.gain);
    copy_array(gc, "w_cls", w->head.w_out);
    return w;
}

inline std::vector<ctattn::token_id> golden_tokens(const golden_case& gc) {
    REQUIRE(gc.has("tokens"));
    std::vector<ctattn::token_id> tokens;
    for (double t : gc.at("tokens").values) tokens.push_back(static_cast<ctattn::token_id>(t));
    return tokens;
}

// ---- deterministic random weights ---------------------------------------------------------

// Uniform in [-a, a], a = sqrt(3 / fan_in): unit-variance projections, so attention rows are
// neither one-hot nor flat and the residual stream keeps a sane scale through the layers.
template <class M>
void fill_uniform(M& m, std::size_t fan_in, std::mt19937& rng) {
    const float a = std::sqrt(3.0f / float(fan_in));
    std::uniform_real_distribution<float> dist(-a, a);
    for (std::size_t i = 0; i < M::size; ++i) m[i] = dist(rng);
}
// Norm gains near 1, biases near 0, like trained norms.
template <class M>
void fill_around(M& m, float centre, float spread, std::mt19937& rng) {
    std::uniform_real_distribution<float> dist(centre - spread, centre + spread);
    for (std::size_t i = 0; i < M::size; ++i) m[i] = dist(rng);
}

template <class NormWeights>
void fill_norm(NormWeights& n, std::mt19937& rng) {
    if constexpr (requires { n.gain; }) fill_around(n.gain, 1.0f, 0.2f, rng);
    if constexpr (requires { n.bias; }) fill_around(n.bias, 0.0f, 0.1f, rng);
}

template <class Block>
void fill_block(ctattn::block_weights<Block>& w, std::mt19937& rng) {
    constexpr std::size_t D = Block::d_model, F = Block::d_ff;
    fill_uniform(w.attention.wq, D, rng);
    fill_uniform(w.attention.wk, D, rng);
    fill_uniform(w.attention.wv, D, rng);
    fill_uniform(w.attention.wo, D, rng);
    if constexpr (Block::attention::bias) {
        fill_around(w.attention.bq, 0.0f, 0.1f, rng);
        fill_around(w.attention.bk, 0.0f, 0.1f, rng);
        fill_around(w.attention.bv, 0.0f, 0.1f, rng);
        fill_around(w.attention.bo, 0.0f, 0.1f, rng);
    }
    fill_uniform(w.ffn.w1, D, rng);
    fill_uniform(w.ffn.w2, F, rng);
    if constexpr (Block::ffn::gated) fill_uniform(w.ffn.w3, D, rng);
    if constexpr (Block::ffn::bias) {
        fill_around(w.ffn.b1, 0.0f, 0.1f, rng);
        fill_around(w.ffn.b2, 0.0f, 0.1f, rng);
        if constexpr (Block::ffn::gated) fill_around(w.ffn.b3, 0.0f, 0.1f, rng);
    }
    fill_norm(w.attention_norm, rng);
    fill_norm(w.ffn_norm, rng);
}

// Heap-allocated (tests may allocate) so large configurations do not overflow the stack.
template <class Config>
std::unique_ptr<ctattn::model_weights<Config>> random_model(unsigned seed) {
    auto w = std::make_unique<ctattn::model_weights<Config>>();
    std::mt19937 rng(seed);
    constexpr std::size_t D = Config::d_model;
    fill_around(w->embedding, 0.0f, 1.0f, rng);
    if constexpr (requires { w->positions.table; }) fill_around(w->positions.table, 0.0f, 0.5f, rng);
    ctattn::hana::for_each(w->layers, [&](auto& layer) { fill_block(layer, rng); });
    fill_norm(w->final_norm, rng);
    if constexpr (requires { w->head.w_out; }) fill_uniform(w->head.w_out, D, rng);
    if constexpr (requires { w->head.b_out; }) fill_around(w->head.b_out, 0.0f, 0.1f, rng);
    return w;
}

inline std::vector<ctattn::token_id> random_tokens(std::size_t n, std::size_t vocab, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> dist(0, vocab - 1);
    std::vector<ctattn::token_id> tokens(n);
    for (auto& t : tokens) t = static_cast<ctattn::token_id>(dist(rng));
    return tokens;
}

}  // namespace ctattn_test
