// SPDX-License-Identifier: Apache-2.0
// Attention for one new token (decode) over a KV cache, one query row (all heads side by side):
//   for each query head h (KV head g = h / group_size):
//     O_h = sum_j softmax_j(q_h . k_j / sqrt(head_dim)) v_j        j in the visible run
// The walk over the heads is written once: the query heads that share a KV head go two at a time
// (a lone one last when group_size is odd), so every loaded key and value element feeds two
// multiply-adds. What runs on each pair is a compile-time kernel:
//   decode_attention         scalar_decode_heads (decode/scalar_heads.hpp): three passes, the
//                            Cortex-M path (VLDM assembly for head_dim 8)
//   vector_decode_attention  vector_decode_heads<Arch> (decode/vector_heads.hpp): keys across
//                            vector lanes, for heads narrower than a vector (head_dim 8)
//   a float16 or int8 cache where row_decode_fits (heads of whole vectors, x86 and AArch64): decode_attention
//                            with row_decode_heads<Arch> (decode/row_heads.hpp), along head_dim
//   an int8 KV cache where simd::target::int8_kv_attention_in_integers (no FPU): either one takes
//                            integer_decode_heads (decode/integer_heads.hpp), fixed point throughout
// Numeric contract (docs/design.md): keys outside the visible run are never read; an empty run
// gives 0; the largest score's weight is 2^0 = 1 exactly, so the sum is >= 1 and finite scores
// give a finite convex combination of the values. A row with a NaN or -inf score, or whose largest
// score is +inf (q . k overflowed: from finite q and k, any non-finite score is an overflow, and a
// -inf one may be the row's largest exact score), is reported (false) and left to the general core
// (attend), which recomputes it in double or applies the contract's rules for non-finite inputs.
// So is a row whose context came out non-finite: the head kernels sum the weights 2^(s_j - m) <= 1
// times the values before dividing by the weights' sum, and finite values above FLT_MAX / 2 under
// two or more weights of 1 (tied top scores) overflow that sum, where the general core's
// normalised weights keep it inside the values' hull.
#pragma once

#include <cstddef>
#include <type_traits>

#include "../../simd/ops.hpp"
#include "../../base/mask.hpp"
#include "integer_heads.hpp"
#include "row_heads.hpp"
#include "scalar_heads.hpp"
#include "vector_heads.hpp"

namespace ctattn::kernels {

namespace detail {
// Whether N floats are all finite: x * 0 is 0 for a finite x and NaN for inf or NaN, so one
// multiply-add per element and one compare (no branch per element).
template <std::size_t N>
inline bool all_finite(const float* x) noexcept {
    float probe = 0.0f;
    for (std::size_t i = 0; i < N; ++i) probe += x[i] * 0.0f;
    return probe == 0.0f;
}
}  // namespace detail

// Query heads taken per pass (a lone head when group_size is odd): the scratch needs this many
// scores per key.
inline constexpr std::size_t decode_heads_per_pass = 2;

// One query row (heads * head_dim floats) against the cached keys and values: KV head g's row j at
// k + g * KvHeadStride + j * KvStride (v the same). visible: the run of keys the query sees (its
// mask's visible_keys); k and v are const float* for a float32 cache or kv_rows for a typed one
// (base/kv_storage.hpp, read row by row: kernels/decode/kv_rows.hpp). scores: scratch of decode_heads_per_pass * visible.end floats. context:
// heads * head_dim floats. Returns false for an irregular row (see the header): the caller then
// runs the general one-row core (attend) for the whole row.
// The head walk, written once: for each KV head g, its query heads in pairs, then the odd one,
// through HeadKernel::attend<Heads, ...>: the scalar path's kernel by default, the vector one for
// vector_decode_attention, the integer one for an int8 cache on a core without an FPU. (The walk
// is this function itself, not a helper it calls: an extra always-inlined level changes GCC's
// register allocation of the whole block at -O2 on Cortex-M, and with it the instruction counts.)
template <std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, std::size_t KvStride,
          std::size_t KvHeadStride = HeadDim, class HeadKernel = detail::scalar_decode_heads, class KvRows>
[[nodiscard]] inline bool decode_attention(const float* q, KvRows k, KvRows v, key_range visible,
                                           float score_scale, float* scores, float* context) noexcept {
    static_assert(Heads % KvHeads == 0, "ctattn: heads must be divisible by kv_heads");
    static_assert(decode_heads_per_pass == 2, "ctattn: the head walk takes query heads in pairs");
    if constexpr (simd::target::int8_kv_attention_in_integers && std::is_same_v<KvRows, kv_rows<kv_int8>> &&
                  detail::integer_decode_heads::fits<HeadDim> && !std::is_same_v<HeadKernel, detail::integer_decode_heads>)
        return decode_attention<Heads, KvHeads, HeadDim, KvStride, KvHeadStride, detail::integer_decode_heads>(
            q, k, v, visible, score_scale, scores, context);
    constexpr std::size_t group = Heads / KvHeads;
    for (std::size_t g = 0; g < KvHeads; ++g) {
        const auto k_head = kv_head_rows<KvHeadStride, KvStride>(k, g);
        const auto v_head = kv_head_rows<KvHeadStride, KvStride>(v, g);
        std::size_t h = g * group;
        for (; h + 2 <= (g + 1) * group; h += 2)
            if (!HeadKernel::template attend<2, HeadDim, HeadDim, KvStride>(q + h * HeadDim, k_head, v_head, visible,
                                                                            score_scale, scores, context + h * HeadDim) ||
                !detail::all_finite<2 * HeadDim>(context + h * HeadDim))
                return false;
        if constexpr (group % 2 == 1)
            if (!HeadKernel::template attend<1, HeadDim, HeadDim, KvStride>(q + h * HeadDim, k_head, v_head, visible,
                                                                            score_scale, scores, context + h * HeadDim) ||
                !detail::all_finite<HeadDim>(context + h * HeadDim))
                return false;
    }
    return true;
}

// Whether decode on Arch takes the vector kernel for head_dim HeadDim (chosen at compile time):
// where K transposes in registers (head_dim 8 on 8- and 16-lane vectors). Other shapes keep the
// one-row core, which vectorises along head_dim and suits wide heads.
template <std::size_t HeadDim, class Arch, std::size_t KvStride = HeadDim>
inline constexpr bool vector_decode_fits =
    simd::width<Arch> > 1 && detail::key_transpose<HeadDim, Arch, KvStride>::in_registers;

// Whether decode over a typed cache (KvRows: kv_rows<kv_float16> or kv_rows<kv_int8>) of head_dim
// HeadDim takes row_decode_heads<Arch> (decode/row_heads.hpp: rows widened in registers, along
// head_dim) through decode_attention: where the key-vectorised kernel does not fit and the head is
// whole vectors of an arch simd/kv_x86.hpp or simd/kv_neon.hpp widens rows for. Elsewhere the
// scalar kernel reads them.
template <std::size_t HeadDim, class Arch, class KvRows>
inline constexpr bool row_decode_fits =
    !vector_decode_fits<HeadDim, Arch> && detail::row_decode_heads<Arch>::template fits<KvRows, HeadDim>;

// decode_attention with keys across Arch's vector lanes (same arguments and contract). A typed
// cache on a Cortex-M with Helium takes Helium's typed passes where they fit (head_dim 8:
// simd/kv_mve.hpp, through vector_decode_heads; the scalar kernel's results bit for bit), else the
// scalar kernel: its float16 and int8 passes (simd/arm_vfp.hpp, simd/kv_arm_dsp.hpp) convert a row
// in registers, where the generic vector chunks convert element by element through a buffer.
template <std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, std::size_t KvStride, std::size_t KvHeadStride,
          class Arch, class KvRows>
[[nodiscard]] inline bool vector_decode_attention(const float* q, KvRows k, KvRows v, key_range visible,
                                                  float score_scale, float* scores, float* context) noexcept {
    if constexpr (!std::is_pointer_v<KvRows> && !detail::typed_rows_on_helium<KvRows, 2, HeadDim, KvStride> &&
                  (simd::target::vfp_asm ||
                   (simd::target::int8_kv_attention_in_integers && std::is_same_v<KvRows, kv_rows<kv_int8>> &&
                    detail::integer_decode_heads::fits<HeadDim>)))
        return decode_attention<Heads, KvHeads, HeadDim, KvStride, KvHeadStride, detail::scalar_decode_heads>(
            q, k, v, visible, score_scale, scores, context);
    else
        return decode_attention<Heads, KvHeads, HeadDim, KvStride, KvHeadStride, detail::vector_decode_heads<Arch>>(
            q, k, v, visible, score_scale, scores, context);
}

}  // namespace ctattn::kernels
