// SPDX-License-Identifier: Apache-2.0
// Decode attention over float16 and int8 KV rows (base/kv_storage.hpp) through the vector kernel
// (kernels/decode/attention.hpp's vector_decode_attention), on every arch: against a double
// reference over the stored rows, at awkward shapes (runs of 1 .. 9 keys around the 4-key chunks,
// runs that start past 0, lone and paired query heads, rows strided wider than head_dim): within
// float's roundings for float arithmetic, and for int8 rows through the scalar kernel's integer
// passes (kernels/decode/scalar_heads.hpp) within the bound their int16 roundings allow; and where
// Helium takes its typed passes (simd/kv_mve.hpp: head_dim 8), equal to the scalar kernel's
// outputs bit for bit, which is what lets the M55's firmware decode the host scalar build's ids.
// Plus the numeric contract on typed rows: empty run 0, rows outside the run never read, NaN and
// overflowing scores reported.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include <ctattn/kernels/decode/attention.hpp>

#include "../support/int8_passes_bound.hpp"

namespace {
using namespace ctattn;
constexpr std::size_t capacity = 41;  // cached rows per KV head

// A typed cache of KvHeads x capacity rows at stride KvStride elements (head g's row j at
// g * capacity * KvStride + j * KvStride), rows from a normal distribution of the given scale.
template <class S, std::size_t KvHeads, std::size_t HeadDim, std::size_t KvStride>
struct typed_cache {
    static constexpr std::size_t head_stride = capacity * KvStride;
    std::vector<typename S::element> k = std::vector<typename S::element>(KvHeads * head_stride),
                                     v = std::vector<typename S::element>(KvHeads * head_stride);
    std::vector<typename S::scale> ks = std::vector<typename S::scale>(KvHeads * capacity),
                                   vs = std::vector<typename S::scale>(KvHeads * capacity);

    typed_cache(std::mt19937& rng, float key_scale) {
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (std::size_t g = 0; g < KvHeads; ++g)
            for (std::size_t j = 0; j < capacity; ++j) {
                float k_row[HeadDim], v_row[HeadDim];
                for (std::size_t d = 0; d < HeadDim; ++d) k_row[d] = key_scale * normal(rng), v_row[d] = normal(rng);
                store(k_row, k, ks, g, j);
                store(v_row, v, vs, g, j);
            }
    }
    void store(const float* x, std::vector<typename S::element>& e, std::vector<typename S::scale>& s, std::size_t g,
               std::size_t j) {
        kernels::kv_store_row<S, HeadDim>(x, e.data() + g * head_stride + j * KvStride,
                                          s.data() + (S::scaled ? g * capacity + j : 0));
    }
    kv_rows<S> keys() { return {k.data(), ks.data()}; }
    kv_rows<S> values() { return {v.data(), vs.data()}; }
    // Element d of row j of head g as the cache stores it (the scale applied), in double.
    double key(std::size_t g, std::size_t j, std::size_t d) const { return stored(k, ks, g, j, d); }
    double value(std::size_t g, std::size_t j, std::size_t d) const { return stored(v, vs, g, j, d); }
    double stored(const std::vector<typename S::element>& e, const std::vector<typename S::scale>& s, std::size_t g,
                  std::size_t j, std::size_t d) const {
        const double x = kernels::kv_element_value<S>(e[g * head_stride + j * KvStride + d]);
        if constexpr (S::scaled)
            return x * kv_scale_value(s[g * capacity + j]);
        else
            return x;
    }
};

template <class S, std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, std::size_t KvStride>
void check_shape(key_range visible, float key_scale) {
    using arch = simd::default_arch;
    using cache_t = typed_cache<S, KvHeads, HeadDim, KvStride>;
    std::mt19937 rng(unsigned(Heads * 1000 + KvStride * 100 + visible.end * 3 + visible.begin));
    cache_t cache(rng, key_scale);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> q(Heads * HeadDim);
    for (float& x : q) x = normal(rng);
    const float score_scale = 1.0f / std::sqrt(float(HeadDim));
    std::vector<float> scores(2 * visible.end + 1), got(Heads * HeadDim, -7.0f), scalar(Heads * HeadDim, -9.0f);
    bool regular;
    if constexpr (kernels::vector_decode_fits<HeadDim, arch, KvStride>)
        regular = kernels::vector_decode_attention<Heads, KvHeads, HeadDim, KvStride, cache_t::head_stride, arch>(
            q.data(), cache.keys(), cache.values(), visible, score_scale, scores.data(), got.data());
    else
        regular = kernels::decode_attention<Heads, KvHeads, HeadDim, KvStride, cache_t::head_stride>(
            q.data(), cache.keys(), cache.values(), visible, score_scale, scores.data(), got.data());
    REQUIRE(regular);
    REQUIRE(kernels::decode_attention<Heads, KvHeads, HeadDim, KvStride, cache_t::head_stride>(
        q.data(), cache.keys(), cache.values(), visible, score_scale, scores.data(), scalar.data()));
    // int8 rows take the scalar kernel's integer passes wherever the scalar kernel runs (no vector
    // kernel for the shape, or Cortex-M, which sends typed caches to it) and in Helium's typed passes
    // (simd/kv_mve.hpp, the same arithmetic; Helium cores are Cortex-M, vfp_asm). The x86 and NEON
    // vector kernels read int8 rows in float arithmetic (codes to floats, each row's scale applied
    // to its elements or folded into the query and the weights: one more rounding, relative 2^-24,
    // per product), which the float bound below covers.
    constexpr bool integer_passes = std::is_same_v<S, kv_int8> &&
                                    (!kernels::vector_decode_fits<HeadDim, arch, KvStride> || simd::target::vfp_asm);
    constexpr std::size_t group = Heads / KvHeads;
    for (std::size_t h = 0; h < Heads; ++h) {
        const std::size_t g = h / group;
        std::vector<double> w;
        double max = -1e300, sum = 0.0;
        for (std::size_t j = visible.begin; j < visible.end; ++j) {
            double dot = 0.0;
            for (std::size_t d = 0; d < HeadDim; ++d) dot += double(q[h * HeadDim + d]) * cache.key(g, j, d);
            w.push_back(dot * score_scale);
            max = std::max(max, w.back());
        }
        for (double& e : w) sum += (e = std::exp(e - max));
        // The integer passes' two int16 roundings (tests/support/int8_passes_bound.hpp derives the
        // bound). Their float steps (the score's product and the output's scaling, relative 2^-24
        // each) sit within the float bound below. The bounds come to 4e-5 .. 5e-3 here (the larger
        // at key scale 4, where a key's codes and scale make delta larger); a key skipped in pass 3
        // errs by 5e-4 .. 0.5 and fails hundreds of these checks.
        const ctattn_test::int8_passes_bound int8_bound(
            q.data() + h * HeadDim, HeadDim, score_scale, visible.begin, visible.end,
            [&](std::size_t j, std::size_t d) { return cache.k[g * cache_t::head_stride + j * KvStride + d]; },
            [&](std::size_t j) { return kv_scale_value(cache.ks[g * capacity + j]); },
            [&](std::size_t j) { return kv_scale_value(cache.vs[g * capacity + j]); });
        for (std::size_t d = 0; d < HeadDim; ++d) {
            double want = 0.0;  // an empty run gives 0
            for (std::size_t j = visible.begin; j < visible.end; ++j)
                want += w[j - visible.begin] / sum * cache.value(g, j, d);
            // Float arithmetic: a convex mix of <= 41 values |v| <~ 4.5 with float weights: each
            // weight carries its score's roundings (relative 2^-24 per fma on |s| <= ~|q| |k|
            // sqrt(8), up to ~60 at key scale 4), the exp2 polynomial's ~1e-7 and the sum's
            // rounding: 2e-6 (1 + key scale) bounds it with a margin of ~5 (test_kv_rows.cpp allows
            // 2e-5 at key scale 2).
            double bound = 2e-6 * (1.0 + key_scale);
            if constexpr (integer_passes)
                bound += int8_bound.at(
                    d, [&](std::size_t j, std::size_t e) { return cache.v[g * cache_t::head_stride + j * KvStride + e]; },
                    [&](std::size_t j, std::size_t e) { return cache.value(g, j, e); });
            INFO(S::name << " heads " << Heads << " kv_heads " << KvHeads << " head_dim " << HeadDim << " stride "
                         << KvStride << " keys " << visible.begin << ".." << visible.end << " key scale " << key_scale
                         << " head " << h << " d " << d << " bound " << bound);
            CHECK(std::abs(got[h * HeadDim + d] - want) <= bound);
        }
    }
    // Helium's typed passes keep the scalar kernel's arithmetic: the same floats, bit for bit.
    if constexpr (kernels::detail::typed_rows_on_helium<kv_rows<S>, 2, HeadDim, KvStride>) {
        INFO(S::name << " heads " << Heads << " kv_heads " << KvHeads << " stride " << KvStride << " keys "
                     << visible.begin << ".." << visible.end << " key scale " << key_scale);
        CHECK(std::memcmp(got.data(), scalar.data(), got.size() * sizeof(float)) == 0);
    }
}

template <class S>
void check_storage() {
    for (const key_range visible : {key_range{0, 1}, key_range{0, 2}, key_range{0, 3}, key_range{0, 4}, key_range{0, 5},
                                    key_range{0, 7}, key_range{0, 8}, key_range{0, 9}, key_range{0, capacity},
                                    key_range{5, 22}, key_range{3, 4}, key_range{capacity - 6, capacity},
                                    key_range{11, 36}})
        for (const float key_scale : {0.5f, 4.0f}) {
            check_shape<S, 8, 4, 8, 8>(visible, key_scale);    // stories260K's shape: pairs
            check_shape<S, 3, 1, 8, 8>(visible, key_scale);    // a pair and a lone head
            check_shape<S, 4, 2, 8, 12>(visible, key_scale);   // rows strided past head_dim
            check_shape<S, 1, 1, 8, 8>(visible, key_scale);    // one lone head
            check_shape<S, 4, 2, 5, 5>(visible, key_scale);    // head_dim 5: the general paths
            check_shape<S, 2, 1, 16, 16>(visible, key_scale);  // head_dim 16
        }
}
}  // namespace

TEST_CASE("decode over float16 and int8 rows matches the double reference and, on Helium, the scalar kernel bit for bit",
          "[kv_storage][decode]") {
    check_storage<kv_float16>();
    check_storage<kv_int8>();
}

// Helium's int8 passes against the scalar kernel's at lengths the shapes above do not reach: runs
// of hundreds of keys (many whole chunks in pass 1's and pass 3's assembly), runs past 516 keys
// (where the weight unit U drops below 32767: int8_weight_units), first keys at every offset mod 4,
// rows of different magnitudes (so the value scales and the largest of them vary), paired and lone
// heads.
TEST_CASE("Helium's int8 passes equal the scalar kernel's bit for bit over long runs, past 516 keys too",
          "[kv_storage][decode][int8]") {
    constexpr std::size_t head_dim = 8, seq = 600;
    if constexpr (kernels::detail::typed_rows_on_helium<kv_rows<kv_int8>, 2, head_dim, head_dim>) {
        std::mt19937 rng(20261208u);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        std::vector<std::int8_t> k8(seq * head_dim), v8(seq * head_dim);
        std::vector<kv_int8::scale> ks(seq), vs(seq);
        for (std::size_t j = 0; j < seq; ++j) {
            float k_row[head_dim], v_row[head_dim];
            const float magnitude = 0.25f + 0.1f * float(j % 7);
            for (std::size_t d = 0; d < head_dim; ++d) k_row[d] = 2.0f * normal(rng), v_row[d] = magnitude * normal(rng);
            kernels::kv_store_row<kv_int8, head_dim>(k_row, k8.data() + j * head_dim, &ks[j]);
            kernels::kv_store_row<kv_int8, head_dim>(v_row, v8.data() + j * head_dim, &vs[j]);
        }
        const kv_rows<kv_int8> k{k8.data(), ks.data()}, v{v8.data(), vs.data()};
        float q[2 * head_dim];
        for (float& e : q) e = normal(rng);
        using arch = simd::default_arch;
        for (const key_range visible : {key_range{0, seq}, key_range{1, seq}, key_range{2, 519}, key_range{3, 520},
                                        key_range{0, 516}, key_range{0, 517}, key_range{7, 300}, key_range{4, 9}}) {
            std::vector<float> scores(2 * seq);
            float pair[2 * head_dim], pair_scalar[2 * head_dim], lone[head_dim], lone_scalar[head_dim];
            REQUIRE(kernels::vector_decode_attention<2, 1, head_dim, head_dim, seq * head_dim, arch>(
                q, k, v, visible, 0.35f, scores.data(), pair));
            REQUIRE(kernels::decode_attention<2, 1, head_dim, head_dim, seq * head_dim>(q, k, v, visible, 0.35f,
                                                                                       scores.data(), pair_scalar));
            REQUIRE(kernels::vector_decode_attention<1, 1, head_dim, head_dim, seq * head_dim, arch>(
                q + head_dim, k, v, visible, 0.35f, scores.data(), lone));
            REQUIRE(kernels::decode_attention<1, 1, head_dim, head_dim, seq * head_dim>(q + head_dim, k, v, visible,
                                                                                       0.35f, scores.data(), lone_scalar));
            INFO("visible [" << visible.begin << ", " << visible.end << ")");
            CHECK(std::memcmp(pair, pair_scalar, sizeof pair) == 0);
            CHECK(std::memcmp(lone, lone_scalar, sizeof lone) == 0);
            CHECK(std::memcmp(lone, pair_scalar + head_dim, sizeof lone) == 0);  // a lone head is its pair's head
        }
    } else {
        SUCCEED("no Helium typed passes on this target");
    }
}

TEST_CASE("Helium takes its typed passes for head_dim 8 with rows 4-byte aligned, and only on Helium",
          "[kv_storage][decode]") {
    using kernels::detail::typed_rows_on_helium;
    constexpr bool helium = simd::target::mve_float;
    CHECK(typed_rows_on_helium<kv_rows<kv_float16>, 2, 8, 8> == helium);
    CHECK(typed_rows_on_helium<kv_rows<kv_int8>, 2, 8, 8> == helium);
    CHECK(typed_rows_on_helium<kv_rows<kv_int8>, 1, 8, 12> == helium);
    CHECK_FALSE(typed_rows_on_helium<kv_rows<kv_int8>, 2, 8, 10>);      // rows not 4-byte aligned
    CHECK_FALSE(typed_rows_on_helium<kv_rows<kv_float16>, 2, 8, 9>);    // odd stride in halves
    CHECK_FALSE(typed_rows_on_helium<kv_rows<kv_float16>, 2, 16, 16>);  // head_dim 16
    CHECK_FALSE(typed_rows_on_helium<const float*, 2, 8, 8>);           // a float32 cache
}

TEST_CASE("decode over typed rows: empty run 0, rows outside the run never read, NaN and overflow reported",
          "[kv_storage][decode][contract]") {
    using arch = simd::default_arch;
    constexpr std::size_t H = 4, G = 2, D = 8, stride = capacity * D;
    auto run = [](auto& cache, const std::vector<float>& q, key_range visible, std::vector<float>& out) {
        std::vector<float> scores(2 * capacity);
        if constexpr (kernels::vector_decode_fits<D, arch>)
            return kernels::vector_decode_attention<H, G, D, D, stride, arch>(q.data(), cache.keys(), cache.values(),
                                                                             visible, 0.35f, scores.data(), out.data());
        else
            return kernels::decode_attention<H, G, D, D, stride>(q.data(), cache.keys(), cache.values(), visible, 0.35f,
                                                                 scores.data(), out.data());
    };
    auto check_contract = [&](auto cache) {
        using cache_t = decltype(cache);
        std::vector<float> q(H * D, 0.25f), out(H * D, -1.0f);
        CHECK(run(cache, q, key_range{3, 3}, out));
        for (float c : out) CHECK(c == 0.0f);
        // A non-finite row outside the run (key 30: a NaN key, a NaN value) is never read.
        const float nan_row[D] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
        for (std::size_t g = 0; g < G; ++g) cache.store(nan_row, cache.k, cache.ks, g, 30), cache.store(nan_row, cache.v, cache.vs, g, 30);
        std::vector<float> within(H * D);
        CHECK(run(cache, q, key_range{0, 30}, within));
        for (float c : within) CHECK(std::isfinite(c));
        // Inside the run the NaN score is reported (false): the caller recomputes the row in double.
        CHECK_FALSE(run(cache, q, key_range{0, 31}, out));
        CHECK_FALSE(run(cache, q, key_range{30, 31}, out));
        // q . k past FLT_MAX (+inf score): reported too.
        cache_t huge = cache;
        const float big_row[D] = {6e4f, 6e4f, 6e4f, 6e4f, 6e4f, 6e4f, 6e4f, 6e4f};
        for (std::size_t g = 0; g < G; ++g)
            for (std::size_t j = 0; j < capacity; ++j) huge.store(big_row, huge.k, huge.ks, g, j);
        std::vector<float> big_q(H * D, 1e36f);
        CHECK_FALSE(run(huge, big_q, key_range{0, 13}, out));
        // A query element that is NaN or inf (int8: its int16 coding has no step): reported.
        for (const float bad : {NAN, INFINITY}) {
            std::vector<float> bad_q(H * D, 0.25f);
            bad_q[D + 5] = bad;  // head 1's element 5
            CHECK_FALSE(run(cache, bad_q, key_range{0, 13}, out));
        }
    };
    std::mt19937 rng(5);
    check_contract(typed_cache<kv_float16, G, D, D>(rng, 1.0f));
    check_contract(typed_cache<kv_int8, G, D, D>(rng, 1.0f));
}

TEST_CASE("Helium's weights 2^x are simd::exp2_clamped's bit for bit down to the smallest normal result",
          "[kv_storage][decode][exp]") {
#if defined(CTATTN_HAS_MVE_FLOAT)
    // Every 2^-10 step of [-126, 0], and the 64 floats around each half-integer and integer of
    // [-125.5, 0] (where the rounding to n switches and where f changes sign): the polynomial's
    // fused steps and the scaling by 2^n are the scalar function's. Below 2^-126 Helium flushes
    // results to 0 (its float lanes run with flush-to-zero) where the FPU keeps the denormal: a
    // weight under 1.2e-38 beside the max key's 1.
    std::vector<float> xs;
    for (int i = -126 * 1024; i <= 0; ++i) xs.push_back(float(i) / 1024.0f);
    for (int half_steps = -251; half_steps <= 0; ++half_steps) {
        float below = float(half_steps) / 2.0f, above = below;
        for (int i = 0; i < 32; ++i) {
            xs.push_back(below = std::nextafter(below, -200.0f));
            if (above < 0.0f) xs.push_back(above = std::nextafter(above, 1.0f));
        }
    }
    while (xs.size() % 4 != 0) xs.push_back(0.0f);
    std::size_t differ = 0;
    for (std::size_t i = 0; i + 4 <= xs.size(); i += 4) {
        float lanes[4];
        __arm_vst1q_f32(lanes, simd::kv_mve::exp2_clamped_fused_4(__arm_vld1q_f32(xs.data() + i)));
        for (std::size_t t = 0; t < 4; ++t) differ += lanes[t] != simd::exp2_clamped(simd::clamp_exp2_argument(xs[i + t]));
    }
    CHECK(differ == 0);
#else
    SUCCEED("no Helium float lanes on this target");
#endif
}
