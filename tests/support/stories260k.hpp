// SPDX-License-Identifier: Apache-2.0
// stories260K (llama2.c's smallest checkpoint, CTATTN_STORIES260K) for the model tests that measure
// a configuration against it: the checkpoint's bytes read once per process, weights loaded into any
// configuration llama2c::load takes (float or Q8), and the two per-position measures every accuracy
// test uses, argmax and log softmax in double.
#pragma once

#include <catch2/catch.hpp>

#include <ctattn/io/llama2c.hpp>
#include <ctattn/model/config.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#ifndef CTATTN_STORIES260K
#define CTATTN_STORIES260K "../shared/models/stories260K.bin"
#endif

namespace ctattn_test {

// stories260K's shape (llama2.c): 5 layers, d_model 64, 8 query heads sharing 4 K/V heads, SwiGLU
// 172, RoPE, RMSNorm, a tied head over 512 tokens, at its trained context of 512 positions.
inline constexpr std::size_t stories260k_vocab = 512, stories260k_positions = 512;
using stories260k_block =
    ctattn::block_config<ctattn::attention_config<64, 8, 4, stories260k_positions, ctattn::no_bias, ctattn::causal_mask>,
                         ctattn::ffn_config<64, ctattn::swiglu, 172>, ctattn::rms_norm<ctattn::eps_1e_minus<5>>,
                         ctattn::pre_norm>;
using stories260k_float =
    ctattn::stacked_model_config<stories260k_vocab, 5, stories260k_block, ctattn::rotary_positions<10000>,
                                 ctattn::rms_norm<ctattn::eps_1e_minus<5>>, ctattn::tied_head>;

// The checkpoint file's bytes, read on first use.
inline const std::vector<unsigned char>& stories260k_bytes() {
    static const std::vector<unsigned char> bytes = [] {
        std::ifstream file(CTATTN_STORIES260K, std::ios::binary);
        INFO("stories260K checkpoint: " << CTATTN_STORIES260K);
        REQUIRE(file.good());
        return std::vector<unsigned char>{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    }();
    return bytes;
}

// The checkpoint loaded into Config's weights (Q8 configurations quantize at load), on the heap.
template <class Config>
std::unique_ptr<ctattn::model_weights<Config>> load_stories260k() {
    const std::vector<unsigned char>& bytes = stories260k_bytes();
    auto w = std::make_unique<ctattn::model_weights<Config>>();
    REQUIRE(ctattn::llama2c::load<Config>(bytes.data(), bytes.size(), *w) == ctattn::status::ok);
    return w;
}

// The first index of the largest of n logits.
inline std::size_t argmax(const float* logits, std::size_t n) {
    std::size_t best = 0;
    for (std::size_t t = 1; t < n; ++t) best = logits[t] > logits[best] ? t : best;
    return best;
}

// log softmax of n logits, in double.
inline std::vector<double> log_softmax(const float* logits, std::size_t n) {
    double max = logits[0], sum = 0.0;
    for (std::size_t t = 1; t < n; ++t) max = std::max(max, double(logits[t]));
    for (std::size_t t = 0; t < n; ++t) sum += std::exp(double(logits[t]) - max);
    const double log_sum = max + std::log(sum);
    std::vector<double> out(n);
    for (std::size_t t = 0; t < n; ++t) out[t] = double(logits[t]) - log_sum;
    return out;
}

// Feeds ids[0 .. stories260k_positions) to a fresh Decoder over w one at a time (teacher forcing);
// every position's logits (positions x vocab). With `greedy`, the model's own argmax extends ids
// instead (ids grows as it goes).
template <class Decoder, class Weights>
std::vector<float> decode_stories260k(const Weights& w, std::vector<ctattn::token_id>& ids, bool greedy) {
    constexpr std::size_t V = stories260k_vocab;
    auto dec = std::make_unique<Decoder>(w);
    std::vector<float> logits(stories260k_positions * V);
    for (std::size_t p = 0; p < stories260k_positions; ++p) {
        REQUIRE(dec->decode_step(ids[p], logits.data() + p * V) == ctattn::status::ok);
        if (greedy && ids.size() == p + 1) ids.push_back(ctattn::token_id(argmax(logits.data() + p * V, V)));
    }
    return logits;
}

}  // namespace ctattn_test
