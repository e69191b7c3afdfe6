// SPDX-License-Identifier: Apache-2.0
// Loader for llama2.c's legacy ("version 0") checkpoint format, from a caller-provided byte buffer
// into the weights of a matching compile-time configuration. The file is 7 little-endian int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; vocab_size < 0 means an
// untied classifier follows) then float32 tensors whose matrices are (out, in) row-major because
// llama2.c computes W.x; ctattn's x @ W convention wants (in, out), so each matrix is transposed
// on the way in. The file is untrusted: its sizes are computed with overflow checks in the target's
// size_t, and the header, the size and every weight's finiteness are checked before a single
// weight is written; each failure has its own status (see load). No heap, no file I/O.
// A configuration in the Q8 format (with_weight_format<..., q8_weights<>>) is quantized on the way
// in: the file's (out, in) rows are already the Q8 layout, so each row is quantized in turn.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../base/status.hpp"
#include "../layers/block.hpp"
#include "../layers/ffn.hpp"
#include "../layers/norm.hpp"
#include "../layers/position.hpp"
#include "../kernels/q8_projection.hpp"
#include "../model/language_model.hpp"
#include "checked_size.hpp"
#include "little_endian.hpp"

namespace ctattn::llama2c {

/// The seven int32 fields a llama2.c checkpoint starts with (little-endian), as stored.
struct header {
    std::int32_t dim = 0;         ///< d_model
    std::int32_t hidden_dim = 0;  ///< d_ff, the FFN's hidden width
    std::int32_t n_layers = 0;    ///< transformer blocks
    std::int32_t n_heads = 0;     ///< query heads
    std::int32_t n_kv_heads = 0;  ///< key/value heads (grouped-query attention when fewer than n_heads)
    std::int32_t vocab_size = 0;  ///< negative: the classifier is stored separately (untied)
    std::int32_t seq_len = 0;     ///< the longest sequence the model was trained for
};

inline constexpr std::size_t header_bytes = 7 * sizeof(std::int32_t);

namespace detail {
/// Reads floats in file order (the caller checked the file's size).
struct float_reader {
    io::le_reader file;
    float next() noexcept { return file.f32(); }
    void skip(std::size_t floats) noexcept { file.skip(floats * 4); }
    /// dst[0..n) in file order (vectors: norms, embedding rows).
    void copy(float* dst, std::size_t n) noexcept {
        for (std::size_t i = 0; i < n; ++i) dst[i] = next();
    }
    /// A file matrix (Out, In) row-major into dst (In, Out) row-major: dst[i][o] = file[o][i].
    void copy_transposed(float* dst, std::size_t out_features, std::size_t in_features) noexcept {
        for (std::size_t o = 0; o < out_features; ++o)
            for (std::size_t i = 0; i < in_features; ++i) dst[i * out_features + o] = next();
    }
    /// A file matrix (Out, In) into a projection of the model's format: transposed into a float
    /// (In, Out) matrix, or each row quantized into a Q8 matrix's row (same orientation).
    template <class Matrix>
    void projection(Matrix& dst, std::size_t out_features, std::size_t in_features) noexcept {
        if constexpr (q8_projection_matrix<Matrix>) {
            float row[Matrix::in_features];
            for (std::size_t o = 0; o < out_features; ++o) {
                copy(row, in_features);
                kernels::q8_quantize_row<Matrix>(row, dst.code_row(o), dst.scale_row(o));
            }
        } else {
            copy_transposed(dst.data(), out_features, in_features);
        }
    }
    /// The token embedding (Vocab, D) as stored: copied (float) or quantized row by row (Q8).
    template <class Matrix>
    void embedding(Matrix& dst, std::size_t vocab, std::size_t d_model) noexcept {
        if constexpr (q8_projection_matrix<Matrix>) {
            projection(dst, vocab, d_model);
        } else {
            copy(dst.data(), vocab * d_model);
        }
    }
};

template <class Norm>
inline constexpr bool is_rms_norm = false;
template <class Eps>
inline constexpr bool is_rms_norm<rms_norm<Eps>> = true;

/// What a block must be to hold a llama2.c layer.
template <class Block>
inline constexpr bool llama_block = std::is_same_v<typename Block::placement, pre_norm> &&
                                    !Block::attention::bias && Block::ffn::gated && !Block::ffn::bias &&
                                    std::is_same_v<typename Block::ffn::activation, silu> &&
                                    is_rms_norm<typename Block::norm>;
template <class LayerList>
struct uniform_llama_layers;
template <class First, class... Rest>
struct uniform_llama_layers<hana::tuple<First, Rest...>> {
    static constexpr bool llama = llama_block<First> && (llama_block<Rest> && ...);
    static constexpr bool uniform = ((Rest::attention::heads == First::attention::heads &&
                                      Rest::attention::kv_heads == First::attention::kv_heads &&
                                      Rest::d_ff == First::d_ff) && ...);
    using first = First;
};
}  // namespace detail

/// The header, or status::truncated if the buffer is too short to hold one.
[[nodiscard]] inline status read_header(const unsigned char* bytes, std::size_t size, header& out) noexcept {
    if (bytes == nullptr) return status::invalid_argument;
    if (size < header_bytes) return status::truncated;
    io::le_reader in{bytes, size};
    header h;
    h.dim = in.i32();
    h.hidden_dim = in.i32();
    h.n_layers = in.i32();
    h.n_heads = in.i32();
    h.n_kv_heads = in.i32();
    h.vocab_size = in.i32();
    h.seq_len = in.i32();
    out = h;
    return status::ok;
}

/// Whether the fields can describe a llama2.c model at all: every count positive, heads dividing
/// dim, kv heads dividing heads (so n_kv_heads <= n_heads). status::bad_header otherwise.
[[nodiscard]] constexpr status check_header(const header& h) noexcept {
    if (h.dim <= 0 || h.hidden_dim <= 0 || h.n_layers <= 0 || h.n_heads <= 0 || h.n_kv_heads <= 0 ||
        h.seq_len <= 0 || h.vocab_size == 0 || h.vocab_size == INT32_MIN)
        return status::bad_header;
    if (h.dim % h.n_heads != 0 || h.n_kv_heads > h.n_heads || h.n_heads % h.n_kv_heads != 0) return status::bad_header;
    return status::ok;
}

/// File size a header implies, computed in the unsigned type Size with every product and sum
/// checked: status::size_overflow when it does not fit Size (so a 32-bit target rejects a header
/// whose size wraps its size_t instead of reading a wrapped, small size), bad_header as
/// check_header. Size defaults to the target's size_t; the tests instantiate std::uint32_t on the
/// host to check what a Cortex-M computes. `bytes` is written only on ok.
template <std::unsigned_integral Size = std::size_t>
[[nodiscard]] constexpr status checkpoint_size(const header& h, Size& bytes) noexcept {
    if (const status s = check_header(h); s != status::ok) return s;
    using n = io::checked_size<Size>;
    const n D = n::from_field(h.dim), F = n::from_field(h.hidden_dim), L = n::from_field(h.n_layers);
    const n V = n::from_field(h.vocab_size < 0 ? -std::int64_t(h.vocab_size) : std::int64_t(h.vocab_size));
    const n head_dim = n::from_field(h.dim / h.n_heads), kv_dim = n::from_field(h.n_kv_heads) * head_dim;
    const n rope_half = n::from_field((h.dim / h.n_heads) / 2);
    n floats = V * D                                   // token_embedding
               + L * D                                 // rms_att
               + L * D * D + n(2) * L * kv_dim * D + L * D * D  // wq, wk, wv, wo
               + L * D                                 // rms_ffn
               + n(3) * L * F * D                      // w1, w2, w3
               + D                                     // rms_final
               + n(2) * n::from_field(h.seq_len) * rope_half;  // freq_cis_real, freq_cis_imag: seq_len x head_dim/2 each
    if (h.vocab_size < 0) floats += V * D;             // wcls
    const n total = n(Size(header_bytes)) + floats * n(Size(sizeof(float)));
    if (!total.ok()) return status::size_overflow;
    bytes = total.value();
    return status::ok;
}

/// File size implied by a header on this target, or 0 if the header is nonsense or its size
/// overflows size_t (checkpoint_size says which).
[[nodiscard]] constexpr std::size_t checkpoint_bytes(const header& h) noexcept {
    std::size_t bytes = 0;
    return checkpoint_size(h, bytes) == status::ok ? bytes : 0;
}

/// One pass over n little-endian float32 at p (any alignment): true when every one is finite.
/// The test is on the bits (exponent all ones is inf or NaN), so it also holds under -ffast-math,
/// and it has no early exit, so compilers vectorise it (the cost is in docs/model.md).
[[nodiscard]] inline bool all_finite(const unsigned char* p, std::size_t n) noexcept {
    std::uint32_t non_finite = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t u = io::read_u32_le(p + 4 * i);
        non_finite |= std::uint32_t((u & 0x7f800000u) == 0x7f800000u);
    }
    return non_finite == 0;
}

/// Whether a checkpoint with this header fits the configuration's shapes and head kind.
template <model_configuration Config>
[[nodiscard]] constexpr bool matches(const header& h) noexcept {
    using layers = detail::uniform_llama_layers<typename Config::template per_layer<std::type_identity_t>>;
    using A = typename layers::first::attention;
    const std::size_t vocab = std::size_t(h.vocab_size < 0 ? -std::int64_t(h.vocab_size) : h.vocab_size);
    return h.dim == std::int32_t(Config::d_model) && h.hidden_dim == std::int32_t(layers::first::d_ff) &&
           h.n_layers == std::int32_t(Config::layers) && h.n_heads == std::int32_t(A::heads) &&
           h.n_kv_heads == std::int32_t(A::kv_heads) && vocab == Config::vocab &&
           (h.vocab_size > 0) == Config::head::tied;
}

/// Loads a whole checkpoint (bytes[0..size)) into w. Everything is checked before the first weight
/// is written, and on any failure w is untouched:
///   invalid_argument  bytes is null
///   truncated         size is less than the header, or less than the header implies
///   bad_header        fields contradict each other (check_header)
///   size_overflow     the implied size does not fit this target's size_t (checkpoint_size)
///   config_mismatch   a sound header for a different shape than Config
///   format_error      bytes follow the last tensor
///   non_finite        a weight is NaN or +-inf (one pass over the file, all_finite)
/// Into a Q8 configuration, every projection row and embedding row is quantized (amax / 127 per
/// group, kernels::q8_quantize_row); finite weights always give finite scales, so the checks above
/// are the whole list.
template <model_configuration Config>
[[nodiscard]] status load(const unsigned char* bytes, std::size_t size, model_weights<Config>& w) noexcept {
    using layers = detail::uniform_llama_layers<typename Config::template per_layer<std::type_identity_t>>;
    static_assert(layers::llama, "ctattn: a llama2.c checkpoint needs pre_norm blocks with rms_norm, no attention "
                                 "bias and a swiglu FFN (gated_ffn<silu, false>)");
    static_assert(layers::uniform, "ctattn: a llama2.c checkpoint has the same heads, kv_heads and d_ff in every layer");
    static_assert(Config::position::rotary, "ctattn: llama2.c models use rotary_positions<10000>");
    static_assert(detail::is_rms_norm<typename Config::final_norm>,
                  "ctattn: llama2.c models end with an rms_norm");
    static_assert(Config::head::tied || !Config::head::bias, "ctattn: llama2.c classifiers have no bias");

    header h;
    if (const status s = read_header(bytes, size, h); s != status::ok) return s;
    std::size_t expected = 0;
    if (const status s = checkpoint_size(h, expected); s != status::ok) return s;
    if (!matches<Config>(h)) return status::config_mismatch;
    if (size < expected) return status::truncated;
    if (size > expected) return status::format_error;
    if (!all_finite(bytes + header_bytes, (size - header_bytes) / 4)) return status::non_finite;

    constexpr std::size_t D = Config::d_model, V = Config::vocab;
    constexpr std::size_t F = layers::first::d_ff, kv_dim = layers::first::attention::kv_dim;
    constexpr std::size_t head_dim = layers::first::attention::head_dim;
    detail::float_reader in{io::le_reader{bytes, size, header_bytes}};
    constexpr auto each_layer = hana::make_range(hana::size_c<0>, hana::size_c<Config::layers>);

    in.embedding(w.embedding, V, D);
    hana::for_each(each_layer, [&](auto l) { in.copy(hana::at(w.layers, l).attention_norm.gain.data(), D); });
    hana::for_each(each_layer, [&](auto l) { in.projection(hana::at(w.layers, l).attention.wq, D, D); });
    hana::for_each(each_layer, [&](auto l) { in.projection(hana::at(w.layers, l).attention.wk, kv_dim, D); });
    hana::for_each(each_layer, [&](auto l) { in.projection(hana::at(w.layers, l).attention.wv, kv_dim, D); });
    hana::for_each(each_layer, [&](auto l) { in.projection(hana::at(w.layers, l).attention.wo, D, D); });
    hana::for_each(each_layer, [&](auto l) { in.copy(hana::at(w.layers, l).ffn_norm.gain.data(), D); });
    hana::for_each(each_layer, [&](auto l) { in.projection(hana::at(w.layers, l).ffn.w1, F, D); });
    hana::for_each(each_layer, [&](auto l) { in.projection(hana::at(w.layers, l).ffn.w2, D, F); });
    hana::for_each(each_layer, [&](auto l) { in.projection(hana::at(w.layers, l).ffn.w3, F, D); });
    in.copy(w.final_norm.gain.data(), D);
    in.skip(std::size_t(h.seq_len) * head_dim);  // precomputed RoPE tables: unused, ctattn computes RoPE
    if constexpr (!Config::head::tied) in.projection(w.head.w_out, V, D);
    return status::ok;
}

}  // namespace ctattn::llama2c
