// SPDX-License-Identifier: Apache-2.0
// Every trainable tensor of a model, visited in one fixed order: how gradients are zeroed and how
// an optimiser walks weights, gradients and its own state side by side. Gradient buffers and
// optimiser state are the weights type itself (model_weights<Config>), so the configuration sizes
// them and nothing is allocated.
//   for_each_parameter(f, a, b, ...) calls f(tensor_info, float* a_i, float* b_i, ...) per tensor.
#pragma once

#include "../base/language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstddef>

#include "../model/language_model.hpp"

namespace ctattn::train {

/// One trainable tensor as for_each_parameter reports it.
struct tensor_info {
    const char* name;  ///< "embedding", "wq", "ffn_norm.gain", ... (the member's name)
    int layer;         ///< block index, -1 outside the blocks
    std::size_t size;  ///< floats
    bool matrix;       ///< a 2-D weight (weight decay applies); false for gains and biases
};

namespace detail {
template <class F, class M, class... Ms>
inline void visit_tensor(F& f, const char* name, int layer, bool matrix, M& first, Ms&... rest) {
    f(tensor_info{name, layer, M::size, matrix}, first.data(), rest.data()...);
}

template <class F, class N, class... Ns>
inline void visit_norm(F& f, const char* gain, const char* bias, int layer, N& first, Ns&... rest) {
    if constexpr (requires { first.gain; }) visit_tensor(f, gain, layer, false, first.gain, rest.gain...);
    if constexpr (requires { first.bias; }) visit_tensor(f, bias, layer, false, first.bias, rest.bias...);
}

template <class F, class B, class... Bs>
inline void visit_block(F& f, int layer, B& first, Bs&... rest) {
    visit_norm(f, "attention_norm.gain", "attention_norm.bias", layer, first.attention_norm, rest.attention_norm...);
    visit_tensor(f, "wq", layer, true, first.attention.wq, rest.attention.wq...);
    visit_tensor(f, "wk", layer, true, first.attention.wk, rest.attention.wk...);
    visit_tensor(f, "wv", layer, true, first.attention.wv, rest.attention.wv...);
    visit_tensor(f, "wo", layer, true, first.attention.wo, rest.attention.wo...);
    if constexpr (requires { first.attention.bq; }) {
        visit_tensor(f, "bq", layer, false, first.attention.bq, rest.attention.bq...);
        visit_tensor(f, "bk", layer, false, first.attention.bk, rest.attention.bk...);
        visit_tensor(f, "bv", layer, false, first.attention.bv, rest.attention.bv...);
        visit_tensor(f, "bo", layer, false, first.attention.bo, rest.attention.bo...);
    }
    visit_norm(f, "ffn_norm.gain", "ffn_norm.bias", layer, first.ffn_norm, rest.ffn_norm...);
    visit_tensor(f, "w1", layer, true, first.ffn.w1, rest.ffn.w1...);
    if constexpr (requires { first.ffn.w3; }) visit_tensor(f, "w3", layer, true, first.ffn.w3, rest.ffn.w3...);
    visit_tensor(f, "w2", layer, true, first.ffn.w2, rest.ffn.w2...);
    if constexpr (requires { first.ffn.b1; }) {
        visit_tensor(f, "b1", layer, false, first.ffn.b1, rest.ffn.b1...);
        visit_tensor(f, "b2", layer, false, first.ffn.b2, rest.ffn.b2...);
    }
    if constexpr (requires { first.ffn.b3; }) visit_tensor(f, "b3", layer, false, first.ffn.b3, rest.ffn.b3...);
}
}  // namespace detail

/// a, rest...: model_weights of one configuration (weights, gradients, optimiser moments).
template <model_configuration Config, class F, class... Rest>
inline void for_each_parameter(F&& f, model_weights<Config>& a, Rest&... rest) {
    detail::visit_tensor(f, "embedding", -1, true, a.embedding, rest.embedding...);
    if constexpr (requires { a.positions.table; })
        detail::visit_tensor(f, "positions", -1, true, a.positions.table, rest.positions.table...);
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<Config::layers>), [&](auto i) {
        detail::visit_block(f, int(decltype(i)::value), hana::at(a.layers, i), hana::at(rest.layers, i)...);
    });
    detail::visit_norm(f, "final_norm.gain", "final_norm.bias", -1, a.final_norm, rest.final_norm...);
    if constexpr (requires { a.head.w_out; }) detail::visit_tensor(f, "w_out", -1, true, a.head.w_out, rest.head.w_out...);
    if constexpr (requires { a.head.b_out; }) detail::visit_tensor(f, "b_out", -1, false, a.head.b_out, rest.head.b_out...);
}

/// Sets every tensor of w to 0 (gradients before a step, optimiser state before training).
template <class Weights>
inline void zero_tensors(Weights& w) noexcept {
    for_each_parameter([](const tensor_info& t, float* p) {
        for (std::size_t i = 0; i < t.size; ++i) p[i] = 0.0f;
    }, w);
}

/// Number of trainable floats.
template <class Weights>
inline std::size_t parameter_count(Weights& w) noexcept {
    std::size_t count = 0;
    for_each_parameter([&](const tensor_info& t, float*) { count += t.size; }, w);
    return count;
}

}  // namespace ctattn::train
