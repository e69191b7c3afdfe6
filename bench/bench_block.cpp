// SPDX-License-Identifier: Apache-2.0
// One transformer block over a prompt: a llama-style pre-norm block (RMSNorm, grouped-query
// attention with RoPE, residual, RMSNorm, SwiGLU, residual) run over S tokens from an empty KV
// cache, for stories260K's and stories15M's layer shapes with random weights. ctattn runs the S
// rows at once (6-row projection tiles, the blocked attention core); the plain llama2.c-style
// layer runs them one token at a time, as run.c does with a prompt, with ctattn's flags and with
// -ffast-math; ctattn's scalar path runs the rows at once with the one-row attention core.
// Names read block/<shape>/S<n>/<implementation>.
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>

#include <cstring>
#include <string>

#include "bench_common.hpp"
#include "decode_models.hpp"
#include "plain_loops.hpp"

namespace ctattn_bench {
namespace {

// One block's output against the plain layer's: both sum the same terms in different orders
// (tiles, blocked attention) and compute RoPE angles differently, ~1e-6 of the output's range;
// 5e-4 of the largest |x| still fails at once on a wrong row, head, mask or rotation.
constexpr double block_tolerance = 5e-4;
constexpr std::size_t max_prompt = 256;

// The layer shapes, one layer each, with a small vocabulary (the embedding is not used).
using stories260k_block = llama_shape<64, 172, 1, 8, 4, 512, max_prompt>;
using stories15m_block = llama_shape<288, 768, 1, 6, 6, 512, max_prompt>;

template <class Shape>
struct block_fixture {
    using config = typename Shape::config;
    static constexpr std::size_t D = config::d_model;
    std::vector<unsigned char> bytes = random_checkpoint(Shape::plain, 4321);
    aligned_block<ctattn::model_weights<config>> weights{1};
    bool loaded = ctattn::llama2c::load<config>(bytes.data(), bytes.size(), weights[0]) == ctattn::status::ok;
    std::vector<float> prompt = random_floats(max_prompt * D, 99);  // the residual stream going in
};

template <class Shape>
block_fixture<Shape>& block_data() {
    static block_fixture<Shape> f;
    return f;
}

// The plain layer over `seq` tokens, one at a time; out: seq x dim.
template <void (*Layer)(const plain_llama_shape&, const plain_llama_weights&, plain_llama_state&, int, int)>
void plain_block(plain_llama_model& m, const float* prompt, std::size_t seq, float* out) {
    const std::size_t D = std::size_t(m.shape.dim);
    for (std::size_t pos = 0; pos < seq; ++pos) {
        std::memcpy(m.x.data(), prompt + pos * D, D * sizeof(float));
        Layer(m.shape, m.w, m.s, 0, int(pos));
        std::memcpy(out + pos * D, m.x.data(), D * sizeof(float));
    }
}

// The gate every block benchmark passes: `got` (seq x dim) against the plain layer built with
// ctattn's flags, on the same checkpoint bytes and prompt.
template <class Shape>
bool agrees_with_plain_layer(benchmark::State& state, block_fixture<Shape>& f, std::size_t seq, const float* got) {
    plain_llama_model reference(Shape::plain, f.bytes);
    std::vector<float> want(seq * std::size_t(Shape::plain.dim));
    plain_block<plain::llama_layer>(reference, f.prompt.data(), seq, want.data());
    const std::vector<double> want_d(want.begin(), want.end());
    return agrees(state, "block output", got, want_d.data(), want.size(), block_tolerance);
}

template <class Shape>
double block_flops(std::size_t seq) {
    using config = typename Shape::config;
    using attention = typename Shape::attention;
    constexpr double D = double(config::d_model), F = double(config::max_d_ff), kv = double(attention::kv_dim);
    constexpr double per_token = 2.0 * D * (2.0 * D + 2.0 * kv) + 2.0 * 3.0 * D * F;
    const double pairs = double(seq) * double(seq + 1) / 2.0;  // causal (query, key) pairs
    return per_token * double(seq) + 4.0 * double(attention::head_dim * attention::heads) * pairs;
}

template <class Shape, class Arch>
void block_ctattn(benchmark::State& state, std::size_t seq) {
    using config = typename Shape::config;
    using block = typename config::template block<0>;
    using A = typename block::attention;
    constexpr std::size_t D = config::d_model, F = config::max_d_ff, key_stride = ctattn::blocked_key_stride<max_prompt>;
    auto& f = block_data<Shape>();
    if (!f.loaded) {
        state.SkipWithError("llama2c::load rejected the random checkpoint");
        ++failure_count();
        return;
    }
    aligned_block<float> x(seq * D), normed(seq * D), q(seq * D), context(seq * D), sublayer(seq * D), hidden(seq * F),
        up(seq * F), scores(max_prompt), kt(A::head_dim * key_stride), score_block(ctattn::blocked_tile_rows_max * key_stride),
        k(max_prompt * A::kv_dim), v(max_prompt * A::kv_dim);
    const ctattn::block_buffers buffers{normed.data(), q.data(),      context.data(), sublayer.data(),   hidden.data(),
                                        up.data(),     scores.data(), kt.data(),      score_block.data()};
    const auto& layer = f.weights[0].template layer<0>();
    using block_type = ctattn::transformer_block<block, typename config::position, Arch>;
    auto run = [&] {
        std::memcpy(x.data(), f.prompt.data(), seq * D * sizeof(float));
        block_type::run(layer, seq, 0, x.data(), k.data(), v.data(), buffers, {});
    };
    auto check = [&] { return agrees_with_plain_layer(state, f, seq, x.data()); };
    if (check_then_time(state, x.data(), run, check)) set_flops(state, block_flops<Shape>(seq));
}

template <class Shape, void (*Layer)(const plain_llama_shape&, const plain_llama_weights&, plain_llama_state&, int, int)>
void block_plain(benchmark::State& state, std::size_t seq) {
    auto& f = block_data<Shape>();
    const std::size_t D = std::size_t(Shape::plain.dim);
    plain_llama_model model(Shape::plain, f.bytes);
    std::vector<float> out(seq * D);
    auto run = [&] { plain_block<Layer>(model, f.prompt.data(), seq, out.data()); };
    auto check = [&] { return agrees_with_plain_layer(state, f, seq, out.data()); };
    if (check_then_time(state, out.data(), run, check)) set_flops(state, block_flops<Shape>(seq));
}

template <class Shape>
void register_block(const std::string& name) {
    for (std::size_t seq : {16, 64, 256}) {
        const std::string base = "block/" + name + "/S" + std::to_string(seq);
        benchmark::RegisterBenchmark((base + "/ctattn").c_str(), block_ctattn<Shape, ctattn::simd::default_arch>, seq);
        benchmark::RegisterBenchmark((base + "/ctattn_scalar").c_str(), block_ctattn<Shape, ctattn::simd::scalar_arch>,
                                     seq);
        benchmark::RegisterBenchmark((base + "/plain").c_str(), block_plain<Shape, plain::llama_layer>, seq);
        benchmark::RegisterBenchmark((base + "/plain_fastmath").c_str(), block_plain<Shape, plain_fast::llama_layer>,
                                     seq);
    }
}

}  // namespace

void register_block_benchmarks() {
    register_block<stories260k_block>("stories260K");
    register_block<stories15m_block>("stories15M");
}

}  // namespace ctattn_bench
