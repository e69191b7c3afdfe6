// SPDX-License-Identifier: Apache-2.0
// A model's weights as one contiguous image of floats, already in the layout the kernels read
// (x @ W: every projection is (in, out) row-major), and the view that reads it in place:
//   image = tensor_0 | pad | tensor_1 | pad | ...   each tensor starts at a multiple of 16 floats
// in the canonical order of for_each_tensor below (padding is zeros). The same image is what
// tools/ctattn_gen.py writes as `const` arrays for flash and what a blob's payload holds.
//
// Building a view:
//   from constant arrays (flash), a constant expression that lands in .rodata:
//     extern const float image[ctattn::weights_image_floats<cfg>];
//     constexpr ctattn::model_weights_view<cfg> weights = ctattn::make_weights_view<cfg>(image);
//   from a contiguous blob (after validating it: size >= weights_image_floats<cfg> floats, float
//   alignment, finite values), at run time, no copy:
//     const auto weights = ctattn::make_weights_view<cfg>(reinterpret_cast<const float*>(payload));
//   then ctattn::decoder<cfg, arch, 1, ctattn::viewed_weights> dec; dec.attach(weights);
//   (language_model<cfg>::forward takes the view too).
// Canonical order: embedding (vocab, d_model); learned positions (capacity, d_model); per layer,
// bottom first: attention_norm gain (, bias), wq (d, d), wk (d, kv), wv (d, kv), wo (d, d),
// [bq, bk, bv, bo], ffn_norm gain (, bias), w1 (d, ff), [w3 (d, ff)], w2 (ff, d), [b1, b3, b2];
// final_norm gain (, bias); untied head w_out (d, vocab) [, b_out]. Absent tensors take no room.
//
// A quantized configuration (with_weight_format<cfg, q8_weights<>>) has two images, both in the
// same canonical order: the float image above, in which each Q8 tensor is its scales (out, groups),
// and a code image of int8 in which each Q8 tensor is its codes (out, row_codes), also starting at
// multiples of 64 bytes. A float configuration's code image is empty (weights_image_codes is 0).
//     extern const float image[ctattn::weights_image_floats<cfg>];
//     extern const std::int8_t codes[ctattn::weights_image_codes<cfg>];
//     constexpr ctattn::model_weights_view<cfg> weights = ctattn::make_weights_view<cfg>(image, codes);
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "language_model.hpp"
#include <boost/hana/length.hpp>

#include "../base/weight_storage.hpp"

namespace ctattn {

/// Passed to for_each_tensor's callback for tensors outside the layer stack.
inline constexpr std::size_t model_level_tensor = ~std::size_t(0);

namespace detail {
template <class Norm, class F>
constexpr void visit_norm(Norm& n, const char* gain_name, const char* bias_name, std::size_t layer, F& f) {
    if constexpr (requires { n.gain; }) f(n.gain, gain_name, layer);
    if constexpr (requires { n.bias; }) f(n.bias, bias_name, layer);
}

template <class Attention, class F>
constexpr void visit_attention(Attention& a, std::size_t layer, F& f) {
    f(a.wq, "attention.wq", layer);
    f(a.wk, "attention.wk", layer);
    f(a.wv, "attention.wv", layer);
    f(a.wo, "attention.wo", layer);
    if constexpr (requires { a.bq; }) {
        f(a.bq, "attention.bq", layer);
        f(a.bk, "attention.bk", layer);
        f(a.bv, "attention.bv", layer);
        f(a.bo, "attention.bo", layer);
    }
}

template <class Ffn, class F>
constexpr void visit_ffn(Ffn& w, std::size_t layer, F& f) {
    f(w.w1, "ffn.w1", layer);
    if constexpr (requires { w.w3; }) f(w.w3, "ffn.w3", layer);
    f(w.w2, "ffn.w2", layer);
    if constexpr (requires { w.b1; }) f(w.b1, "ffn.b1", layer);
    if constexpr (requires { w.b3; }) f(w.b3, "ffn.b3", layer);
    if constexpr (requires { w.b2; }) f(w.b2, "ffn.b2", layer);
}
}  // namespace detail

/// Calls f(tensor, name, layer) for every tensor of w (owned or view, const or not) in the
/// canonical order; tensor has .data() and static rows, cols, size, or is a Q8 matrix
/// (q8_projection_matrix: codes, scales). layer is model_level_tensor outside the layer stack.
template <class Weights, class F>
constexpr void for_each_tensor(Weights& w, F&& f) {
    constexpr std::size_t top = model_level_tensor;
    f(w.embedding, "embedding", top);
    if constexpr (requires { w.positions.table; }) f(w.positions.table, "positions", top);
    hana::for_each(hana::make_range(hana::size_c<0>, hana::size_c<decltype(hana::length(w.layers))::value>),
                   [&](auto i) {
                       auto& layer = hana::at(w.layers, i);
                       constexpr std::size_t l = decltype(i)::value;
                       detail::visit_norm(layer.attention_norm, "attention_norm.gain", "attention_norm.bias", l, f);
                       detail::visit_attention(layer.attention, l, f);
                       detail::visit_norm(layer.ffn_norm, "ffn_norm.gain", "ffn_norm.bias", l, f);
                       detail::visit_ffn(layer.ffn, l, f);
                   });
    detail::visit_norm(w.final_norm, "final_norm.gain", "final_norm.bias", top, f);
    if constexpr (requires { w.head.w_out; }) f(w.head.w_out, "head.w_out", top);
    if constexpr (requires { w.head.b_out; }) f(w.head.b_out, "head.b_out", top);
}

/// Int8 codes of a code-image tensor start at multiples of 64 (a cache line, an AVX-512 vector).
inline constexpr std::size_t weight_tensor_alignment_codes = 64;
/// `codes` rounded up to a multiple of weight_tensor_alignment_codes.
constexpr std::size_t padded_tensor_codes(std::size_t codes) noexcept {
    return (codes + weight_tensor_alignment_codes - 1) / weight_tensor_alignment_codes * weight_tensor_alignment_codes;
}

/// Floats in the image of a configuration (tensors and their padding; a Q8 tensor's scales).
template <model_configuration Config>
inline constexpr std::size_t weights_image_floats = [] {
    model_weights_view<Config> shapes{};
    std::size_t floats = 0;
    for_each_tensor(shapes, [&](auto& t, const char*, std::size_t) {
        using T = std::remove_cvref_t<decltype(t)>;
        if constexpr (q8_projection_matrix<T>) floats += padded_tensor_floats(T::scale_count);
        else floats += padded_tensor_floats(T::size);
    });
    return floats;
}();

/// Int8 codes in the code image of a configuration (0 for float formats).
template <model_configuration Config>
inline constexpr std::size_t weights_image_codes = [] {
    model_weights_view<Config> shapes{};
    std::size_t codes = 0;
    for_each_tensor(shapes, [&](auto& t, const char*, std::size_t) {
        using T = std::remove_cvref_t<decltype(t)>;
        if constexpr (q8_projection_matrix<T>) codes += padded_tensor_codes(T::code_count);
    });
    return codes;
}();

/// A view whose tensors point into image[0 .. weights_image_floats<Config>) (and, for a quantized
/// format, codes[0 .. weights_image_codes<Config>)): constexpr for constant arrays, or at run time
/// over a validated blob. Nothing is copied or checked here.
template <model_configuration Config>
[[nodiscard]] constexpr model_weights_view<Config> make_weights_view(const float* image,
                                                                     const std::int8_t* codes = nullptr) noexcept {
    model_weights_view<Config> view{};
    std::size_t offset = 0, code_offset = 0;
    for_each_tensor(view, [&](auto& t, const char*, std::size_t) {
        using T = std::remove_cvref_t<decltype(t)>;
        if constexpr (q8_projection_matrix<T>) {
            t.scales = image + offset;
            offset += padded_tensor_floats(T::scale_count);
            t.codes = codes + code_offset;
            code_offset += padded_tensor_codes(T::code_count);
        } else {
            t.values = image + offset;
            offset += padded_tensor_floats(T::size);
        }
    });
    return view;
}

/// The image of weights that live in memory (owned, e.g. from llama2c::load, or another view):
/// what the generator writes at build time, done in C++ for tests and host tools.
/// image: weights_image_floats<Config> floats; codes: weights_image_codes<Config> int8 (quantized
/// formats only).
template <model_configuration Config, class Storage>
void write_weights_image(const model_weights<Config, Storage>& w, float* image, std::int8_t* codes = nullptr) noexcept {
    std::size_t offset = 0, code_offset = 0;
    auto put = [&](const float* values, std::size_t n) {
        std::size_t i = 0;
        for (; i < n; ++i) image[offset + i] = values[i];
        for (; i < padded_tensor_floats(n); ++i) image[offset + i] = 0.0f;
        offset += padded_tensor_floats(n);
    };
    for_each_tensor(w, [&](const auto& t, const char*, std::size_t) {
        using T = std::remove_cvref_t<decltype(t)>;
        if constexpr (q8_projection_matrix<T>) {
            put(t.scale_row(0), T::scale_count);
            const std::int8_t* values = t.code_row(0);
            std::size_t i = 0;
            for (; i < T::code_count; ++i) codes[code_offset + i] = values[i];
            for (; i < padded_tensor_codes(T::code_count); ++i) codes[code_offset + i] = 0;
            code_offset += padded_tensor_codes(T::code_count);
        } else {
            put(t.data(), T::size);
        }
    });
}

}  // namespace ctattn
