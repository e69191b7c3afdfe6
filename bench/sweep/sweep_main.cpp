// SPDX-License-Identifier: Apache-2.0
// ctattn_sweep: every kernel, the layer and decode on every arch this CPU supports, side by side
// in one run. Each arch is a shared module built from sweep_module.cpp with its own -m flags
// (bench/sweep/meson.build); this harness asks xsimd which archs the CPU has, loads only those
// modules (dlopen: a module for an arch the CPU lacks is never mapped, so not even a static
// initialiser of it runs), makes the inputs and double-precision references once, checks every
// arch's first result against them and only then registers timing. Names read
// sweep/<kernel>/<shape>/<arch>; a mismatch skips that case with an error and the binary exits 1.
#include <benchmark/benchmark.h>

#include <xsimd/config/xsimd_cpuid.hpp>

#include <dlfcn.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../bench_common.hpp"
#include "../decode_models.hpp"
#include "../plain_loops.hpp"
#include "../../tests/reference/forward_double.hpp"
#include "sweep_abi.hpp"
#include "sweep_shapes.hpp"

namespace ctattn_sweep {
namespace {

using ctattn_bench::agrees;
using ctattn_bench::failure_count;
namespace ref = ctattn_test::ref;

// The archs a module is built for, narrowest first, and whether this CPU can run each: xsimd's
// CPUID/HWCAP probe (available_architectures), cross-checked on x86 with GCC's
// __builtin_cpu_supports, which also asks the OS (XCR0) whether it saves the AVX/AVX-512
// registers. xsimd 8.1 reads two flags from the wrong place: AVX from leaf 0x80000001 (it is
// leaf 1, ECX bit 28; an AVX2 Xeon reports no AVX) and SSE2 from ECX bit 26 (XSAVE; SSE2 is
// EDX bit 26), so for those two the compiler's probe alone decides. avx512 means F, CD, DQ
// and BW, the flags its module is built with.
struct arch_entry {
    const char* name;
    bool supported;
};

std::vector<arch_entry> known_archs() {
    const auto cpu = xsimd::available_architectures();
    (void)cpu;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return {
        {"scalar", true},
        {"sse2", bool(__builtin_cpu_supports("sse2"))},
        {"sse4_2", cpu.sse4_2 && __builtin_cpu_supports("sse4.2")},
        {"avx", bool(__builtin_cpu_supports("avx"))},
        {"avx2_fma", cpu.fma3_avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")},
        {"avx512", cpu.avx512f && cpu.avx512cd && cpu.avx512dq && cpu.avx512bw && __builtin_cpu_supports("avx512f") &&
                       __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                       __builtin_cpu_supports("avx512bw")},
    };
#elif defined(__aarch64__)
    return {{"scalar", true}, {"neon64", bool(cpu.neon64)}};
#else
    return {{"scalar", true}};
#endif
}

// Tolerances, as bench/bench_kernels.cpp, bench_mha.cpp and bench_decode.cpp state them: 1e-4 of
// the reference's largest magnitude for one kernel (float rounding of <= 256-term sums is a few
// 1e-6 in any order; an indexing or masking bug is O(1)); 2e-4 for the layer's four chained
// products; 2e-3 of the largest logit after 512 steps through 5 layers.
constexpr double kernel_tolerance = 1e-4, layer_tolerance = 2e-4, logits_tolerance = 2e-3;

struct shape_numbers {
    std::size_t seq = 0, dim = 0, heads = 0;
    bool causal = false;
};

shape_numbers parse_shape(const std::string& shape) {
    shape_numbers n;
    unsigned s = 0, d = 0, h = 0;
    char mask[16] = {};
    const int got = std::sscanf(shape.c_str(), "S%u/D%u/H%u/%15s", &s, &d, &h, mask);
    n.seq = s, n.dim = d, n.heads = got >= 3 ? h : 1, n.causal = std::strcmp(mask, "causal") == 0;
    return n;
}

std::vector<float> to_floats(const ref::dvec& v) {
    std::vector<float> f(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) f[i] = float(v[i]);  // -inf (masked) stays -inf
    return f;
}

// One kernel/shape's inputs (the same floats for every arch) and what its output must be.
struct case_data {
    std::vector<float> a, b, c, w[4];
    std::vector<unsigned char> bytes;
    std::vector<unsigned> tokens;
    ref::dvec expected;
    std::vector<char> compared;  // 1 where an output element is checked (visible entries only)
    double tolerance = kernel_tolerance;
    ctattn_sweep_inputs inputs{};
};

void fill_inputs(case_data& d) {
    d.inputs.a = d.a.data(), d.inputs.b = d.b.data(), d.inputs.c = d.c.data();
    for (int m = 0; m < 4; ++m) d.inputs.w[m] = d.w[m].data();
    d.inputs.bytes = d.bytes.data(), d.inputs.byte_count = d.bytes.size(), d.inputs.tokens = d.tokens.data();
}

// Only the entries a mask lets through are compared (what a kernel leaves in masked slots is its
// own business).
std::vector<char> visible_entries(const shape_numbers& n) {
    std::vector<char> keep(n.heads * n.seq * n.seq, 0);
    for (std::size_t h = 0; h < n.heads; ++h)
        for (std::size_t i = 0; i < n.seq; ++i)
            for (std::size_t j = 0; j < ref::visible_keys(n.causal, i, n.seq); ++j) keep[(h * n.seq + i) * n.seq + j] = 1;
    return keep;
}

std::unique_ptr<case_data> make_case_data(const std::string& kernel, const std::string& shape, const ctattn_sweep_module& m,
                                          std::size_t output_count) {
    auto d = std::make_unique<case_data>();
    const shape_numbers n = parse_shape(shape);
    const std::size_t S = n.seq, D = n.dim;
    if (kernel == "fma_peak") {  // each lane of chain c: the recurrence in float, fused or not as the arch runs it
        for (std::size_t c = 0; c < output_count; ++c) {
            float e = float(c);
            for (std::size_t step = 0; step < shapes::peak_steps; ++step) {
                if (m.has_fma) {
                    e = std::fma(e, shapes::peak_a, shapes::peak_b);
                } else {
                    // Rounded on its own: C++ lets GCC contract a * b + c into an FMA under -march=native.
                    volatile float product = e * shapes::peak_a;
                    e = product + shapes::peak_b;
                }
            }
            d->expected.push_back(e);
        }
        d->tolerance = 0.0;  // the same operations in the same order: equal bit for bit
    } else if (kernel == "projection") {
        d->a = ctattn_bench::random_floats(S * D, 11 + unsigned(D));
        d->b = ctattn_bench::random_floats(D * D, 29 + unsigned(D));
        d->expected = ref::matmul(ref::widen(d->a.data(), d->a.size()), ref::widen(d->b.data(), d->b.size()), nullptr, S, D, D);
    } else if (kernel == "scores" || kernel == "softmax" || kernel == "aggregate") {
        const auto q = ctattn_bench::random_floats(S * D, 3), k = ctattn_bench::random_floats(S * D, 5);
        const auto v = ctattn_bench::random_floats(S * D, 7);
        const ref::dvec scores = ref::scores(ref::widen(q.data(), q.size()), ref::widen(k.data(), k.size()), S, D, n.heads,
                                             n.heads, ref::causal_or_none(n.causal));
        const ref::dvec p = ref::softmax_rows(scores, S);
        if (kernel == "scores") {
            d->a = q, d->b = k, d->expected = scores, d->compared = visible_entries(n);
        } else if (kernel == "softmax") {
            d->a = to_floats(scores), d->expected = p, d->compared = visible_entries(n);
        } else {
            d->b = to_floats(p), d->c = v;
            d->expected = ref::aggregate(ref::widen(d->b.data(), d->b.size()), ref::widen(v.data(), v.size()), S, D, n.heads,
                                         n.heads);
        }
    } else if (kernel == "mha") {
        d->a = ctattn_bench::random_floats(S * D, 101);
        ref::dvec wd[4];
        for (unsigned i = 0; i < 4; ++i) {
            d->w[i] = ctattn_bench::random_floats(D * D, 200 + i + unsigned(D), float(1.0 / std::sqrt(double(D))));
            wd[i] = ref::widen(d->w[i].data(), d->w[i].size());
        }
        d->expected = ref::mha(ref::widen(d->a.data(), d->a.size()), S, D, n.heads, n.heads, wd[0], wd[1], wd[2], wd[3],
                               nullptr, nullptr, nullptr, nullptr, ref::causal_or_none(n.causal))
                          .y;
        d->tolerance = layer_tolerance;
    } else if (kernel == "decode") {  // every step's logits from the plain model on the same bytes
        using shape_type = ctattn_bench::stories260k;
        d->bytes = ctattn_bench::random_checkpoint(shape_type::plain, 1234);
        for (auto t : ctattn_bench::random_tokens(shapes::decode_length, shape_type::config::vocab, 77))
            d->tokens.push_back(unsigned(t));
        ctattn_bench::plain_llama_model reference(shape_type::plain, d->bytes);
        for (std::size_t pos = 0; pos < shapes::decode_length; ++pos) {
            plain::llama_forward(reference.shape, reference.w, reference.s, int(d->tokens[pos]), int(pos));
            for (float l : reference.logits) d->expected.push_back(l);
        }
        d->tolerance = logits_tolerance;
    }
    fill_inputs(*d);
    return d;
}

bool output_agrees(benchmark::State& state, const std::string& what, const case_data& d, const float* got,
                   std::size_t count) {
    if (d.expected.size() != count) {
        state.SkipWithError(("no reference of the right size for " + what).c_str());
        ++failure_count();
        return false;
    }
    if (d.compared.empty()) return agrees(state, what.c_str(), got, d.expected.data(), count, d.tolerance);
    std::vector<float> got_kept;
    ref::dvec want_kept;
    for (std::size_t i = 0; i < count; ++i)
        if (d.compared[i]) got_kept.push_back(got[i]), want_kept.push_back(d.expected[i]);
    return agrees(state, what.c_str(), got_kept.data(), want_kept.data(), got_kept.size(), d.tolerance);
}

// The registered benchmark: make the case (the module copies the inputs), run once, check, time.
void run_case(benchmark::State& state, const ctattn_sweep_module* m, const ctattn_sweep_case* c, const case_data* d,
              std::string name) {
    void* made = c->make(&d->inputs);
    if (!made) {
        state.SkipWithError("the case could not be made (a load or forward returned an error status)");
        ++failure_count();
        return;
    }
    c->run(made);
    if (output_agrees(state, name, *d, c->output(made), c->output_count)) {
        for (auto _ : state) {
            c->run(made);
            benchmark::DoNotOptimize(c->output(made));
            benchmark::ClobberMemory();
        }
        const double work = std::strcmp(c->counter, "tokens_s") == 0 ? c->work : c->work * 1e-9;
        state.counters[c->counter] = benchmark::Counter(work, benchmark::Counter::kIsIterationInvariantRate);
        state.SetLabel(m->xsimd_arch);
    }
    c->destroy(made);
}

std::string module_folder() {
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0) return ".";
    path[n] = '\0';
    std::string s(path);
    return s.substr(0, s.rfind('/'));
}

}  // namespace
}  // namespace ctattn_sweep

int main(int argc, char** argv) {
    using namespace ctattn_sweep;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    const std::string folder = module_folder();
    std::string ran, skipped;
    // Inputs and references per kernel/shape, shared by every arch (made on first use).
    static std::map<std::string, std::unique_ptr<case_data>> data;
    for (const auto& a : known_archs()) {
        if (!a.supported) {
            std::fprintf(stderr, "ctattn_sweep: %s skipped: this CPU lacks it\n", a.name);
            if (!skipped.empty()) skipped += ',';
            skipped += a.name;
            continue;
        }
        const std::string file = folder + "/libctattn_sweep_" + a.name + ".so";
        void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
        auto entry = handle ? reinterpret_cast<ctattn_sweep_entry>(dlsym(handle, CTATTN_SWEEP_ENTRY)) : nullptr;
        if (!entry) {
            std::fprintf(stderr, "ctattn_sweep: cannot load %s: %s\n", file.c_str(), dlerror());
            ++ctattn_bench::failure_count();
            continue;
        }
        const ctattn_sweep_module* m = entry();  // handles stay open until exit
        if (!ran.empty()) ran += ',';
        ran += a.name;
        for (std::size_t i = 0; i < m->case_count; ++i) {
            const ctattn_sweep_case* c = &m->cases[i];
            std::string shape = c->shape;
            if (std::strcmp(c->kernel, "fma_peak") == 0) {  // the ceiling: named by width and by fused or not
                char width[32];  // snprintf: GCC 12's -Wrestrict misfires on "W" + std::to_string (PR 105329)
                std::snprintf(width, sizeof width, "W%u_%s", m->lanes, m->has_fma ? "fma" : "mul_add");
                shape = width;
            }
            const std::string name = "sweep/" + std::string(c->kernel) + "/" + shape + "/" + m->arch;
            const std::string key = std::string(c->kernel) + "/" + shape + "#" + std::to_string(c->output_count);
            auto& d = data[key];
            if (!d) d = make_case_data(c->kernel, shape, *m, c->output_count);
            benchmark::RegisterBenchmark(name.c_str(), run_case, m, c, d.get(), name);
        }
    }
    benchmark::AddCustomContext("sweep_archs_run", ran);
    benchmark::AddCustomContext("sweep_archs_skipped", skipped.empty() ? "none" : skipped);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (ctattn_bench::failure_count() != 0) {
        std::fprintf(stderr, "ctattn_sweep: %d case(s) disagreed with their reference or failed to load\n",
                     ctattn_bench::failure_count());
        return 1;
    }
    return 0;
}
