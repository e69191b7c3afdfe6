// SPDX-License-Identifier: Apache-2.0
// The blocked attention core's own kernels: K transposed in register blocks
// (transpose_keys: 16 x 16 under AVX-512, 8 x 8 under AVX, element by element elsewhere) and the
// softmax of a query block's rows in lockstep (softmax_rows). Awkward shapes throughout: head_dim
// 1, 3, 5, 8, 13, 16, 24, 40; key counts on both sides of every block size; runs that are empty,
// one key long, or hold -inf, NaN, +inf or scores whose scaled max overflows.
#include <catch2/catch.hpp>

#include <ctattn/kernels/scores.hpp>
#include <ctattn/kernels/softmax.hpp>
#include <ctattn/simd/ops.hpp>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../reference/forward_double.hpp"

namespace {

namespace ref = ctattn_test::ref;
using ctattn::key_range;
using ctattn::simd::default_arch;
using ctattn::simd::scalar_arch;

constexpr double unit_roundoff = 0x1p-24;
constexpr float minus_inf = -std::numeric_limits<float>::infinity();

std::vector<float> random_floats(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> out(n);
    for (float& v : out) v = dist(rng);
    return out;
}

// A transpose moves floats, it computes nothing: every element must come out bit for bit, the
// padding up to the vector width must be 0, and nothing past it may be written.
template <std::size_t HeadDim, std::size_t KStride, std::size_t Width>
void check_transpose_keys() {
    constexpr std::size_t max_keys = 70, kt_stride = 80;  // room past every padded run
    const auto k = random_floats(max_keys * KStride, unsigned(HeadDim * 7 + KStride));
    for (std::size_t n_keys : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 64, 70}) {
        std::vector<float> kt(HeadDim * kt_stride, 42.0f);
        ctattn::kernels::transpose_keys<HeadDim, KStride, kt_stride, Width>(n_keys, k.data(), kt.data());
        const std::size_t padded = (n_keys + Width - 1) / Width * Width;
        bool exact = true, padding_zero = true, rest_untouched = true;
        for (std::size_t d = 0; d < HeadDim; ++d)
            for (std::size_t j = 0; j < kt_stride; ++j) {
                const float got = kt[d * kt_stride + j];
                if (j < n_keys) exact = exact && std::memcmp(&got, &k[j * KStride + d], sizeof got) == 0;
                else if (j < padded) padding_zero = padding_zero && got == 0.0f;
                else rest_untouched = rest_untouched && got == 42.0f;
            }
        INFO("head_dim " << HeadDim << " k stride " << KStride << " keys " << n_keys << " width " << Width);
        CHECK(exact);
        CHECK(padding_zero);
        CHECK(rest_untouched);
    }
}

// softmax_rows against softmax_row row by row: the same operations in the same order, so the
// same bits (and the same "recompute in double" verdict); and, for regular rows, against the
// double softmax with softmax_row's bound (docs in tests/kernels/test_kernels.cpp): relative error
// <= (26 + 4n) u.
template <class Arch, std::size_t Rows>
void check_softmax_rows(std::size_t n, std::size_t stride, unsigned seed) {
    const float scale = 0.25f;
    std::mt19937 rng(seed);
    for (int trial = 0; trial < 40; ++trial) {
        auto block = random_floats(Rows * stride, seed + unsigned(trial), -20.0f, 20.0f);
        key_range visible[Rows];
        for (std::size_t r = 0; r < Rows; ++r) {
            const std::size_t a = rng() % (n + 1), b = rng() % (n + 1);
            visible[r] = trial % 5 == 0 && r == 0 ? key_range{a, a} : key_range{a < b ? a : b, a < b ? b : a};
            if (trial % 3 == 0) visible[r] = {0, 1 + (n - 1) * r / Rows};  // a causal block: a shared start
            float* row = block.data() + r * stride;
            switch ((trial + int(r)) % 7) {  // special values inside the run, some rows
                case 1: if (!visible[r].empty()) row[visible[r].begin] = minus_inf; break;
                case 2: if (!visible[r].empty()) row[visible[r].end - 1] = std::numeric_limits<float>::quiet_NaN(); break;
                case 3: if (!visible[r].empty()) row[visible[r].begin] = std::numeric_limits<float>::infinity(); break;
                case 4: if (!visible[r].empty()) row[visible[r].begin] = 3e38f; break;  // scale * max fine, exp args not
                case 5: for (std::size_t j = visible[r].begin; j < visible[r].end; ++j) row[j] = minus_inf; break;
                default: break;
            }
            for (std::size_t j = 0; j < n; ++j)  // masked slots hold anything (a score tile's leftovers)
                if (j < visible[r].begin || j >= visible[r].end) row[j] = j % 3 == 0 ? std::numeric_limits<float>::quiet_NaN() : 1e30f;
        }
        std::vector<float> want = block;
        bool want_regular[Rows], got_regular[Rows];
        for (std::size_t r = 0; r < Rows; ++r)
            want_regular[r] = ctattn::kernels::softmax_row<Arch>(want.data() + r * stride, n, visible[r], scale);
        const std::vector<float> scores = block;
        ctattn::kernels::softmax_rows<Arch, Rows>(block.data(), stride, n, visible, scale, got_regular);
        for (std::size_t r = 0; r < Rows; ++r) {
            INFO("arch " << ctattn::simd::arch_name<Arch>() << " rows " << Rows << " row " << r << " n " << n
                         << " run " << visible[r].begin << ".." << visible[r].end << " trial " << trial);
            REQUIRE(got_regular[r] == want_regular[r]);
            REQUIRE(std::memcmp(block.data() + r * stride, want.data() + r * stride, n * sizeof(float)) == 0);
            for (std::size_t j = n; j < stride; ++j)  // past n: untouched
                REQUIRE(std::memcmp(&block[r * stride + j], &scores[r * stride + j], sizeof(float)) == 0);
            if (!got_regular[r]) continue;
            ref::vec masked(n, -std::numeric_limits<double>::infinity());
            for (std::size_t j = visible[r].begin; j < visible[r].end; ++j) masked[j] = double(scale) * scores[r * stride + j];
            const ref::vec p = visible[r].empty() ? ref::vec(n, 0.0) : ref::softmax(masked);
            const double bound = (26.0 + 4.0 * double(n)) * unit_roundoff;
            for (std::size_t j = 0; j < n; ++j) {
                const double got = block[r * stride + j];
                if (p[j] == 0.0 || std::isnan(p[j])) REQUIRE(got == 0.0);
                else REQUIRE(std::abs(got - p[j]) <= bound * p[j] + 1e-37);
            }
        }
    }
}

template <class Arch>
void check_softmax_rows_shapes() {
    for (std::size_t n : {1, 5, 15, 16, 17, 33, 64}) {
        const std::size_t stride = n + 16;  // room for a whole-vector tail
        check_softmax_rows<Arch, 1>(n, stride, unsigned(n));
        check_softmax_rows<Arch, 4>(n, stride, unsigned(n) + 100);
        check_softmax_rows<Arch, 6>(n, stride, unsigned(n) + 200);
        check_softmax_rows<Arch, 6>(n, n, unsigned(n) + 300);  // no room: tails copied lane by lane
    }
}

#if defined(CTATTN_HAS_AVX512F)
// The inlined AVX-512 exp (simd/x86.hpp, x86::exp_16) against the double exp over every float
// argument that matters: 2^22 random points in [-110, 95] plus the edges. The bound is stated in
// simd.hpp: <= 2 ulp of a normal result, <= 2^-149 absolute below FLT_MIN, +inf past FLT_MAX.
// Returns the worst ulp error seen, for the report.
double check_exp_16() {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(-110.0f, 95.0f);
    std::vector<float> x(1 << 22);
    for (float& v : x) v = dist(rng);
    const float edges[] = {0.0f, -0.0f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f, 88.0f, 88.72f, 88.7228394f, 88.8f, 89.0f,
                           -87.3f, -103.9f, -104.0f, -150.0f, 1e30f, -1e30f, 0.5f, -0.5f, 1.0f, -1.0f, 20.0f, -20.0f};
    for (std::size_t i = 0; i < sizeof edges / sizeof edges[0]; ++i) x[i] = edges[i];
    double worst_ulp = 0.0;
    bool below_ok = true, above_ok = true;
    for (std::size_t i = 0; i < x.size(); i += 16) {
        alignas(64) float out[16];
        _mm512_store_ps(out, ctattn::simd::x86::exp_16(_mm512_loadu_ps(&x[i])));
        for (std::size_t t = 0; t < 16; ++t) {
            const double exact = std::exp(double(x[i + t]));
            const double got = out[t];
            if (exact >= double(std::numeric_limits<float>::max())) {
                // past FLT_MAX (or within its last half ulp): +inf or FLT_MAX
                above_ok = above_ok && (std::isinf(got) || got == double(std::numeric_limits<float>::max()));
            } else if (exact < double(std::numeric_limits<float>::min())) {
                below_ok = below_ok && std::abs(got - exact) <= 0x1p-149;
            } else {
                const double ulp = std::ldexp(1.0, std::ilogb(exact) - 23);
                const double err = std::abs(got - exact) / ulp;
                worst_ulp = err > worst_ulp ? err : worst_ulp;
            }
        }
    }
    CHECK(below_ok);
    CHECK(above_ok);
    CHECK(worst_ulp <= 2.0);
    return worst_ulp;
}
#endif

}  // namespace

#if defined(CTATTN_HAS_AVX512F)
TEST_CASE("the inlined AVX-512 exp is within 2 ulp of the double exp, 0 below, +inf above, NaN through",
          "[kernels][exp]") {
    const double worst = check_exp_16();
    WARN("exp_16: worst error " << worst << " ulp of a normal result");
    alignas(64) float in[16] = {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity(),
                                std::numeric_limits<float>::quiet_NaN(), 0.0f, 89.0f, -104.0f, 1.0f, -1.0f,
                                0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    alignas(64) float out[16];
    _mm512_store_ps(out, ctattn::simd::x86::exp_16(_mm512_load_ps(in)));
    CHECK(out[0] == 0.0f);
    CHECK(std::isinf(out[1]));
    CHECK(std::isnan(out[2]));
    CHECK(out[3] == 1.0f);
    CHECK(std::isinf(out[4]));
    CHECK(out[5] == 0.0f);
}
#endif

TEST_CASE("K transposed in register blocks equals K element by element, padded with zeros, nothing past",
          "[kernels][transpose]") {
    constexpr std::size_t W = ctattn::simd::width<default_arch>;
    check_transpose_keys<1, 1, W>();
    check_transpose_keys<3, 3, W>();
    check_transpose_keys<5, 8, W>();
    check_transpose_keys<8, 8, W>();
    check_transpose_keys<8, 64, W>();
    check_transpose_keys<13, 13, W>();
    check_transpose_keys<16, 16, W>();
    check_transpose_keys<16, 19, W>();
    check_transpose_keys<24, 24, W>();
    check_transpose_keys<40, 256, W>();
    check_transpose_keys<40, 43, 1>();
}

TEST_CASE("softmax of a block's rows in lockstep gives softmax_row's bits and verdict, and the double softmax",
          "[kernels][softmax]") {
    check_softmax_rows_shapes<default_arch>();
    check_softmax_rows_shapes<scalar_arch>();
}
