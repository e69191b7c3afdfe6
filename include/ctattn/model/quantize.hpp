// SPDX-License-Identifier: Apache-2.0
// Quantizes a float model's weights into the same configuration in another weight format
// (base/weight_format.hpp), on the host: every projection W (Din x Dout, x @ W) becomes Dout Q8 rows
// of Din codes (column o of W is row o), the embedding's rows are quantized as they are, and every
// other tensor (norm gains and biases, projection biases, learned positions) is copied unchanged.
// The rounding is the activations' (kernels::q8_quantize_row: s = max|w| / 127 per group, codes
// round(w / s)), llama2.c runq.c's quantize().
#pragma once

#include <cstddef>

#include <boost/hana/for_each.hpp>
#include <boost/hana/range.hpp>

#include "../base/weight_format.hpp"
#include "../kernels/q8_projection.hpp"
#include "language_model.hpp"

namespace ctattn {

namespace detail {
// One tensor of the float model into the same tensor of the target format.
template <class Source, class Target>
void convert_tensor(const Source& source, Target& target) noexcept {
    if constexpr (q8_projection_matrix<Target>) {
        static_assert(Source::rows == Target::in_features && Source::cols == Target::out_features,
                      "ctattn: quantize: a float projection (Din x Dout) must become a Q8 matrix of Din -> Dout");
        float column[Target::in_features];
        for (std::size_t o = 0; o < Target::out_features; ++o) {
            for (std::size_t i = 0; i < Target::in_features; ++i) column[i] = source(i, o);
            kernels::q8_quantize_row<Target>(column, target.code_row(o), target.scale_row(o));
        }
    } else {
        static_assert(Source::size == Target::size, "ctattn: quantize: a float tensor keeps its shape");
        for (std::size_t i = 0; i < Source::size; ++i) target[i] = source[i];
    }
}
// The embedding is stored (vocab, d_model): its rows are already Q8 rows of d_model inputs.
template <class Source, class Target>
void convert_embedding(const Source& source, Target& target) noexcept {
    if constexpr (q8_projection_matrix<Target>) {
        for (std::size_t t = 0; t < Target::out_features; ++t)
            kernels::q8_quantize_row<Target>(source.row(t), target.code_row(t), target.scale_row(t));
    } else {
        convert_tensor(source, target);
    }
}
template <class Source, class Target>
void convert_norm(const Source& source, Target& target) noexcept {
    if constexpr (requires { target.gain; }) convert_tensor(source.gain, target.gain);
    if constexpr (requires { target.bias; }) convert_tensor(source.bias, target.bias);
}
}  // namespace detail

/// target = source in Format: projections and the embedding quantized (or copied for
/// float32_weights), every other tensor copied. source is a float model of Config (owned or a view);
/// target's configuration is Config with that format (with_weight_format<Config, Format>).
template <model_configuration Config, class Storage, weight_format_policy Format>
void quantize_weights(const model_weights<Config, Storage>& source,
                      model_weights<with_weight_format<Config, Format>>& target) noexcept {
    static_assert(!weight_format_of<Config>::quantized, "ctattn: quantize_weights reads a float model");
    detail::convert_embedding(source.embedding, target.embedding);
    if constexpr (requires { target.positions.table; }) detail::convert_tensor(source.positions.table, target.positions.table);
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<Config::layers>), [&](auto l) {
        const auto& from = hana::at(source.layers, l);
        auto& to = hana::at(target.layers, l);
        detail::convert_norm(from.attention_norm, to.attention_norm);
        detail::convert_norm(from.ffn_norm, to.ffn_norm);
        detail::convert_tensor(from.attention.wq, to.attention.wq);
        detail::convert_tensor(from.attention.wk, to.attention.wk);
        detail::convert_tensor(from.attention.wv, to.attention.wv);
        detail::convert_tensor(from.attention.wo, to.attention.wo);
        if constexpr (requires { to.attention.bq; }) {
            detail::convert_tensor(from.attention.bq, to.attention.bq);
            detail::convert_tensor(from.attention.bk, to.attention.bk);
            detail::convert_tensor(from.attention.bv, to.attention.bv);
            detail::convert_tensor(from.attention.bo, to.attention.bo);
        }
        detail::convert_tensor(from.ffn.w1, to.ffn.w1);
        detail::convert_tensor(from.ffn.w2, to.ffn.w2);
        if constexpr (requires { to.ffn.w3; }) detail::convert_tensor(from.ffn.w3, to.ffn.w3);
        if constexpr (requires { to.ffn.b1; }) detail::convert_tensor(from.ffn.b1, to.ffn.b1);
        if constexpr (requires { to.ffn.b2; }) detail::convert_tensor(from.ffn.b2, to.ffn.b2);
        if constexpr (requires { to.ffn.b3; }) detail::convert_tensor(from.ffn.b3, to.ffn.b3);
    });
    detail::convert_norm(source.final_norm, target.final_norm);
    if constexpr (requires { target.head.w_out; }) detail::convert_tensor(source.head.w_out, target.head.w_out);
    if constexpr (requires { target.head.b_out; }) detail::convert_tensor(source.head.b_out, target.head.b_out);
}

}  // namespace ctattn
