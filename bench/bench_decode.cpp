// SPDX-License-Identifier: Apache-2.0
// Decode throughput: tokens per second over a full sequence (KV cache from empty to capacity),
// fp32, one thread, for stories260K's and stories15M's shapes with random weights, ctattn's
// decoder beside the plain llama2.c-style model (ctattn's flags and -ffast-math) reading the same
// checkpoint bytes. Names read decode/<model>/<implementation>.
// Prompt processing as well: P prompt tokens from an empty cache to the logits after the last, by
// the decoder's prefill (its default compile-time chunk), by decode_step per prompt token, and by
// the plain model token by token (run.c's way with a prompt). Names read
// prefill/<model>/P<n>/<implementation>; the counter tokens_per_second is prompt tokens per second.
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>

#include <string>
#include <vector>

#include <type_traits>

#include "bench_common.hpp"
#include "decode_models.hpp"
#include "plain_loops.hpp"

namespace ctattn_bench {
namespace {

// Logits after up to 512 steps through 5-6 layers: float rounding in a different order (blocked
// kernels, computed RoPE angles) moves them by ~1e-5 of their range; 2e-3 of the largest |logit|
// still fails at once on a wrong cache row, head or rotation.
constexpr double logits_tolerance = 2e-3;
// A float16 or int8 KV cache (base/kv_storage.hpp) adds its rounding: the gate widens by 16 x the
// type's step (2^-11, 1/254) of the largest |logit|, the bound tests/model/test_kv_storage.cpp
// derives and checks; a wrong row or scale still moves logits by a good part of their range.
template <class KvStorage>
constexpr double kv_logits_tolerance = logits_tolerance + (std::is_same_v<KvStorage, ctattn::kv_float16> ? 16.0 / 2048
                                                           : std::is_same_v<KvStorage, ctattn::kv_int8> ? 16.0 / 254
                                                                                                        : 0.0);

template <class Shape>
struct decode_fixture {
    using config = typename Shape::config;
    std::vector<unsigned char> bytes = random_checkpoint(Shape::plain, 1234);
    aligned_block<ctattn::model_weights<config>> weights{1};
    bool loaded = ctattn::llama2c::load<config>(bytes.data(), bytes.size(), weights[0]) == ctattn::status::ok;
};

template <class Shape>
decode_fixture<Shape>& fixture() {
    static decode_fixture<Shape> f;
    return f;
}

template <class Shape, class Arch, class KvStorage = ctattn::kv_float32>
void decode_ctattn(benchmark::State& state, std::size_t length) {
    using config = typename Shape::config;
    auto& f = fixture<Shape>();
    if (!f.loaded) {
        state.SkipWithError("llama2c::load rejected the random checkpoint");
        ++failure_count();
        return;
    }
    aligned_block<ctattn::kv_decoder<config, KvStorage, ctattn::owned_weights, Arch>> dec(1);
    dec[0].attach(f.weights[0]);
    const auto tokens = random_tokens(length, config::vocab, 77);
    aligned_block<float> logits(config::vocab);
    {  // the gate: every step's logits against the plain model's (ctattn's flags) on the same bytes
        plain_llama_model reference(Shape::plain, f.bytes);
        std::vector<double> want(config::vocab);
        for (std::size_t pos = 0; pos < length; ++pos) {
            plain::llama_forward(reference.shape, reference.w, reference.s, int(tokens[pos]), int(pos));
            if (dec[0].decode_step(tokens[pos], logits.data()) != ctattn::status::ok) {
                state.SkipWithError("decode_step returned an error status");
                ++failure_count();
                return;
            }
            for (std::size_t i = 0; i < config::vocab; ++i) want[i] = reference.logits[i];
            if (!agrees(state, "decode logits", logits.data(), want.data(), config::vocab,
                        kv_logits_tolerance<KvStorage>))
                return;
        }
    }
    for (auto _ : state) {
        dec[0].reset();
        for (std::size_t pos = 0; pos < length; ++pos) benchmark::DoNotOptimize(dec[0].decode_step(tokens[pos], logits.data()));
        benchmark::ClobberMemory();
    }
    state.counters["tokens_s"] = benchmark::Counter(double(length), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["weight_MB"] = double(sizeof(ctattn::model_weights<config>)) / 1e6;
}

template <class Shape, void (*Forward)(const plain_llama_shape&, const plain_llama_weights&, plain_llama_state&, int, int)>
void decode_plain(benchmark::State& state, std::size_t length) {
    using config = typename Shape::config;
    auto& f = fixture<Shape>();
    plain_llama_model model(Shape::plain, f.bytes), reference(Shape::plain, f.bytes);
    const auto tokens = random_tokens(length, config::vocab, 77);
    std::vector<double> want(config::vocab);
    for (std::size_t pos = 0; pos < length; ++pos) {  // -ffast-math build against the same-flags build
        Forward(model.shape, model.w, model.s, int(tokens[pos]), int(pos));
        plain::llama_forward(reference.shape, reference.w, reference.s, int(tokens[pos]), int(pos));
        for (std::size_t i = 0; i < config::vocab; ++i) want[i] = reference.logits[i];
        if (!agrees(state, "decode logits", model.logits.data(), want.data(), config::vocab, logits_tolerance)) return;
    }
    for (auto _ : state) {
        for (std::size_t pos = 0; pos < length; ++pos) Forward(model.shape, model.w, model.s, int(tokens[pos]), int(pos));
        benchmark::DoNotOptimize(model.logits.data());
        benchmark::ClobberMemory();
    }
    state.counters["tokens_s"] = benchmark::Counter(double(length), benchmark::Counter::kIsIterationInvariantRate);
}

// The plain model's logits after the prompt (ctattn's flags): what every prefill case is checked against.
template <class Shape>
std::vector<double> plain_prompt_logits(const std::vector<ctattn::token_id>& prompt) {
    plain_llama_model reference(Shape::plain, fixture<Shape>().bytes);
    for (std::size_t pos = 0; pos < prompt.size(); ++pos)
        plain::llama_forward(reference.shape, reference.w, reference.s, int(prompt[pos]), int(pos));
    return std::vector<double>(reference.logits.begin(), reference.logits.end());
}

template <class Shape>
void prefill_ctattn(benchmark::State& state, std::size_t length, bool token_by_token) {
    using config = typename Shape::config;
    auto& f = fixture<Shape>();
    if (!f.loaded) {
        state.SkipWithError("llama2c::load rejected the random checkpoint");
        ++failure_count();
        return;
    }
    aligned_block<ctattn::decoder<config>> dec(1);  // the default chunk (default_prefill_rows)
    dec[0].attach(f.weights[0]);
    const auto prompt = random_tokens(length, config::vocab, 55);
    aligned_block<float> logits(config::vocab);
    auto run = [&] {
        dec[0].reset();
        ctattn::status s = ctattn::status::ok;
        if (token_by_token)
            for (std::size_t pos = 0; pos < length && s == ctattn::status::ok; ++pos)
                s = dec[0].decode_step(prompt[pos], logits.data());
        else
            s = dec[0].prefill(prompt.data(), length, logits.data());
        return s;
    };
    if (run() != ctattn::status::ok) {
        state.SkipWithError("prefill or decode_step returned an error status");
        ++failure_count();
        return;
    }
    if (!agrees(state, "logits after the prompt", logits.data(), plain_prompt_logits<Shape>(prompt).data(),
                config::vocab, logits_tolerance))
        return;
    for (auto _ : state) {
        benchmark::DoNotOptimize(run());
        benchmark::ClobberMemory();
    }
    state.counters["tokens_per_second"] = benchmark::Counter(double(length), benchmark::Counter::kIsIterationInvariantRate);
    state.counters["prefill_rows"] = double(ctattn::decoder<config>::prefill_rows);
}

template <class Shape, void (*Forward)(const plain_llama_shape&, const plain_llama_weights&, plain_llama_state&, int, int)>
void prefill_plain(benchmark::State& state, std::size_t length) {
    using config = typename Shape::config;
    plain_llama_model model(Shape::plain, fixture<Shape>().bytes);
    const auto prompt = random_tokens(length, config::vocab, 55);
    auto run = [&] {
        for (std::size_t pos = 0; pos < length; ++pos) Forward(model.shape, model.w, model.s, int(prompt[pos]), int(pos));
    };
    run();
    if (!agrees(state, "logits after the prompt", model.logits.data(), plain_prompt_logits<Shape>(prompt).data(),
                config::vocab, logits_tolerance))
        return;
    for (auto _ : state) {
        run();
        benchmark::DoNotOptimize(model.logits.data());
        benchmark::ClobberMemory();
    }
    state.counters["tokens_per_second"] = benchmark::Counter(double(length), benchmark::Counter::kIsIterationInvariantRate);
}

template <class Shape>
void register_prefill(const std::string& name) {
    for (const std::size_t length : {std::size_t(64), std::size_t(256)}) {
        const std::string base = "prefill/" + name + "/P" + std::to_string(length);
        benchmark::RegisterBenchmark((base + "/ctattn").c_str(), prefill_ctattn<Shape>, length, false)
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark((base + "/ctattn_token_by_token").c_str(), prefill_ctattn<Shape>, length, true)
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark((base + "/plain").c_str(), prefill_plain<Shape, plain::llama_forward>, length)
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark((base + "/plain_fastmath").c_str(), prefill_plain<Shape, plain_fast::llama_forward>,
                                     length)
            ->Unit(benchmark::kMillisecond);
    }
}

template <class Shape>
void register_model(const std::string& name, std::size_t length, bool with_scalar) {
    using arch = ctattn::simd::default_arch;
    const std::string base = "decode/" + name;
    benchmark::RegisterBenchmark((base + "/ctattn").c_str(), decode_ctattn<Shape, arch>, length)->Unit(benchmark::kMillisecond);
    // The same decoder with a float16 and an int8 KV cache (base/kv_storage.hpp).
    benchmark::RegisterBenchmark((base + "/ctattn_kv_float16").c_str(), decode_ctattn<Shape, arch, ctattn::kv_float16>,
                                 length)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((base + "/ctattn_kv_int8").c_str(), decode_ctattn<Shape, arch, ctattn::kv_int8>, length)
        ->Unit(benchmark::kMillisecond);
    if (with_scalar)
        benchmark::RegisterBenchmark((base + "/ctattn_scalar").c_str(), decode_ctattn<Shape, ctattn::simd::scalar_arch>, length)
            ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((base + "/plain").c_str(), decode_plain<Shape, plain::llama_forward>, length)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((base + "/plain_fastmath").c_str(), decode_plain<Shape, plain_fast::llama_forward>, length)
        ->Unit(benchmark::kMillisecond);
}

}  // namespace

void register_decode_benchmarks() {
    register_model<stories260k>("stories260K", 512, true);
    // The scalar path on 15M parameters takes seconds per sequence and says nothing new.
    register_model<stories15m>("stories15M", 256, false);
    register_model<stories260k>("stories260K_16tokens_smoke", 16, true);  // bench_smoke's cheap check
    register_prefill<stories260k>("stories260K");
    register_prefill<stories15m>("stories15M");
}

}  // namespace ctattn_bench
