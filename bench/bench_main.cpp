// SPDX-License-Identifier: Apache-2.0
// One benchmark binary: every implementation of a computation runs in the same process, so the
// ratios in docs/performance.md compare runs under the same machine load. Exits 1 if any
// benchmark's result disagreed with its reference (bench_smoke relies on that).
#include <benchmark/benchmark.h>

#include <ctattn/simd/ops.hpp>

#include <cstdio>

#include "bench_common.hpp"

namespace ctattn_bench {
void register_ceiling_benchmarks();
void register_projection_benchmarks();
void register_attention_kernel_benchmarks();
void register_mha_benchmarks();
void register_block_benchmarks();
void register_decode_benchmarks();
}  // namespace ctattn_bench

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("ctattn_arch", ctattn::simd::arch_name<ctattn::simd::default_arch>());
    ctattn_bench::register_ceiling_benchmarks();
    ctattn_bench::register_projection_benchmarks();
    ctattn_bench::register_attention_kernel_benchmarks();
    ctattn_bench::register_mha_benchmarks();
    ctattn_bench::register_block_benchmarks();
    ctattn_bench::register_decode_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (ctattn_bench::failure_count() != 0) {
        std::fprintf(stderr, "ctattn_bench: %d benchmark(s) disagreed with their reference\n",
                     ctattn_bench::failure_count());
        return 1;
    }
    return 0;
}
