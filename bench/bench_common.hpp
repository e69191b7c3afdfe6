// SPDX-License-Identifier: Apache-2.0
// Shared plumbing for the benchmarks: deterministic inputs, the FLOP counter, and the correctness
// gate every benchmark passes through before it times anything (a fast wrong kernel must not
// produce a figure, so a mismatch skips the benchmark with an error and fails the process).
#pragma once

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

namespace ctattn_bench {

// Set when any benchmark's result disagrees with its reference; main() turns it into exit code 1.
inline int& failure_count() {
    static int failures = 0;
    return failures;
}

// Uniform [-scale, scale] floats from a fixed seed: every implementation sees the same inputs.
inline std::vector<float> random_floats(std::size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> out(n);
    for (auto& v : out) v = dist(rng);
    return out;
}

// 64-byte aligned heap block for the benchmark harness (ctattn itself never allocates; the
// harness needs buffers whose size depends on the grid point).
template <class T>
struct aligned_block {
    struct deleter {
        void operator()(T* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
    };
    std::unique_ptr<T[], deleter> ptr;
    std::size_t count = 0;
    aligned_block() = default;
    explicit aligned_block(std::size_t n)
        : ptr(static_cast<T*>(::operator new[](sizeof(T) * (n ? n : 1), std::align_val_t{64}))), count(n) {
        // Value-initialise in place: some T (ctattn workspaces) are megabytes, too big for a temporary.
        for (std::size_t i = 0; i < n; ++i) ::new (static_cast<void*>(ptr.get() + i)) T();
    }
    T* data() noexcept { return ptr.get(); }
    const T* data() const noexcept { return ptr.get(); }
    T& operator[](std::size_t i) noexcept { return ptr[i]; }
    const T& operator[](std::size_t i) const noexcept { return ptr[i]; }
};

// Compares `got` with a double-precision reference: |got - want| <= abs_tol + rel_tol * scale,
// where scale is the largest |want| (a float kernel's rounding error grows with the magnitude of
// the terms it sums, so the bound is relative to the output's range). On the first mismatch the
// benchmark is skipped with an error naming the element, and the failure is counted.
inline bool agrees(benchmark::State& state, const char* what, const float* got, const double* want, std::size_t n,
                   double rel_tol, double abs_tol = 0.0) {
    double scale = 0.0;
    for (std::size_t i = 0; i < n; ++i) scale = std::fabs(want[i]) > scale ? std::fabs(want[i]) : scale;
    for (std::size_t i = 0; i < n; ++i) {
        const double err = std::fabs(double(got[i]) - want[i]);
        if (!(err <= abs_tol + rel_tol * scale)) {
            char msg[256];
            std::snprintf(msg, sizeof msg, "%s: element %zu is %.7g, reference %.7g (tolerance %.3g)", what, i,
                          double(got[i]), want[i], abs_tol + rel_tol * scale);
            std::fprintf(stderr, "MISMATCH %s\n", msg);
            state.SkipWithError(msg);
            ++failure_count();
            return false;
        }
    }
    return true;
}

// The skeleton every benchmark shares: run once, let `check` compare that result with the
// reference (a mismatch has already skipped the benchmark: nothing is timed), then time `run`.
// `output` is escaped every iteration so the compiler cannot drop the work as unused.
template <class Run, class Check>
bool check_then_time(benchmark::State& state, const void* output, Run&& run, Check&& check) {
    run();
    if (!check()) return false;
    for (auto _ : state) {
        run();
        benchmark::DoNotOptimize(output);
        benchmark::ClobberMemory();
    }
    return true;
}

// Useful floating-point work per iteration, reported as GFLOP/s (masked-out work is not counted,
// so an implementation that computes masked scores and throws them away is not credited for them).
inline void set_flops(benchmark::State& state, double flops_per_iteration) {
    state.counters["GFLOPs"] =
        benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// Elements per second, for kernels whose FLOP count is not meaningful (softmax: exp dominates).
inline void set_elements(benchmark::State& state, double elements_per_iteration) {
    state.counters["Gelem_s"] =
        benchmark::Counter(elements_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace ctattn_bench
