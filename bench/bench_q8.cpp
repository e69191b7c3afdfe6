// SPDX-License-Identifier: Apache-2.0
// Q8 matrix-vector products (simd/q8.hpp) per body, beside the scalar body and a float dot of the
// same length, at the model shapes the int8 kernels will run (stories15M: 288 -> 288, 288 -> 768,
// 768 -> 288; stories260K: 64 -> 64, 172 -> 64): every output row of a weight matrix, one row dot
// each (and q8_rows_dot 4 rows at a time). Each body's outputs are checked against the scalar
// body's before it is timed (a mismatch fails the process). After the runs, one table gives each
// body's time as a ratio: scalar / body and float / body (above 1: the body is faster); then the
// activation quantizer, dispatched body against scalar.
//   bench_q8 [--benchmark_min_time=0.2]
#include <ctattn/simd/q8.hpp>

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace ctattn;

int failures = 0;

// One weight matrix (Dout rows of Din codes, G per group) with its scales, and one activation row.
struct problem {
    std::size_t din, dout, groups;
    std::vector<std::int8_t> w, xq;
    std::vector<float> ws, xs, wf, xf, y, y_ref;
    problem(std::size_t din_, std::size_t dout_, std::size_t g) : din(din_), dout(dout_), groups(din_ / g) {
        std::mt19937 rng(din * 131 + dout);
        std::uniform_int_distribution<int> wcode(-128, 127), xcode(-127, 127);
        std::uniform_real_distribution<float> scale(0.001f, 0.02f), value(-1.0f, 1.0f);
        w.resize(din * dout);
        wf.resize(din * dout);
        xq.resize(din);
        xf.resize(din);
        ws.resize(groups * dout);
        xs.resize(groups);
        for (auto& v : w) v = static_cast<std::int8_t>(wcode(rng));
        for (auto& v : xq) v = static_cast<std::int8_t>(xcode(rng));
        for (auto& v : ws) v = scale(rng);
        for (auto& v : xs) v = scale(rng);
        for (auto& v : wf) v = value(rng);
        for (auto& v : xf) v = value(rng);
        y.resize(dout);
        y_ref.resize(dout);
    }
};

template <std::size_t G>
using row_fn = float (*)(const std::int8_t*, const float*, const std::int8_t*, const float*, std::size_t);

template <std::size_t G>
void matvec(const problem& p, row_fn<G> row, float* y) {
    for (std::size_t o = 0; o < p.dout; ++o)
        y[o] = row(p.w.data() + o * p.din, p.ws.data() + o * p.groups, p.xq.data(), p.xs.data(), p.groups);
}

template <std::size_t G>
void matvec_rows4(const problem& p, float* y) {
    std::size_t o = 0;
    for (; o + 4 <= p.dout; o += 4)
        simd::q8_rows_dot<G, 4>(p.w.data() + o * p.din, p.din, p.ws.data() + o * p.groups, p.groups, p.xq.data(),
                                p.xs.data(), p.groups, y + o);
    for (; o < p.dout; ++o)
        y[o] = simd::q8_row_dot<G>(p.w.data() + o * p.din, p.ws.data() + o * p.groups, p.xq.data(), p.xs.data(), p.groups);
}

// The float baseline: the same row length, the widest float vectors xsimd has here, two
// accumulators (ctattn's float row projection is of this kind).
float float_dot(const float* a, const float* b, std::size_t n) {
#if defined(CTATTN_HAS_XSIMD)
    using batch = xsimd::batch<float>;
    constexpr std::size_t lanes = batch::size;
    batch acc0(0.0f), acc1(0.0f);
    std::size_t i = 0;
    for (; i + 2 * lanes <= n; i += 2 * lanes) {
        acc0 = xsimd::fma(batch::load_unaligned(a + i), batch::load_unaligned(b + i), acc0);
        acc1 = xsimd::fma(batch::load_unaligned(a + i + lanes), batch::load_unaligned(b + i + lanes), acc1);
    }
    for (; i + lanes <= n; i += lanes) acc0 = xsimd::fma(batch::load_unaligned(a + i), batch::load_unaligned(b + i), acc0);
    float sum = xsimd::hadd(acc0 + acc1);
#else
    float sum = 0.0f;
    std::size_t i = 0;
#endif
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

// Checked against the scalar body: the float sums differ only in order, so within a few float
// roundings of the products' magnitude (at most 1e-4 of it here).
template <std::size_t G>
bool agrees(const problem& p, const float* y, const char* name) {
    for (std::size_t o = 0; o < p.dout; ++o) {
        double magnitude = 0.0;
        for (std::size_t g = 0; g < p.groups; ++g)
            for (std::size_t i = 0; i < G; ++i)
                magnitude += std::fabs(double(p.ws[o * p.groups + g]) * p.xs[g] * p.w[o * p.din + g * G + i] * p.xq[g * G + i]);
        if (!(std::fabs(double(y[o]) - double(p.y_ref[o])) <= 1e-4 * magnitude)) {
            std::fprintf(stderr, "bench_q8: %s row %zu: %g, scalar body %g\n", name, o, double(y[o]), double(p.y_ref[o]));
            ++failures;
            return false;
        }
    }
    return true;
}

template <std::size_t G>
void register_shape(std::size_t din, std::size_t dout) {
    auto* p = new problem(din, dout, G);  // lives for the whole run
    matvec<G>(*p, &simd::scalar_q8::row_dot<G>, p->y_ref.data());
    const std::string shape = std::to_string(din) + "x" + std::to_string(dout) + "/G" + std::to_string(G);
    auto add_q8 = [p, shape](const char* name, row_fn<G> row) {
        benchmark::RegisterBenchmark(("q8/" + shape + "/" + name).c_str(), [p, row, name](benchmark::State& state) {
            matvec<G>(*p, row, p->y.data());
            if (!agrees<G>(*p, p->y.data(), name)) {
                state.SkipWithError("disagrees with the scalar body");
                return;
            }
            for (auto _ : state) {
                matvec<G>(*p, row, p->y.data());
                benchmark::DoNotOptimize(p->y.data());
                benchmark::ClobberMemory();
            }
        });
    };
    add_q8("scalar", &simd::scalar_q8::row_dot<G>);
    add_q8("dispatched", &simd::q8_row_dot<G>);  // the body q8.hpp chooses for G on this target
#if defined(CTATTN_Q8_AVX2)
    add_q8("avx2", &simd::q8_x86::row_dot_avx2<G>);
#endif
#if defined(CTATTN_Q8_AVX_VNNI)
    add_q8("avx_vnni", &simd::q8_x86::row_dot_avx_vnni<G>);
#endif
#if defined(CTATTN_Q8_AVX512_VNNI)
    add_q8("avx512_vnni", &simd::q8_x86::row_dot_avx512_vnni<G>);
#endif
#if defined(CTATTN_Q8_NEON)
    add_q8("neon", &simd::q8_neon::row_dot<G>);
#endif
    benchmark::RegisterBenchmark(("q8/" + shape + "/rows4").c_str(), [p](benchmark::State& state) {
        matvec_rows4<G>(*p, p->y.data());
        if (!agrees<G>(*p, p->y.data(), "rows4")) {
            state.SkipWithError("disagrees with the scalar body");
            return;
        }
        for (auto _ : state) {
            matvec_rows4<G>(*p, p->y.data());
            benchmark::DoNotOptimize(p->y.data());
            benchmark::ClobberMemory();
        }
    });
    benchmark::RegisterBenchmark(("q8/" + shape + "/float").c_str(), [p](benchmark::State& state) {
        for (auto _ : state) {
            for (std::size_t o = 0; o < p->dout; ++o) p->y[o] = float_dot(p->wf.data() + o * p->din, p->xf.data(), p->din);
            benchmark::DoNotOptimize(p->y.data());
            benchmark::ClobberMemory();
        }
    });
}

// Quantizing one activation row (once per matrix-vector product): the dispatched body vs scalar.
template <std::size_t G>
void register_quantize(std::size_t din) {
    auto* p = new problem(din, 1, G);
    const std::string shape = std::to_string(din) + "/G" + std::to_string(G);
    auto add = [p, shape](const char* name, void (*fn)(const float*, std::size_t, std::int8_t*, float*)) {
        benchmark::RegisterBenchmark(("quantize/" + shape + "/" + name).c_str(), [p, fn](benchmark::State& state) {
            for (auto _ : state) {
                fn(p->xf.data(), p->groups, p->xq.data(), p->xs.data());
                benchmark::DoNotOptimize(p->xq.data());
                benchmark::ClobberMemory();
            }
        });
    };
    add("scalar", &simd::scalar_q8::quantize<G>);
    add("dispatched", &simd::q8_quantize<G>);
}

// The console output as usual, plus each run's CPU time per iteration (the machine may be shared:
// CPU time is what the run itself used), for the ratio table.
class ratio_reporter : public benchmark::ConsoleReporter {
public:
    std::map<std::string, double> seconds;
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& run : runs)
            if (!run.error_occurred) seconds[run.benchmark_name()] = run.GetAdjustedCPUTime();
    }
};

}  // namespace

int main(int argc, char** argv) {
    register_shape<32>(288, 288);
    register_shape<32>(288, 768);
    register_shape<64>(768, 288);
    register_shape<64>(64, 64);
    register_shape<43>(172, 64);
    register_quantize<32>(288);
    register_quantize<64>(768);
    register_quantize<43>(172);
    benchmark::Initialize(&argc, argv);
    ratio_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    // name = q8/<shape>/<body>: ratios against the same shape's scalar and float runs.
    std::printf("\n%-22s %-12s %14s %14s\n", "shape", "body", "scalar/body", "float/body");
    for (const auto& [name, t] : reporter.seconds) {
        if (name.rfind("q8/", 0) != 0) continue;
        const std::size_t cut = name.rfind('/');
        const std::string shape = name.substr(3, cut - 3), body = name.substr(cut + 1);
        const auto scalar = reporter.seconds.find("q8/" + shape + "/scalar");
        const auto flt = reporter.seconds.find("q8/" + shape + "/float");
        if (scalar == reporter.seconds.end() || flt == reporter.seconds.end()) continue;
        std::printf("%-22s %-12s %14.2f %14.2f\n", shape.c_str(), body.c_str(), scalar->second / t, flt->second / t);
    }
    for (const auto& [name, t] : reporter.seconds) {
        if (name.rfind("quantize/", 0) != 0 || name.find("/dispatched") == std::string::npos) continue;
        const std::string shape = name.substr(9, name.rfind('/') - 9);
        const auto scalar = reporter.seconds.find("quantize/" + shape + "/scalar");
        if (scalar != reporter.seconds.end())
            std::printf("quantize %-13s %-12s %14.2f\n", shape.c_str(), "dispatched", scalar->second / t);
    }
    benchmark::Shutdown();
    return failures == 0 ? 0 : 1;
}
