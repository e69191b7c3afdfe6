// SPDX-License-Identifier: Apache-2.0
// Streaming read bandwidth: the sum of a buffer of `bytes` with the widest vector the compiler
// targets and four accumulators, so the adds never limit the loads; bytes per second is what
// decode's bound divides the weight bytes by (every weight is read once per token). Shared by
// ctattn_bench (bench_ceiling.cpp: L2, L3, DRAM) and bench_decode_q8 (the weights' own sizes).
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "bench_common.hpp"

namespace ctattn_bench {
namespace stream {

#if defined(__AVX512F__)
using vreg = __m512;
inline constexpr std::size_t lanes = 16;
inline vreg zero() { return _mm512_setzero_ps(); }
inline vreg add(vreg a, vreg b) { return _mm512_add_ps(a, b); }
inline vreg load(const float* p) { return _mm512_load_ps(p); }
inline float lane0(vreg v) { return _mm512_cvtss_f32(v); }
#elif defined(__AVX2__)
using vreg = __m256;
inline constexpr std::size_t lanes = 8;
inline vreg zero() { return _mm256_setzero_ps(); }
inline vreg add(vreg a, vreg b) { return _mm256_add_ps(a, b); }
inline vreg load(const float* p) { return _mm256_load_ps(p); }
inline float lane0(vreg v) { return _mm256_cvtss_f32(v); }
#elif defined(__aarch64__)
using vreg = float32x4_t;
inline constexpr std::size_t lanes = 4;
inline vreg zero() { return vdupq_n_f32(0.0f); }
inline vreg add(vreg a, vreg b) { return vaddq_f32(a, b); }
inline vreg load(const float* p) { return vld1q_f32(p); }
inline float lane0(vreg v) { return vgetq_lane_f32(v, 0); }
#else
using vreg = float;
inline constexpr std::size_t lanes = 1;
inline vreg zero() { return 0.0f; }
inline vreg add(vreg a, vreg b) { return a + b; }
inline vreg load(const float* p) { return *p; }
inline float lane0(vreg v) { return v; }
#endif

}  // namespace stream

/// Benchmark body: reads `bytes` (rounded down to whole 4-vector steps) once per iteration; fails
/// the run (failure_count) if the sum is not the exact one, so the loop cannot be optimised away.
inline void read_bandwidth(benchmark::State& state, std::size_t bytes) {
    using namespace stream;
    const std::size_t n = bytes / sizeof(float) / (4 * lanes) * (4 * lanes);
    aligned_block<float> buffer(n);
    for (std::size_t i = 0; i < n; ++i) buffer[i] = float(i % 7) - 3.0f;  // small integers: exact sums
    auto run = [&] {
        vreg s0 = zero(), s1 = zero(), s2 = zero(), s3 = zero();
        for (std::size_t i = 0; i < n; i += 4 * lanes) {
            s0 = add(s0, load(buffer.data() + i));
            s1 = add(s1, load(buffer.data() + i + lanes));
            s2 = add(s2, load(buffer.data() + i + 2 * lanes));
            s3 = add(s3, load(buffer.data() + i + 3 * lanes));
        }
        return add(add(s0, s1), add(s2, s3));
    };
    // Lane 0 sums elements i = 0 mod lanes: integers, small enough to be exact in float.
    double expect = 0.0;
    for (std::size_t i = 0; i < n; i += lanes) expect += double(buffer[i]);
    if (double(lane0(run())) != expect) {
        state.SkipWithError("bandwidth kernel's sum is wrong");
        ++failure_count();
        return;
    }
    for (auto _ : state) {
        vreg s = run();
        benchmark::DoNotOptimize(s);
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(n * sizeof(float)));
}

}  // namespace ctattn_bench
