// SPDX-License-Identifier: Apache-2.0
// Decode attention over float16 and int8 KV rows (base/kv_storage.hpp) through the vector kernel
// (kernels/decode/attention.hpp's vector_decode_attention), on every arch: against a double
// reference over the stored rows, at awkward shapes (runs of 1 .. 9 keys around the 4-key chunks,
// runs that start past 0, lone and paired query heads, rows strided wider than head_dim), and where
// Helium takes its typed passes (simd/kv_mve.hpp: head_dim 8), equal to the scalar kernel's
// outputs bit for bit, which is what lets the M55's firmware decode the host scalar build's ids.
// Plus the numeric contract on typed rows: empty run 0, rows outside the run never read, NaN and
// overflowing scores reported.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <ctattn/kernels/decode/attention.hpp>

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
        for (std::size_t d = 0; d < HeadDim; ++d) {
            double want = 0.0;  // an empty run gives 0
            for (std::size_t j = visible.begin; j < visible.end; ++j)
                want += w[j - visible.begin] / sum * cache.value(g, j, d);
            INFO(S::name << " heads " << Heads << " kv_heads " << KvHeads << " head_dim " << HeadDim << " stride "
                         << KvStride << " keys " << visible.begin << ".." << visible.end << " key scale " << key_scale
                         << " head " << h << " d " << d);
            // A convex mix of <= 41 values |v| <~ 4.5 with float weights: each weight carries its
            // score's roundings (relative 2^-24 per fma on |s| <= ~|q| |k| sqrt(8), up to ~60 at key
            // scale 4), the exp2 polynomial's ~1e-7 and the sum's rounding: 2e-6 (1 + key scale)
            // bounds it with a margin of ~5 (test_kv_rows.cpp allows 2e-5 at key scale 2).
            CHECK(std::abs(got[h * HeadDim + d] - want) <= 2e-6 * (1.0 + key_scale));
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
