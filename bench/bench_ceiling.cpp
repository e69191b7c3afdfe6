// SPDX-License-Identifier: Apache-2.0
// The ceilings every other figure is a fraction of: this core's FMA throughput on its widest
// vector (many independent FMA chains, so latency is hidden and only the FMA ports limit), and
// read bandwidth from L2, L3 and DRAM (decode streams every weight once per token).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "bench_common.hpp"
#include "read_bandwidth.hpp"

namespace ctattn_bench {
namespace {

// The widest FMA the compiler targets. Chains: FMA latency x FMA ports is 4 x 2 = 8 on Zen 3 and
// Skylake-X, so 12 (AVX2: 12 accumulators + 2 operands fit the 16 ymm registers) or 24 (AVX-512:
// 32 zmm registers) independent accumulators keep both ports busy on any current core.
#if defined(__AVX512F__)
using vreg = __m512;
constexpr int lanes = 16, chains = 24;
inline vreg splat(float x) { return _mm512_set1_ps(x); }
inline vreg fma(vreg a, vreg b, vreg c) { return _mm512_fmadd_ps(a, b, c); }
inline float lane0(vreg v) { return _mm512_cvtss_f32(v); }
constexpr const char* isa = "avx512";
#elif defined(__FMA__)
using vreg = __m256;
constexpr int lanes = 8, chains = 12;
inline vreg splat(float x) { return _mm256_set1_ps(x); }
inline vreg fma(vreg a, vreg b, vreg c) { return _mm256_fmadd_ps(a, b, c); }
inline float lane0(vreg v) { return _mm256_cvtss_f32(v); }
constexpr const char* isa = "avx2+fma";
#elif defined(__aarch64__)
using vreg = float32x4_t;
constexpr int lanes = 4, chains = 16;
inline vreg splat(float x) { return vdupq_n_f32(x); }
inline vreg fma(vreg a, vreg b, vreg c) { return vfmaq_f32(c, a, b); }
inline float lane0(vreg v) { return vgetq_lane_f32(v, 0); }
constexpr const char* isa = "neon";
#else
using vreg = float;
constexpr int lanes = 1, chains = 8;
inline vreg splat(float x) { return x; }
inline vreg fma(vreg a, vreg b, vreg c) { return std::fma(a, b, c); }
inline float lane0(vreg v) { return v; }
constexpr const char* isa = "scalar";
#endif

constexpr int fma_steps = 1024;  // per chain per iteration: long enough to amortise the loop

// acc <- acc * a + b stays bounded (a < 1), so no chain overflows or turns denormal. The chains
// are a fold over an index pack, not a loop: GCC does not unroll a 24-iteration inner loop, and
// then keeps acc[] on the stack, so every FMA waits on a store and a reload (65 instead of ~170
// GFLOP/s measured on an AVX-512 Xeon).
template <std::size_t... Chain>
void fma_chains(vreg (&acc)[chains], float a, float b, std::index_sequence<Chain...>) {
    vreg live[chains] = {splat(float(Chain))...};
    const vreg va = splat(a), vb = splat(b);
    for (int step = 0; step < fma_steps; ++step) ((live[Chain] = fma(live[Chain], va, vb)), ...);
    ((acc[Chain] = live[Chain]), ...);
}

void fma_peak(benchmark::State& state) {
    const float a = 0.999f, b = 0.001f;
    vreg acc[chains];
    auto run = [&] { fma_chains(acc, a, b, std::make_index_sequence<chains>{}); };
    run();
    // Each lane of chain c runs the same recurrence as std::fma in float: exactly equal.
    for (int c = 0; c < chains; ++c) {
        float expect = float(c);
        for (int step = 0; step < fma_steps; ++step) expect = std::fma(expect, a, b);
        if (lane0(acc[c]) != expect) {
            state.SkipWithError("fma chain result differs from std::fma");
            ++failure_count();
            return;
        }
    }
    for (auto _ : state) {
        run();
        for (int c = 0; c < chains; ++c) benchmark::DoNotOptimize(acc[c]);
    }
    set_flops(state, 2.0 * lanes * chains * fma_steps);
    state.SetLabel(isa);
}

}  // namespace

void register_ceiling_benchmarks() {
    benchmark::RegisterBenchmark("ceiling/fma_peak", fma_peak);
    benchmark::RegisterBenchmark("ceiling/read_bandwidth/L2_256KiB", read_bandwidth, std::size_t(256) << 10);
    benchmark::RegisterBenchmark("ceiling/read_bandwidth/L3_8MiB", read_bandwidth, std::size_t(8) << 20);
    // The size of stories15M's weights (61 MB), read over and over as decode does: the bandwidth
    // of whichever level holds them on this machine (DRAM on a 32 MiB-L3 part, L3 on a 300 MiB one).
    benchmark::RegisterBenchmark("ceiling/read_bandwidth/weights_64MiB", read_bandwidth, std::size_t(64) << 20);
    // Larger than any L3 this runs on: DRAM.
    benchmark::RegisterBenchmark("ceiling/read_bandwidth/DRAM_1GiB", read_bandwidth, std::size_t(1) << 30);
}

}  // namespace ctattn_bench
