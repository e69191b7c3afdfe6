// SPDX-License-Identifier: Apache-2.0
// The vector arches' decode attention (kernels/decode/vector_heads.hpp) against a double reference: the
// register transposes (head_dim 8 on 8- and 16-lane vectors) and the portable transpose (head_dim
// 1, 3, 5, 13, 16), lone and paired heads per KV head, runs of keys that are not a multiple of
// the vector width and runs that start past 0, the cache laid out head by head as the decoder
// keeps it, and the numeric contract (keys outside the run never read, empty run 0, huge finite
// scores finite, NaN or overflowing scores reported).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <ctattn/kernels/decode/attention.hpp>

namespace {
constexpr std::size_t capacity = 208;  // the cache's rows per KV head (KvHeadStride = capacity * head_dim)

// Double reference of one query row over the visible run [begin, end); cache head by head.
std::vector<double> reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                              std::size_t heads, std::size_t kv_heads, std::size_t head_dim, std::size_t begin,
                              std::size_t end) {
    std::vector<double> out(heads * head_dim, 0.0);
    const double scale = 1.0 / std::sqrt(double(head_dim));
    for (std::size_t h = 0; h < heads; ++h) {
        const std::size_t g = h / (heads / kv_heads);
        const float* kh = k.data() + g * capacity * head_dim;
        const float* vh = v.data() + g * capacity * head_dim;
        std::vector<double> s(end, 0.0);
        double max = -INFINITY, sum = 0.0;
        for (std::size_t j = begin; j < end; ++j) {
            double dot = 0.0;
            for (std::size_t d = 0; d < head_dim; ++d) dot += double(q[h * head_dim + d]) * kh[j * head_dim + d];
            s[j] = dot * scale;
            max = std::max(max, s[j]);
        }
        for (std::size_t j = begin; j < end; ++j) sum += (s[j] = std::exp(s[j] - max));
        for (std::size_t j = begin; j < end; ++j)
            for (std::size_t d = 0; d < head_dim; ++d) out[h * head_dim + d] += s[j] / sum * vh[j * head_dim + d];
    }
    return out;
}

template <std::size_t Heads, std::size_t KvHeads, std::size_t HeadDim, class Arch>
void check_shape(std::size_t begin, std::size_t end, float spread) {
    constexpr std::size_t head_stride = capacity * HeadDim;
    std::mt19937 rng(unsigned(Heads * 1000 + HeadDim * 10 + end));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> q(Heads * HeadDim), k(KvHeads * head_stride), v(KvHeads * head_stride);
    for (float& x : q) x = spread * uniform(rng);
    for (float& x : k) x = uniform(rng);
    for (float& x : v) x = uniform(rng);
    // Rows outside the visible run (before it, and after it up to the capacity) hold NaN: they
    // must never reach the output.
    for (std::size_t g = 0; g < KvHeads; ++g)
        for (std::size_t j = 0; j < capacity; ++j)
            if (j < begin || j >= end)
                for (std::size_t d = 0; d < HeadDim; ++d)
                    k[g * head_stride + j * HeadDim + d] = v[g * head_stride + j * HeadDim + d] = NAN;
    std::vector<float> scores(2 * end + 1), context(Heads * HeadDim, -7.0f);
    REQUIRE(ctattn::kernels::vector_decode_attention<Heads, KvHeads, HeadDim, HeadDim, head_stride, Arch>(
        q.data(), k.data(), v.data(), ctattn::key_range{begin, end}, float(1.0 / std::sqrt(double(HeadDim))),
        scores.data(), context.data()));
    const auto ref = reference(q, k, v, Heads, KvHeads, HeadDim, begin, end);
    // Each weight carries its score's roundings (q scaled by log2(e) / sqrt(head_dim) once, then
    // head_dim fmas: relative 2^-24 each on |s| <= spread * sqrt(head_dim)), the exp2's ~2.5 ulp and
    // the sum's rounding; the output is a convex mix of |v| <= 1, so 2e-6 * (1 + |s|max) bounds the
    // error with a margin of about 4 (the scalar decode kernel's test has the same bound).
    const double tolerance = 2e-6 * (1.0 + spread * std::sqrt(double(HeadDim)));
    for (std::size_t i = 0; i < ref.size(); ++i) {
        INFO("arch " << ctattn::simd::arch_name<Arch>() << " heads " << Heads << " kv_heads " << KvHeads << " head_dim "
                     << HeadDim << " keys " << begin << ".." << end << " spread " << spread << " element " << i);
        REQUIRE(std::isfinite(context[i]));
        REQUIRE(std::abs(context[i] - ref[i]) <= tolerance);
    }
}

template <class Arch>
void check_arch() {
    for (const std::size_t end : {1u, 3u, 5u, 13u, 16u, 17u, 33u, 200u})
        for (const float spread : {0.5f, 4.0f, 40.0f}) {
            check_shape<1, 1, 1, Arch>(0, end, spread);
            check_shape<3, 1, 3, Arch>(0, end, spread);  // a pair and a lone head on one KV head
            check_shape<2, 1, 5, Arch>(0, end, spread);
            check_shape<8, 4, 8, Arch>(0, end, spread);  // stories260K's shape
            check_shape<6, 3, 13, Arch>(0, end, spread);
            check_shape<4, 2, 16, Arch>(0, end, spread);
            check_shape<4, 4, 8, Arch>(end / 2, end, spread);  // a run that starts past 0 (sliding window)
            check_shape<3, 1, 8, Arch>(end / 3, end, spread);
        }
}
}  // namespace

TEST_CASE("vector_decode_attention matches the double reference on every arch, head width and run of keys") {
    using ctattn::simd::default_arch;
    check_arch<default_arch>();
    using narrower = decltype(ctattn::simd::narrower_arch_of<default_arch>());
    check_arch<narrower>();  // AVX2 under AVX-512 (head_dim 8's 8-lane transpose), SSE under AVX2
}

TEST_CASE("decode takes the key-vectorised kernel for head_dim 8 on 8- and 16-lane vectors and on Helium, not on the scalar path") {
    using ctattn::simd::default_arch;
    constexpr std::size_t W = ctattn::simd::width<default_arch>;
    // Helium gathers 4 keys' rows into head_dim vectors (simd/mve.hpp), so it takes the kernel too.
    CHECK(ctattn::kernels::vector_decode_fits<8, default_arch> ==
          (W == 8 || W == 16 || (W == 4 && ctattn::simd::target::mve_float)));
    CHECK_FALSE(ctattn::kernels::vector_decode_fits<8, ctattn::simd::scalar_arch>);
    CHECK_FALSE(ctattn::kernels::vector_decode_fits<64, default_arch>);
}

TEST_CASE("vector_decode_attention: empty run 0, huge finite scores finite, NaN or overflowing scores reported") {
    using arch = ctattn::simd::default_arch;
    constexpr std::size_t H = 4, G = 2, D = 8, n = 21, stride = capacity * D;
    std::vector<float> q(H * D, 0.25f), k(G * stride, 0.5f), v(G * stride, 1.0f), scores(2 * n), context(H * D, -1.0f);
    auto run = [&](const std::vector<float>& qq, const std::vector<float>& kk, const std::vector<float>& vv,
                   ctattn::key_range visible) {
        return ctattn::kernels::vector_decode_attention<H, G, D, D, stride, arch>(
            qq.data(), kk.data(), vv.data(), visible, 0.35f, scores.data(), context.data());
    };
    CHECK(run(q, k, v, {3, 3}));
    for (float c : context) CHECK(c == 0.0f);

    // Scores ~1e30 apart: the largest gets weight 1 (2^0 exactly), the others 0: its value row.
    std::vector<float> k2(G * stride, 0.0f), v2(G * stride);
    for (std::size_t g = 0; g < G; ++g)
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t d = 0; d < D; ++d) {
                k2[g * stride + j * D + d] = j == 19 ? 1e18f : -1e18f;
                v2[g * stride + j * D + d] = float(j);
            }
    std::vector<float> q2(H * D, 1e12f);
    CHECK(run(q2, k2, v2, {0, n}));
    for (float c : context) CHECK(c == 19.0f);

    // A NaN key element (NaN score), and q . k beyond FLT_MAX (+inf score): irregular rows, left
    // to the general core (block.hpp then runs attend, which applies the contract's rules).
    k[G * 0 + 4 * D + 2] = NAN;
    CHECK_FALSE(run(q, k, v, {0, n}));
    std::vector<float> q3(H * D, 1e20f), k3(G * stride, 1e20f);
    CHECK_FALSE(run(q3, k3, v, {0, n}));
    // The same NaN key outside the visible run is never read.
    CHECK(run(q, k, v, {5, n}));
    for (float c : context) CHECK(c == Approx(1.0f).epsilon(1e-6));
}
