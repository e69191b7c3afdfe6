// SPDX-License-Identifier: Apache-2.0
// Shared set-up for the multi-head attention tests: random weights for a configuration and the
// double-precision reference forward pass (tests/reference/forward_double.hpp) on exactly those float weights.
// Test-only code: it may allocate (the library never does).
#pragma once

#include <ctattn/layers/attention.hpp>

#include <cmath>
#include <cstddef>
#include <memory>
#include <random>
#include <vector>

#include "../reference/forward_double.hpp"

namespace ctattn_test {

// Uniform in [-a, a] with a = sqrt(3 / fan_in): unit-variance outputs, as trained layers roughly
// have, so softmax rows are neither one-hot nor flat.
inline void fill_uniform(float* out, std::size_t n, std::size_t fan_in, std::mt19937& rng) {
    const float a = std::sqrt(3.0f / float(fan_in));
    std::uniform_real_distribution<float> dist(-a, a);
    for (std::size_t i = 0; i < n; ++i) out[i] = dist(rng);
}

template <class Config>
std::unique_ptr<ctattn::attention_weights<Config>> random_weights(unsigned seed) {
    auto w = std::make_unique<ctattn::attention_weights<Config>>();
    std::mt19937 rng(seed);
    constexpr std::size_t D = Config::d_model;
    fill_uniform(w->wq.data(), w->wq.size, D, rng);
    fill_uniform(w->wk.data(), w->wk.size, D, rng);
    fill_uniform(w->wv.data(), w->wv.size, D, rng);
    fill_uniform(w->wo.data(), w->wo.size, D, rng);
    if constexpr (Config::bias) {
        fill_uniform(w->bq.data(), w->bq.size, 4, rng);
        fill_uniform(w->bk.data(), w->bk.size, 4, rng);
        fill_uniform(w->bv.data(), w->bv.size, 4, rng);
        fill_uniform(w->bo.data(), w->bo.size, 4, rng);
    }
    return w;
}

template <class Config>
std::vector<float> random_input(std::size_t seq_len, unsigned seed) {
    std::vector<float> x(seq_len * Config::d_model);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& v : x) v = dist(rng);
    return x;
}

template <class M>
ref::vec as_double(const M& m) {
    return ref::vec(m.data(), m.data() + M::size);
}

// The reference forward pass on the same float weights, in double.
template <class Config>
ref::mha_result reference_forward(const ctattn::attention_weights<Config>& w, const float* x, std::size_t seq_len,
                                  ref::mask_kind kind, std::size_t mask_param) {
    const ref::vec xd(x, x + seq_len * Config::d_model);
    const ref::vec wq = as_double(w.wq), wk = as_double(w.wk), wv = as_double(w.wv), wo = as_double(w.wo);
    if constexpr (Config::bias) {
        const ref::vec bq = as_double(w.bq), bk = as_double(w.bk), bv = as_double(w.bv), bo = as_double(w.bo);
        return ref::mha(xd, seq_len, Config::d_model, Config::heads, Config::kv_heads, wq, wk, wv, wo, &bq, &bk, &bv,
                        &bo, kind, mask_param);
    } else {
        return ref::mha(xd, seq_len, Config::d_model, Config::heads, Config::kv_heads, wq, wk, wv, wo, nullptr, nullptr,
                        nullptr, nullptr, kind, mask_param);
    }
}

}  // namespace ctattn_test
