// SPDX-License-Identifier: Apache-2.0
// Decode over float16 and int8 KV caches on vector arches, where rows are widened to floats in
// registers (simd/kv_x86.hpp, simd/kv_neon.hpp): the key-vectorised kernel (kernels/decode/
// vector_heads.hpp, its typed chunks: register transposes for head_dim 8 on 8 and 16 lanes, the
// stack tile elsewhere) and the row kernel for heads of whole vectors (kernels/decode/row_heads.hpp),
// against a double reference over the stored rows (software half conversion, codes times scales),
// at head_dim 1, 3, 4, 8, 13, 16, 24, 48, lone and paired heads, runs that end inside a chunk and
// start past 0, and rows outside the run holding NaN (never read). On the 8-lane arch a float16
// cache gives bit for bit what a float32 cache of the same (half) values gives.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <ctattn/kernels/decode/attention.hpp>

namespace {
using namespace ctattn;
constexpr std::size_t capacity = 120;  // rows per KV head (KvHeadStride = capacity * head_dim)

template <class S>
struct typed_cache {
    std::vector<typename S::element> values;
    std::vector<typename S::scale> scales;
    kv_rows<S> rows() { return {values.data(), scales.data()}; }
    // The float a stored element stands for, from the software conversion and the scale's bits.
    double stored(std::size_t head_dim, std::size_t g, std::size_t j, std::size_t d) const {
        const auto e = values[(g * capacity + j) * head_dim + d];
        if constexpr (std::is_same_v<S, kv_float16>)
            return float_from_half(e);
        else
            return double(e) * double(kv_scale_value(scales[g * capacity + j]));
    }
};

// KvHeads x capacity rows of uniform(-1, 1) floats stored as S; rows outside [begin, end) are NaN
// (a NaN half; int8: a NaN scale).
template <class S, std::size_t HeadDim>
typed_cache<S> make_cache(std::size_t kv_heads, std::size_t begin, std::size_t end, std::mt19937& rng) {
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    typed_cache<S> c;
    c.values.resize(kv_heads * capacity * HeadDim);
    c.scales.resize(kv_heads * capacity);
    for (std::size_t r = 0; r < kv_heads * capacity; ++r) {
        float x[HeadDim];
        const std::size_t j = r % capacity;
        for (std::size_t d = 0; d < HeadDim; ++d)
            x[d] = (j < begin || j >= end) ? std::numeric_limits<float>::quiet_NaN() : uniform(rng);
        kernels::kv_store_row<S, HeadDim>(x, c.values.data() + r * HeadDim, c.scales.data() + (S::scaled ? r : 0));
    }
    return c;
}

// Double reference of Heads query heads over the stored rows of the visible run.
template <class S>
std::vector<double> reference(const std::vector<float>& q, const typed_cache<S>& k, const typed_cache<S>& v,
                              std::size_t heads, std::size_t kv_heads, std::size_t head_dim, std::size_t begin,
                              std::size_t end) {
    std::vector<double> out(heads * head_dim, 0.0);
    for (std::size_t h = 0; h < heads; ++h) {
        const std::size_t g = h / (heads / kv_heads);
        std::vector<double> s(end, 0.0);
        double max = -INFINITY, sum = 0.0;
        for (std::size_t j = begin; j < end; ++j) {
            double dot = 0.0;
            for (std::size_t d = 0; d < head_dim; ++d) dot += double(q[h * head_dim + d]) * k.stored(head_dim, g, j, d);
            s[j] = dot / std::sqrt(double(head_dim));
            max = std::max(max, s[j]);
        }
        for (std::size_t j = begin; j < end; ++j) sum += (s[j] = std::exp(s[j] - max));
        for (std::size_t j = begin; j < end; ++j)
            for (std::size_t d = 0; d < head_dim; ++d) out[h * head_dim + d] += s[j] / sum * v.stored(head_dim, g, j, d);
    }
    return out;
}

// Which kernel runs the typed cache: the key-vectorised one (Key), or decode_attention with the
// row kernel (Row).
enum class kernel { key, row };

template <kernel Kernel, class S, std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, class Arch>
void check_shape(std::size_t begin, std::size_t end, float spread) {
    constexpr std::size_t head_stride = capacity * HeadDim;
    std::mt19937 rng(unsigned(Heads * 1000 + HeadDim * 10 + end + begin * 7));
    auto k = make_cache<S, HeadDim>(KvHeads, begin, end, rng);
    auto v = make_cache<S, HeadDim>(KvHeads, begin, end, rng);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> q(Heads * HeadDim);
    for (float& x : q) x = spread * uniform(rng);
    std::vector<float> scores(2 * end), context(Heads * HeadDim, -7.0f);
    const key_range visible{begin, end};
    const float score_scale = float(1.0 / std::sqrt(double(HeadDim)));
    bool regular;
    if constexpr (Kernel == kernel::key)
        regular = kernels::vector_decode_attention<Heads, KvHeads, HeadDim, HeadDim, head_stride, Arch>(
            q.data(), k.rows(), v.rows(), visible, score_scale, scores.data(), context.data());
    else
        regular = kernels::decode_attention<Heads, KvHeads, HeadDim, HeadDim, head_stride,
                                            kernels::detail::row_decode_heads<Arch>>(
            q.data(), k.rows(), v.rows(), visible, score_scale, scores.data(), context.data());
    INFO("arch " << simd::arch_name<Arch>() << " " << S::name << (Kernel == kernel::key ? " key" : " row")
                 << " kernel, heads " << Heads << " kv_heads " << KvHeads << " head_dim " << HeadDim << " keys "
                 << begin << ".." << end << " spread " << spread);
    REQUIRE(regular);
    const auto ref = reference(q, k, v, Heads, KvHeads, HeadDim, begin, end);
    // As tests/kernels/test_decode_heads.cpp: each weight carries its score's roundings (relative
    // 2^-24 per fma on |s| <= spread sqrt(head_dim), q scaled once; int8 one more, the scale on the
    // score), the exp2's ~2.5 ulp and the sum's rounding; the output is a convex mix of stored
    // |v| <= ~1 (int8: each weight times its row's scale rounded once more), so 2e-6 (1 + |s|max)
    // bounds the error with a margin of about 4. The values themselves are the stored ones: the
    // reference reads them exactly, so the storage's own error is not in the bound.
    const double tolerance = 2e-6 * (1.0 + spread * std::sqrt(double(HeadDim)));
    for (std::size_t i = 0; i < ref.size(); ++i) {
        INFO("element " << i << " got " << context[i] << " want " << ref[i]);
        REQUIRE(std::isfinite(context[i]));
        REQUIRE(std::abs(context[i] - ref[i]) <= tolerance);
    }
    // The same arithmetic over a float32 cache of the stored halves: bit for bit on 8 lanes (16
    // lanes pair value rows, another order), where the last chunk's rows past its whole groups of
    // 4 chains are at most one (the float path adds those to chain 0, the typed one to chain t % 4).
    // Heads of whole vectors or of scalars only: the scalar tail of head_dim 13 (8 + 5) is the same
    // source, but GCC contracts and vectorises its multiply-adds differently in the two paths.
    if constexpr (Kernel == kernel::key && std::is_same_v<S, kv_float16> && simd::width<Arch> == 8 &&
                  (HeadDim % 8 == 0 || HeadDim < 4)) {
        if ((end - begin) % 8 % 4 > 1) return;
        std::vector<float> kf(k.values.size()), vf(v.values.size()), float_context(Heads * HeadDim, -7.0f);
        for (std::size_t i = 0; i < kf.size(); ++i) kf[i] = float_from_half(k.values[i]), vf[i] = float_from_half(v.values[i]);
        REQUIRE(kernels::vector_decode_attention<Heads, KvHeads, HeadDim, HeadDim, head_stride, Arch>(
            q.data(), static_cast<const float*>(kf.data()), static_cast<const float*>(vf.data()), visible, score_scale,
            scores.data(), float_context.data()));
        for (std::size_t i = 0; i < context.size(); ++i) CHECK(context[i] == float_context[i]);
    }
}

template <class S, class Arch>
void check_key_kernel() {
    for (const std::size_t end : {1u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 33u, 100u})
        for (const float spread : {0.5f, 4.0f}) {
            check_shape<kernel::key, S, 1, 1, 1, Arch>(0, end, spread);
            check_shape<kernel::key, S, 3, 1, 3, Arch>(0, end, spread);  // a pair and a lone head
            check_shape<kernel::key, S, 8, 4, 8, Arch>(0, end, spread);  // stories260K's shape
            check_shape<kernel::key, S, 1, 1, 8, Arch>(0, end, spread);
            check_shape<kernel::key, S, 3, 1, 8, Arch>(end / 3, end, spread);  // a run past 0
            check_shape<kernel::key, S, 6, 3, 13, Arch>(0, end, spread);
            check_shape<kernel::key, S, 4, 4, 8, Arch>(end / 2, end, spread);
        }
}

template <class S, class Arch>
void check_row_kernel() {
    using rows = kv_rows<S>;
    for (const std::size_t end : {1u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 31u, 33u, 100u})
        for (const float spread : {0.5f, 4.0f}) {
            if constexpr (kernels::detail::row_decode_heads<Arch>::template fits<rows, 4>)
                check_shape<kernel::row, S, 3, 1, 4, Arch>(0, end, spread);
            if constexpr (kernels::detail::row_decode_heads<Arch>::template fits<rows, 8>) {
                check_shape<kernel::row, S, 8, 4, 8, Arch>(0, end, spread);  // stories260K's shape
                check_shape<kernel::row, S, 3, 1, 8, Arch>(end / 3, end, spread);
            }
            if constexpr (kernels::detail::row_decode_heads<Arch>::template fits<rows, 16>) {
                check_shape<kernel::row, S, 3, 1, 16, Arch>(0, end, spread);  // a pair and a lone head
                check_shape<kernel::row, S, 2, 2, 16, Arch>(end / 3, end, spread);
            }
            if constexpr (kernels::detail::row_decode_heads<Arch>::template fits<rows, 24>)
                check_shape<kernel::row, S, 4, 2, 24, Arch>(0, end, spread);
            if constexpr (kernels::detail::row_decode_heads<Arch>::template fits<rows, 48>) {
                check_shape<kernel::row, S, 6, 6, 48, Arch>(0, end, spread);  // stories15M's shape
                check_shape<kernel::row, S, 3, 1, 48, Arch>(end / 2, end, spread);
            }
        }
}

template <class Arch>
void check_arch() {
    check_key_kernel<kv_float16, Arch>();
    check_key_kernel<kv_int8, Arch>();
    check_row_kernel<kv_float16, Arch>();
    check_row_kernel<kv_int8, Arch>();
}
}  // namespace

TEST_CASE("decode over float16 and int8 caches with rows widened in registers matches a double reference over the stored rows",
          "[kv_storage][decode]") {
    using simd::default_arch;
    if constexpr (simd::width<default_arch> > 1) {
        check_arch<default_arch>();
        using narrower = decltype(simd::narrower_arch_of<default_arch>());
        if constexpr (simd::width<narrower> > 1) check_arch<narrower>();  // AVX2 under AVX-512: 8-lane transposes
    }
}

TEST_CASE("typed caches take the row kernel for wide heads of whole vectors where x86 widens rows, else not",
          "[kv_storage][decode]") {
    using simd::default_arch;
    using half_rows = kv_rows<kv_float16>;
    using int8_rows = kv_rows<kv_int8>;
    constexpr std::size_t W48 = simd::width<simd::arch_for_width<default_arch, 48>>;
    // stories15M's head_dim 48 is 6 AVX2 vectors, 3 AVX-512 ones or 12 NEON ones.
    CHECK(kernels::row_decode_fits<48, default_arch, half_rows> ==
          (simd::target::neon64 || (simd::target::f16c && (W48 == 8 || W48 == 16))));
    CHECK(kernels::row_decode_fits<48, default_arch, int8_rows> ==
          (simd::target::neon64 || (simd::target::avx2 && (W48 == 8 || W48 == 16))));
    // AArch64 has no key-vectorised kernel (4 lanes): stories260K's head_dim 8 takes the row kernel.
    if constexpr (simd::target::neon64) CHECK(kernels::row_decode_fits<8, default_arch, int8_rows>);
    // head_dim 8 keeps the key-vectorised kernel where it fits; a float32 cache never takes it;
    // heads that are not whole vectors of 8 or more floats stay on the scalar kernel.
    CHECK_FALSE((kernels::row_decode_fits<8, default_arch, half_rows> && kernels::vector_decode_fits<8, default_arch>));
    CHECK_FALSE(kernels::row_decode_fits<48, default_arch, const float*>);
    CHECK_FALSE(kernels::row_decode_fits<13, default_arch, half_rows>);
    CHECK_FALSE(kernels::row_decode_fits<3, default_arch, int8_rows>);
    CHECK_FALSE(kernels::row_decode_fits<48, simd::scalar_arch, half_rows>);
}
