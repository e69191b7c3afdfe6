// SPDX-License-Identifier: Apache-2.0
// KV storage types (base/kv_storage.hpp) and the kernels that read them (kernels/decode/kv_rows.hpp):
//   float16  every one of the 65536 halves converts to the value its bits define (computed here from
//            the IEEE 754 formula in double), and a sweep of floats (every 2^12-th bit pattern
//            plus every boundary: halfway points, overflow, subnormals) rounds to the nearest half
//            with ties to even, the reference found in double; the kernels' conversion (VCVTB
//            on Cortex-M) equals the software one;
//   int8     a row's codes come from max|x| / 127 rounded up (the largest at +-127), its 16-bit
//            scale is their least-squares fit (against the fit and the rule's error bound, in
//            double); zero rows, non-finite rows, rows near FLT_MAX and subnormal rows;
//   decode   the scalar and vector decode kernels over float16 and int8 caches equal a double
//            reference over the dequantized rows (what was stored: float rounding only, and for the
//            scalar kernel's integer int8 passes the bound their two int16 roundings allow, derived
//            below), awkward head_dims 5 and 8, grouped heads, an empty and partial visible runs.
#include <catch2/catch.hpp>

#include <ctattn/base/kv_storage.hpp>
#include <ctattn/kernels/decode/attention.hpp>
#include <ctattn/kernels/decode/kv_rows.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "../support/int8_passes_bound.hpp"

namespace {

using namespace ctattn;

// The value a half's bits stand for, from the formula: (-1)^s 2^(e-15) (1 + m/1024), subnormals 2^-14 m/1024.
double half_value(std::uint16_t h) {
    const int sign = (h >> 15) ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
    if (e == 31) return m ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
    if (e == 0) return sign * std::ldexp(double(m), -24);
    return sign * std::ldexp(1024.0 + m, e - 25);
}

// The half nearest to x (ties to even), as a double, found in double: x is scaled to units of the
// half ulp of its binade and rounded with nearbyint (the default mode: ties to even).
double nearest_half(float x) {
    const double d = x, a = std::abs(d);
    if (a == 0.0) return d;
    int exponent;
    std::frexp(a, &exponent);                    // a in [2^(exponent-1), 2^exponent)
    const int ulp_exponent = std::max(exponent - 1, -14) - 10;
    const double rounded = std::nearbyint(std::ldexp(a, -ulp_exponent));
    const double value = std::ldexp(rounded, ulp_exponent);
    return std::copysign(value > 65504.0 ? std::numeric_limits<double>::infinity() : value, d);
}

}  // namespace

TEST_CASE("every float16 converts to the value its bits define, and back to the same bits", "[kv_storage][float16]") {
    for (std::uint32_t bits = 0; bits < 65536; ++bits) {
        const auto h = static_cast<std::uint16_t>(bits);
        const double want = half_value(h);
        const float got = float_from_half(h), kernel = kernels::kv_element_value<kv_float16>(h);
        INFO("half 0x" << std::hex << bits);
        if (want != want) {
            REQUIRE(got != got);
            REQUIRE(kernel != kernel);
            REQUIRE((half_from_float(got) & 0x7e00u) == 0x7e00u);  // a quiet NaN
            continue;
        }
        REQUIRE(double(got) == want);
        REQUIRE(std::signbit(got) == bool(bits >> 15));
        REQUIRE(std::bit_cast<std::uint32_t>(kernel) == std::bit_cast<std::uint32_t>(got));
        REQUIRE(half_from_float(got) == h);
        REQUIRE(kernels::kv_half_from_float(got) == h);
    }
}

TEST_CASE("floats round to the nearest float16, ties to even, overflow to inf", "[kv_storage][float16]") {
    // Every 4093rd float bit pattern (1.05 M floats) natively; every 65521st (65.5 k) under
    // emulation (the aarch64 folder, the Cortex-M55 images of tests/embedded/catch), where each
    // float costs ~20 us: the same conversion code, every boundary below still checked.
#if defined(CTATTN_TEST_UNDER_EMULATION)
    constexpr std::uint64_t stride = 65521;
#else
    constexpr std::uint64_t stride = 4093;
#endif
    std::vector<float> sweep;
    for (std::uint64_t bits = 0; bits < (1ull << 32); bits += stride) sweep.push_back(std::bit_cast<float>(std::uint32_t(bits)));
    // Boundaries: each half, the halfway points around it and their float neighbours.
    for (std::uint32_t h = 0; h < 0x7c00; ++h) {
        const double lo = half_value(std::uint16_t(h)), hi = h + 1 < 0x7c00 ? half_value(std::uint16_t(h + 1)) : 65520.0;
        const float mid = float((lo + hi) / 2);  // exact in float: halves have 11 significant bits
        for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f), float(lo)})
            sweep.push_back(x), sweep.push_back(-x);
    }
    for (float x : sweep) {
        if (x != x) {
            CHECK((half_from_float(x) & 0x7e00u) == 0x7e00u);
            continue;
        }
        const double want = nearest_half(x);
        const std::uint16_t h = half_from_float(x);
        INFO("float " << x << " (0x" << std::hex << std::bit_cast<std::uint32_t>(x) << ")");
        REQUIRE(half_value(h) == want);
        REQUIRE(std::signbit(float_from_half(h)) == std::signbit(x));
        REQUIRE(kernels::kv_half_from_float(x) == h);
    }
}

TEST_CASE("an int8 row's codes come from max|x| / 127 rounded up, its 16-bit scale is their least-squares fit",
          "[kv_storage][int8]") {
    std::mt19937 rng(23);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    // The stored scale has float's exponent and 8 mantissa bits: rounding up moves a scale at
    // most 2^-8 (relative), rounding to nearest at most 2^-9.
    for (int trial = 0; trial < 2000; ++trial) {
        float x[8];
        const float magnitude = std::ldexp(1.0f, trial % 60 - 30);
        for (float& e : x) e = normal(rng) * magnitude;
        std::int8_t q[8];
        kv_int8::scale bits = 0;
        kernels::kv_store_row<kv_int8, 8>(x, q, &bits);
        const double scale = kv_scale_value(bits);
        double max_abs = 0.0;
        for (float e : x) max_abs = std::max(max_abs, double(std::abs(e)));
        const double rule = max_abs / 127.0;  // the float rule's scale, in double
        double xq = 0.0, qq = 0.0;
        int largest = 0;
        for (int d = 0; d < 8; ++d) {
            REQUIRE(q[d] >= -127);
            xq += double(x[d]) * q[d], qq += double(q[d]) * q[d];
            largest = std::max(largest, std::abs(int(q[d])));
        }
        const double fit = xq / qq;  // the least-squares scale for these codes, in double
        auto squared_error = [&](double s) {
            double sum = 0.0;
            for (int d = 0; d < 8; ++d) sum += (double(x[d]) - s * q[d]) * (double(x[d]) - s * q[d]);
            return sum;
        };
        INFO("trial " << trial << " max|x| " << max_abs << " scale " << scale << " fit " << fit);
        // The codes used a scale at most 2^-8 above the rule's: 127 / (1 + 2^-8) > 126.5, so the
        // largest code is 127.
        REQUIRE(largest == 127);
        // The stored scale is the fit rounded to nearest (2^-9), plus the float sums' rounding.
        REQUIRE(std::abs(scale - fit) <= fit * (0x1p-9 + 1e-6));
        // So its error is the fit's plus that rounding's, and within the rule's worst case (s0 / 2
        // per element, s0 <= rule (1 + 2^-8)); and every element within one rule step.
        REQUIRE(squared_error(scale) <= squared_error(fit) + qq * std::pow(fit * (0x1p-9 + 1e-6), 2) * (1.0 + 1e-9));
        REQUIRE(squared_error(scale) <= 8.0 * std::pow(rule * (1.0 + 0x1p-8) / 2.0, 2) * (1.0 + 0x1p-7));
        for (int d = 0; d < 8; ++d) REQUIRE(std::abs(double(x[d]) - scale * q[d]) <= rule * 1.05);
    }
    float zeros[5] = {};
    kv_int8::scale bits = 1;
    std::int8_t q[5];
    kernels::kv_store_row<kv_int8, 5>(zeros, q, &bits);
    CHECK(kv_scale_value(bits) == 0.0f);
    for (auto e : q) CHECK(e == 0);
    float bad[5] = {1.0f, std::numeric_limits<float>::infinity(), 2.0f, 3.0f, 4.0f};
    kernels::kv_store_row<kv_int8, 5>(bad, q, &bits);
    CHECK(std::isnan(kv_scale_value(bits)));  // the row reads back as NaN, never as finite numbers
    float nan_row[5] = {1.0f, 2.0f, std::numeric_limits<float>::quiet_NaN(), 3.0f, 4.0f};
    kernels::kv_store_row<kv_int8, 5>(nan_row, q, &bits);
    CHECK(std::isnan(kv_scale_value(bits)));
    // Float's whole range: a row near FLT_MAX and a subnormal row (whose 1/scale overflows a
    // float) keep every element within one step, plus, below float's normal range, 127 x the
    // smallest positive stored scale (2^-134: the scale's mantissa is cut at 8 bits there too).
    for (const float magnitude : {3e38f, 1e-40f}) {
        const float row[5] = {magnitude, -0.25f * magnitude, 0.0f, 0.5f * magnitude, -0.75f * magnitude};
        kernels::kv_store_row<kv_int8, 5>(row, q, &bits);
        const double s = kv_scale_value(bits);
        INFO("max|x| " << magnitude << " scale " << s);
        REQUIRE(std::isfinite(s));
        REQUIRE(s > 0.0);
        for (int d = 0; d < 5; ++d)
            CHECK(std::abs(double(row[d]) - s * q[d]) <= double(magnitude) / 127.0 * 1.05 + 127.0 * 0x1p-134);
    }
}

namespace {

// One query row (Heads x HeadDim) against a typed cache of KvHeads x Seq rows, both decode kernels
// against a double reference over the dequantized rows.
template <class S, std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, class Arch>
void check_decode_over(std::size_t seq_used, key_range visible) {
    constexpr std::size_t seq = 37, head_stride = seq * HeadDim;
    std::mt19937 rng(unsigned(seq_used * 7 + HeadDim));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<typename S::element> kv(KvHeads * head_stride), vv(KvHeads * head_stride);
    std::vector<typename S::scale> ks(KvHeads * seq), vs(KvHeads * seq);
    for (std::size_t row = 0; row < KvHeads * seq; ++row) {
        float k_row[HeadDim], v_row[HeadDim];
        for (std::size_t d = 0; d < HeadDim; ++d) k_row[d] = 2.0f * normal(rng), v_row[d] = normal(rng);
        kernels::kv_store_row<S, HeadDim>(k_row, kv.data() + row * HeadDim, ks.data() + (S::scaled ? row : 0));
        kernels::kv_store_row<S, HeadDim>(v_row, vv.data() + row * HeadDim, vs.data() + (S::scaled ? row : 0));
    }
    const kv_rows<S> k{kv.data(), ks.data()}, v{vv.data(), vs.data()};
    std::vector<float> q(Heads * HeadDim);
    for (float& e : q) e = normal(rng);
    const float score_scale = 1.0f / std::sqrt(float(HeadDim));
    std::vector<float> scores(2 * seq), got(Heads * HeadDim, -7.0f);
    bool regular;
    if constexpr (kernels::vector_decode_fits<HeadDim, Arch>)
        regular = kernels::vector_decode_attention<Heads, KvHeads, HeadDim, HeadDim, head_stride, Arch>(
            q.data(), k, v, visible, score_scale, scores.data(), got.data());
    else
        regular = kernels::decode_attention<Heads, KvHeads, HeadDim, HeadDim, head_stride>(
            q.data(), k, v, visible, score_scale, scores.data(), got.data());
    REQUIRE(regular);
    std::vector<float> careful(Heads * HeadDim);
    kernels::decode_attention_in_double<Heads, KvHeads, HeadDim, HeadDim, head_stride>(q.data(), k, v, visible,
                                                                                       score_scale, careful.data());
    auto stored = [&](const kv_rows<S>& r, std::size_t g, std::size_t j, std::size_t d) {
        const double e = kernels::kv_element_value<S>(r.values[g * head_stride + j * HeadDim + d]);
        if constexpr (S::scaled)
            return e * kv_scale_value(r.scales[g * seq + j]);
        else
            return e;
    };
    // The scalar kernel takes int8 rows in integers (kernels/decode/scalar_heads.hpp), where a
    // vector kernel does not run (and on Cortex-M, where typed caches take the scalar kernel).
    constexpr bool integer_passes =
        std::is_same_v<S, kv_int8> && (!kernels::vector_decode_fits<HeadDim, Arch> || simd::target::vfp_asm);
    for (std::size_t h = 0; h < Heads; ++h) {
        const std::size_t g = h / (Heads / KvHeads);
        std::vector<double> w;
        double max = -1e300, sum = 0.0;
        for (std::size_t j = visible.begin; j < visible.end; ++j) {
            double dot = 0.0;
            for (std::size_t d = 0; d < HeadDim; ++d) dot += double(q[h * HeadDim + d]) * stored(k, g, j, d);
            w.push_back(dot * score_scale);
            max = std::max(max, w.back());
        }
        for (double& e : w) sum += (e = std::exp(e - max));
        // The integer passes' two int16 roundings (tests/support/int8_passes_bound.hpp derives the
        // bound). A wrong row or scale errs by tenths (one key of weight ~1/37 and |v| ~1: ~0.03).
        const ctattn_test::int8_passes_bound int8_bound(
            q.data() + h * HeadDim, HeadDim, score_scale, visible.begin, visible.end,
            [&](std::size_t j, std::size_t d) { return k.values[g * head_stride + j * HeadDim + d]; },
            [&](std::size_t j) { return kv_scale_value(k.scales[g * seq + j]); },
            [&](std::size_t j) { return kv_scale_value(v.scales[g * seq + j]); });
        for (std::size_t d = 0; d < HeadDim; ++d) {
            double want = 0.0;  // an empty run gives 0
            for (std::size_t j = visible.begin; j < visible.end; ++j) want += w[j - visible.begin] / sum * stored(v, g, j, d);
            // Float sums of <= 37 terms of |v| <= ~4 and a polynomial exp (rel. error ~1e-6): 2e-5 absolute.
            double bound = 2e-5;
            if constexpr (integer_passes)
                bound += int8_bound.at(
                    d, [&](std::size_t j, std::size_t e) { return v.values[g * head_stride + j * HeadDim + e]; },
                    [&](std::size_t j, std::size_t e) { return stored(v, g, j, e); });
            INFO(S::name << " head " << h << " d " << d << " visible [" << visible.begin << ", " << visible.end
                         << ") bound " << bound);
            CHECK(std::abs(got[h * HeadDim + d] - want) <= bound);
            CHECK(std::abs(careful[h * HeadDim + d] - want) <= 1e-6);
        }
    }
}

template <class S, class Arch>
void check_decode_shapes() {
    for (key_range visible : {key_range{0, 37}, key_range{0, 1}, key_range{5, 22}, key_range{36, 37}, key_range{0, 17}, key_range{3, 3}}) {
        check_decode_over<S, 4, 2, 8, Arch>(37, visible);
        check_decode_over<S, 3, 1, 5, Arch>(37, visible);
        check_decode_over<S, 6, 2, 8, Arch>(37, visible);
    }
}

}  // namespace

TEST_CASE("the decode kernels read float16 and int8 caches like a double reference over the stored rows",
          "[kv_storage][decode]") {
    check_decode_shapes<kv_float16, simd::scalar_arch>();
    check_decode_shapes<kv_int8, simd::scalar_arch>();
    check_decode_shapes<kv_float16, simd::default_arch>();
    check_decode_shapes<kv_int8, simd::default_arch>();
}

// The scalar kernel's int8 passes are one arithmetic on every core: rows 8 bytes apart take the
// DSP assembly on Cortex-M (simd/kv_arm_dsp.hpp), rows 10 bytes apart (not 4-byte aligned) the C
// loop everywhere; both must give the same bits, for runs of odd and even length from aligned and
// unaligned first keys (the assembly's scale loads step four at a time).
TEST_CASE("the scalar kernel's int8 passes give the same bits at every row stride", "[kv_storage][decode][int8]") {
    constexpr std::size_t head_dim = 8, seq = 45, wide = 10;
    std::mt19937 rng(20261207u);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<std::int8_t> k8(seq * head_dim), v8(seq * head_dim), k10(seq * wide, 0), v10(seq * wide, 0);
    std::vector<kv_int8::scale> ks(seq), vs(seq);
    for (std::size_t j = 0; j < seq; ++j) {
        float k_row[head_dim], v_row[head_dim];
        // Rows of different magnitudes, so the value scales (and the largest of them) vary.
        const float magnitude = 0.25f + 0.1f * float(j % 7);
        for (std::size_t d = 0; d < head_dim; ++d) k_row[d] = 2.0f * normal(rng), v_row[d] = magnitude * normal(rng);
        kernels::kv_store_row<kv_int8, head_dim>(k_row, k8.data() + j * head_dim, &ks[j]);
        kernels::kv_store_row<kv_int8, head_dim>(v_row, v8.data() + j * head_dim, &vs[j]);
        std::copy_n(k8.data() + j * head_dim, head_dim, k10.data() + j * wide);
        std::copy_n(v8.data() + j * head_dim, head_dim, v10.data() + j * wide);
    }
    const kv_rows<kv_int8> rows8_k{k8.data(), ks.data()}, rows8_v{v8.data(), vs.data()};
    const kv_rows<kv_int8> rows10_k{k10.data(), ks.data()}, rows10_v{v10.data(), vs.data()};
    float q[2 * head_dim];
    for (float& e : q) e = normal(rng);
    for (key_range visible : {key_range{0, 1}, key_range{0, 2}, key_range{0, 3}, key_range{1, 2}, key_range{1, 4},
                              key_range{3, 40}, key_range{2, 45}, key_range{0, 45}, key_range{5, 22}, key_range{44, 45}}) {
        std::vector<float> scores(2 * seq);
        float out8[2 * head_dim], out10[2 * head_dim];
        REQUIRE(kernels::decode_attention<2, 1, head_dim, head_dim, seq * head_dim>(q, rows8_k, rows8_v, visible, 0.35f,
                                                                                    scores.data(), out8));
        REQUIRE(kernels::decode_attention<2, 1, head_dim, wide, seq * wide>(q, rows10_k, rows10_v, visible, 0.35f,
                                                                            scores.data(), out10));
        for (std::size_t i = 0; i < 2 * head_dim; ++i) {
            INFO("visible [" << visible.begin << ", " << visible.end << ") output " << i << ": " << out8[i] << " and "
                             << out10[i]);
            CHECK(std::bit_cast<std::uint32_t>(out8[i]) == std::bit_cast<std::uint32_t>(out10[i]));
        }
    }
}

TEST_CASE("typed rows the decode kernels hand back are recomputed in double, NaN rows give NaN heads",
          "[kv_storage][decode][contract]") {
    // One KV head of head_dim 4, two query heads, three keys. Scores of 1e20 x 1e20 overflow float:
    // the kernel reports the row (false) and the careful path computes it in double, where the
    // softmax is one-hot on the largest score.
    constexpr std::size_t head_dim = 4, seq = 3;
    std::int8_t kq[seq * head_dim], vq[seq * head_dim];
    kv_int8::scale ks[seq], vs[seq];
    const float keys[seq][head_dim] = {{1e20f, 0, 0, 0}, {2e20f, 0, 0, 0}, {-1e20f, 0, 0, 0}};
    const float values[seq][head_dim] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
    for (std::size_t j = 0; j < seq; ++j) {
        kernels::kv_store_row<kv_int8, head_dim>(keys[j], kq + j * head_dim, ks + j);
        kernels::kv_store_row<kv_int8, head_dim>(values[j], vq + j * head_dim, vs + j);
    }
    const kv_rows<kv_int8> k{kq, ks}, v{vq, vs};
    const float q[2 * head_dim] = {1e20f, 0, 0, 0, -1e20f, 0, 0, 0};
    float scores[2 * seq], out[2 * head_dim];
    const bool regular =
        kernels::decode_attention<2, 1, head_dim, head_dim, seq * head_dim>(q, k, v, key_range{0, seq}, 0.5f, scores, out);
    CHECK_FALSE(regular);
    kernels::decode_attention_in_double<2, 1, head_dim, head_dim, seq * head_dim>(q, k, v, key_range{0, seq}, 0.5f, out);
    for (std::size_t d = 0; d < head_dim; ++d) {
        // Head 0 picks key 1 (the largest score), head 1 key 2; values within int8's step (12/254).
        CHECK(std::abs(out[d] - values[1][d]) <= 12.0f / 254);
        CHECK(std::abs(out[head_dim + d] - values[2][d]) <= 12.0f / 254);
    }
    // A non-finite value row is cached as NaN (its scale): the heads that see it give NaN.
    const float bad[head_dim] = {1, std::numeric_limits<float>::quiet_NaN(), 3, 4};
    kernels::kv_store_row<kv_int8, head_dim>(bad, vq, vs);
    const float small_q[2 * head_dim] = {0.1f, 0, 0, 0, 0.2f, 0, 0, 0};
    const bool regular_nan =
        kernels::decode_attention<2, 1, head_dim, head_dim, seq * head_dim>(small_q, k, v, key_range{0, seq}, 0.5f, scores, out);
    if (!regular_nan)
        kernels::decode_attention_in_double<2, 1, head_dim, head_dim, seq * head_dim>(small_q, k, v, key_range{0, seq}, 0.5f,
                                                                                     out);
    for (float o : out) CHECK(o != o);
}
