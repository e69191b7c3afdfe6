// SPDX-License-Identifier: Apache-2.0
// int8 (Q8, w8a8) decode throughput at stories15M's shape (random weights), in one process so the
// ratios see the same machine load: ctattn's int8 decoder beside ctattn's float decoder and the
// runq.c-style plain int8 loops (plain_q8_loops.hpp; ctattn's flags and -ffast-math), all reading
// the same float checkpoint bytes (each int8 model quantizes them at load), plus the streaming-read
// bandwidth on buffers the size of the int8 and of the float weights (decode reads every weight
// once per token: weight bytes / bandwidth is the bound). Names read decode/stories15M/<impl> and
// ceiling/read_bandwidth/<buffer>. tools/bench_report.py runs it for the report's int8 section.
#include <benchmark/benchmark.h>

#include <ctattn/io/llama2c.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/simd/ops.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "decode_models.hpp"
#include "plain_q8_loops.hpp"
#include "read_bandwidth.hpp"

namespace ctattn_bench {
namespace {

using shape = stories15m;
using float_config = shape::config;
using q8_config = ctattn::with_weight_format<float_config, ctattn::q8_weights<>>;
constexpr std::size_t sequence = 256;  // the whole context: mean attention length 128

// The runq.c-style model's weights: each float matrix of the checkpoint quantized whole, in groups
// of plain_q8_group along its rows (plain_q8::quantize), as runq.c's exporter does.
struct plain_q8_model {
    plain_llama_model floats;  // the float buffers and the norm gains
    std::vector<std::int8_t> codes, xq;
    std::vector<float> scales, xs;
    plain_q8_weights w{};
    plain_q8_state s{};

    explicit plain_q8_model(const std::vector<unsigned char>& bytes) : floats(shape::plain, bytes) {
        const plain_llama_shape& p = shape::plain;
        const std::size_t D = std::size_t(p.dim), F = std::size_t(p.hidden_dim), L = std::size_t(p.n_layers);
        const std::size_t V = std::size_t(p.vocab_size), kv = std::size_t(p.n_kv_heads) * D / std::size_t(p.n_heads);
        const std::size_t sizes[] = {V * D, L * D * D, L * kv * D, L * kv * D, L * D * D, L * F * D, L * D * F, L * F * D};
        const float* sources[] = {floats.w.token_embedding, floats.w.wq, floats.w.wk, floats.w.wv,
                                  floats.w.wo, floats.w.w1, floats.w.w2, floats.w.w3};
        plain_q8_tensor* targets[] = {&w.token_embedding, &w.wq, &w.wk, &w.wv, &w.wo, &w.w1, &w.w2, &w.w3};
        std::size_t total = 0;
        for (std::size_t n : sizes) total += n;
        codes.resize(total);
        scales.resize(total / plain_q8_group);
        std::size_t at = 0;
        for (std::size_t t = 0; t < 8; ++t) {
            plain_q8::quantize(codes.data() + at, scales.data() + at / plain_q8_group, sources[t], int(sizes[t]));
            *targets[t] = {codes.data() + at, scales.data() + at / plain_q8_group};
            at += sizes[t];
        }
        w.rms_att = floats.w.rms_att;
        w.rms_ffn = floats.w.rms_ffn;
        w.rms_final = floats.w.rms_final;
        w.wcls = w.token_embedding;  // tied
        xq.resize(std::max(D, F));
        xs.resize(std::max(D, F) / plain_q8_group);
        s = {floats.s, xq.data(), xs.data()};
    }
};

struct fixture_data {
    std::vector<unsigned char> bytes = random_checkpoint(shape::plain, 1234);
    aligned_block<ctattn::model_weights<float_config>> float_weights{1};
    aligned_block<ctattn::model_weights<q8_config>> q8_weights{1};
    bool loaded = ctattn::llama2c::load<float_config>(bytes.data(), bytes.size(), float_weights[0]) == ctattn::status::ok &&
                  ctattn::llama2c::load<q8_config>(bytes.data(), bytes.size(), q8_weights[0]) == ctattn::status::ok;
    std::vector<ctattn::token_id> tokens = random_tokens(sequence, float_config::vocab, 77);
    // Every step's logits of the runq.c-style loops (ctattn's flags): the int8 implementations'
    // reference. Both quantize the same floats by the same rule (s = max|w| / 127, round half away
    // from zero, groups of 32), so they differ only by float summation order and the rare code an
    // activation's rounding puts on the other side of a tie.
    std::vector<std::vector<double>> plain_q8_logits;
    fixture_data() {
        plain_q8_model model(bytes);
        for (std::size_t pos = 0; pos < sequence; ++pos) {
            plain_q8::llama_forward(shape::plain, model.w, model.s, int(tokens[pos]), int(pos));
            plain_q8_logits.emplace_back(model.floats.logits.begin(), model.floats.logits.end());
        }
    }
};

fixture_data& fixture() {
    static fixture_data f;
    return f;
}

// Float logits after up to 256 steps, ctattn against the plain float loops: as bench_decode.cpp.
constexpr double float_tolerance = 2e-3;
// int8 logits, one int8 implementation against another: an activation code that rounds the other
// way near a tie moves its products by one step (1/127 of the group's largest activation), and
// such moves propagate through 6 layers; 2% of the largest |logit| still fails at once on a wrong
// scale, group or row (those move logits by tens of percent).
constexpr double q8_tolerance = 2e-2;

void set_counters(benchmark::State& state, double weight_bytes) {
    state.counters["tokens_s"] = benchmark::Counter(double(sequence), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["weight_MB"] = weight_bytes / 1e6;
}

template <class Config>
void decode_ctattn(benchmark::State& state) {
    auto& f = fixture();
    if (!f.loaded) {
        state.SkipWithError("llama2c::load rejected the random checkpoint");
        ++failure_count();
        return;
    }
    constexpr bool q8 = !std::is_same_v<Config, float_config>;
    aligned_block<ctattn::decoder<Config>> dec(1);
    if constexpr (q8)
        dec[0].attach(f.q8_weights[0]);
    else
        dec[0].attach(f.float_weights[0]);
    aligned_block<float> logits(Config::vocab);
    {  // the gate: every step's logits against the reference's
        plain_llama_model reference(shape::plain, f.bytes);
        std::vector<double> want(Config::vocab);
        for (std::size_t pos = 0; pos < sequence; ++pos) {
            if (dec[0].decode_step(f.tokens[pos], logits.data()) != ctattn::status::ok) {
                state.SkipWithError("decode_step returned an error status");
                ++failure_count();
                return;
            }
            if constexpr (q8) {
                if (!agrees(state, "int8 decode logits against the plain int8 loops", logits.data(),
                            f.plain_q8_logits[pos].data(), Config::vocab, q8_tolerance))
                    return;
            } else {
                plain::llama_forward(reference.shape, reference.w, reference.s, int(f.tokens[pos]), int(pos));
                for (std::size_t i = 0; i < Config::vocab; ++i) want[i] = reference.logits[i];
                if (!agrees(state, "float decode logits", logits.data(), want.data(), Config::vocab, float_tolerance)) return;
            }
        }
    }
    for (auto _ : state) {
        dec[0].reset();
        for (std::size_t pos = 0; pos < sequence; ++pos) benchmark::DoNotOptimize(dec[0].decode_step(f.tokens[pos], logits.data()));
        benchmark::ClobberMemory();
    }
    set_counters(state, double(sizeof(ctattn::model_weights<Config>)));
}

template <void (*Forward)(const plain_llama_shape&, const plain_q8_weights&, plain_q8_state&, int, int)>
void decode_plain_q8(benchmark::State& state) {
    auto& f = fixture();
    plain_q8_model model(f.bytes);
    for (std::size_t pos = 0; pos < sequence; ++pos) {
        Forward(shape::plain, model.w, model.s, int(f.tokens[pos]), int(pos));
        if (!agrees(state, "plain int8 logits", model.floats.logits.data(), f.plain_q8_logits[pos].data(),
                    float_config::vocab, q8_tolerance))
            return;
    }
    for (auto _ : state) {
        for (std::size_t pos = 0; pos < sequence; ++pos) Forward(shape::plain, model.w, model.s, int(f.tokens[pos]), int(pos));
        benchmark::DoNotOptimize(model.floats.logits.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, double(model.codes.size() + model.scales.size() * sizeof(float)));
}

// One Q8 matrix-vector product (kernels::project_q8, one activation row) over the model's own
// matrices, layer by layer (the weights stream from wherever the whole model's bytes live, as in
// decode): bytes_per_second counts the codes and scales read, against the read bandwidth.
template <class Matrix>
void q8_matvec(benchmark::State& state, const Matrix* first, std::size_t count) {
    constexpr std::size_t Din = Matrix::in_features, Dout = Matrix::out_features;
    std::vector<float> x(Din), y(Dout);
    for (std::size_t i = 0; i < Din; ++i) x[i] = float(int(i % 13) - 6) * 0.1f;
    for (auto _ : state) {
        for (std::size_t m = 0; m < count; ++m) ctattn::kernels::project_q8(1, x.data(), first[m], nullptr, y.data());
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(count * (sizeof(Matrix::codes) + sizeof(Matrix::scales))));
}

// Every Q8 matrix of the model once, in decode's order (per layer wq wk wv wo w1 w3 w2, then the
// tied head), on a fixed activation row: decode's weight traffic without attention and norms.
template <std::size_t... Layer>
void all_matvecs(const ctattn::model_weights<q8_config>& w, const float* x, float* y, bool head, std::index_sequence<Layer...>) {
    using ctattn::kernels::project_q8;
    auto one_layer = [&](const auto& layer) {
        project_q8(1, x, layer.attention.wq, nullptr, y);
        project_q8(1, x, layer.attention.wk, nullptr, y);
        project_q8(1, x, layer.attention.wv, nullptr, y);
        project_q8(1, x, layer.attention.wo, nullptr, y);
        project_q8(1, x, layer.ffn.w1, nullptr, y);
        project_q8(1, x, layer.ffn.w3, nullptr, y);
        project_q8(1, x, layer.ffn.w2, nullptr, y);
    };
    (one_layer(w.template layer<Layer>()), ...);
    if (head) project_q8(1, x, w.embedding, nullptr, y);
}

void q8_model_matvecs(benchmark::State& state, bool head) {
    const auto& w = fixture().q8_weights[0];
    std::vector<float> x(768), y(32000);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 13) - 6) * 0.1f;
    for (auto _ : state) {
        all_matvecs(w, x.data(), y.data(), head, std::make_index_sequence<q8_config::layers>{});
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(sizeof(ctattn::model_weights<q8_config>)));
    state.counters["tokens_s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

void register_q8_decode_benchmarks() {
    benchmark::RegisterBenchmark("decode/stories15M/ctattn_q8", decode_ctattn<q8_config>)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("decode/stories15M/ctattn", decode_ctattn<float_config>)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("decode/stories15M/plain_q8", decode_plain_q8<plain_q8::llama_forward>)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("decode/stories15M/plain_q8_fastmath", decode_plain_q8<plain_q8_fast::llama_forward>)
        ->Unit(benchmark::kMillisecond);
    const auto& w = fixture().q8_weights[0];
    benchmark::RegisterBenchmark("matvec_q8/head_288x32000", q8_matvec<std::decay_t<decltype(w.embedding)>>, &w.embedding, std::size_t(1));
    benchmark::RegisterBenchmark("matvec_q8/all_matrices", q8_model_matvecs, true);
    benchmark::RegisterBenchmark("matvec_q8/layer_matrices", q8_model_matvecs, false);
    // One layer's matrices, read over and over: from the L2 (compute rate, not bandwidth).
    const auto& layer = w.layer<0>();
    benchmark::RegisterBenchmark("matvec_q8/w1_288x768_in_cache", q8_matvec<std::decay_t<decltype(layer.ffn.w1)>>, &layer.ffn.w1, std::size_t(1));
    benchmark::RegisterBenchmark("matvec_q8/w2_768x288_in_cache", q8_matvec<std::decay_t<decltype(layer.ffn.w2)>>, &layer.ffn.w2, std::size_t(1));
    benchmark::RegisterBenchmark("matvec_q8/wq_288x288_in_cache", q8_matvec<std::decay_t<decltype(layer.attention.wq)>>, &layer.attention.wq, std::size_t(1));
    // Buffers the size of each model's weights, read over and over as decode reads them: the
    // bandwidth of whichever cache level or DRAM holds that many bytes on this machine.
    benchmark::RegisterBenchmark("ceiling/read_bandwidth/q8_weights", read_bandwidth,
                                 std::size_t(sizeof(ctattn::model_weights<q8_config>)));
    for (std::size_t mib : {4, 8, 12, 16, 20, 24, 32})
        benchmark::RegisterBenchmark(("ceiling/read_bandwidth_sizes/" + std::to_string(mib) + "MiB").c_str(), read_bandwidth, mib << 20);
    benchmark::RegisterBenchmark("ceiling/read_bandwidth/float_weights", read_bandwidth,
                                 std::size_t(sizeof(ctattn::model_weights<float_config>)));
}

}  // namespace ctattn_bench

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("ctattn_arch", ctattn::simd::arch_name<ctattn::simd::default_arch>());
    ctattn_bench::register_q8_decode_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (ctattn_bench::failure_count() != 0) {
        std::fprintf(stderr, "bench_decode_q8: %d benchmark(s) disagreed with their reference\n",
                     ctattn_bench::failure_count());
        return 1;
    }
    return 0;
}
