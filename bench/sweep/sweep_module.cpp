// SPDX-License-Identifier: Apache-2.0
// One arch's sweep cases: compiled once per arch with that arch's -m flags (bench/sweep/
// meson.build), so ctattn::simd::default_arch here is the arch being measured, and linked into a
// shared module that exports only ctattn_sweep_module() (sweep_module.map). Each case is the
// kernel as a user calls it on this arch: projection, the one-row scores, softmax and P V kernels
// over all heads, the multi-head layer (packed weights; blocked core where the arch has one) and
// stories260K-shape decode; plus this arch's multiply-add peak. The harness checks every result.
#include <ctattn/ctattn.hpp>
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>

#include <cmath>
#include <cstring>
#include <new>
#include <utility>

#include "../decode_models.hpp"
#include "sweep_abi.hpp"
#include "sweep_shapes.hpp"

#ifndef CTATTN_SWEEP_ARCH
#error "compile sweep_module.cpp with -DCTATTN_SWEEP_ARCH=\"name\""
#endif

namespace {

using arch = ctattn::simd::default_arch;
using ops = ctattn::simd::ops<arch>;
namespace shapes = ctattn_sweep::shapes;

// Heap objects 64-byte aligned (vector loads never split a cache line); a case's buffers are
// sized by its shape, and a layer's weights or a model are too big for the stack.
template <class T>
T* make_aligned(std::size_t n = 1) {
    T* p = static_cast<T*>(::operator new[](sizeof(T) * n, std::align_val_t{64}));
    for (std::size_t i = 0; i < n; ++i) ::new (static_cast<void*>(p + i)) T();
    return p;
}
template <class T>
void free_aligned(T* p, std::size_t n = 1) {
    for (std::size_t i = 0; i < n; ++i) p[i].~T();
    ::operator delete[](p, std::align_val_t{64});
}

struct floats {
    float* data;
    std::size_t count;
    explicit floats(std::size_t n, const float* from = nullptr) : data(make_aligned<float>(n)), count(n) {
        if (from) std::memcpy(data, from, n * sizeof(float));
    }
    ~floats() { free_aligned(data, count); }
    floats(const floats&) = delete;
    floats& operator=(const floats&) = delete;
};

// Every case type T has make(inputs) -> T* (or nullptr), run(), output(); this lifts it to the
// C table's function pointers.
template <class T>
ctattn_sweep_case entry(const char* kernel, const char* shape, double work, const char* counter) {
    return {kernel, shape, work, counter, T::output_count,
            [](const ctattn_sweep_inputs* in) -> void* { return T::make(*in); },
            [](void* s) { static_cast<T*>(s)->run(); },
            [](const void* s) -> const float* { return static_cast<const T*>(s)->output(); },
            [](void* s) { delete static_cast<T*>(s); }};
}

// ---- kernels over all heads of a layer ---------------------------------------------------------

template <std::size_t S, std::size_t D>
struct projection_case {
    static constexpr std::size_t output_count = S * D;
    floats x, w, y{S * D};
    explicit projection_case(const ctattn_sweep_inputs& in) : x(S * D, in.a), w(D * D, in.b) {}
    static projection_case* make(const ctattn_sweep_inputs& in) { return new projection_case(in); }
    void run() { ctattn::kernels::project<D, D, arch>(S, x.data, w.data, nullptr, y.data); }
    const float* output() const { return y.data; }
};

template <std::size_t S, std::size_t D, std::size_t H, class Mask>
struct scores_case {
    static constexpr std::size_t hd = D / H, output_count = H * S * S;
    floats q, k, s{H * S * S};
    explicit scores_case(const ctattn_sweep_inputs& in) : q(S * D, in.a), k(S * D, in.b) {}
    static scores_case* make(const ctattn_sweep_inputs& in) { return new scores_case(in); }
    void run() {
        const float scale = float(1.0 / std::sqrt(double(hd)));
        for (std::size_t h = 0; h < H; ++h)
            ctattn::kernels::attention_scores<hd, Mask, arch, D, D>(S, q.data + h * hd, 0, S, k.data + h * hd, {}, scale,
                                                                    s.data + h * S * S, S);
    }
    const float* output() const { return s.data; }
};

// In place, as the layer runs it: the first run normalises the scores, later runs re-normalise
// their own output (the same visible lengths and exponentials; the harness checks the first).
template <std::size_t S, std::size_t H, class Mask>
struct softmax_case {
    static constexpr std::size_t output_count = H * S * S;
    floats p;
    explicit softmax_case(const ctattn_sweep_inputs& in) : p(H * S * S, in.a) {}
    static softmax_case* make(const ctattn_sweep_inputs& in) { return new softmax_case(in); }
    void run() {
        for (std::size_t r = 0; r < H * S; ++r)
            ctattn::kernels::softmax_row<arch>(p.data + r * S, S, Mask::visible_keys({}, r % S, S));
    }
    const float* output() const { return p.data; }
};

template <std::size_t S, std::size_t D, std::size_t H, class Mask>
struct aggregate_case {
    static constexpr std::size_t hd = D / H, output_count = S * D;
    floats p, v, context{S * D};
    explicit aggregate_case(const ctattn_sweep_inputs& in) : p(H * S * S, in.b), v(S * D, in.c) {}
    static aggregate_case* make(const ctattn_sweep_inputs& in) { return new aggregate_case(in); }
    void run() {
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t i = 0; i < S; ++i)
                ctattn::kernels::aggregate_row<hd, arch, D>(p.data + (h * S + i) * S, v.data + h * hd,
                                                            Mask::visible_keys({}, i, S), context.data + i * D + h * hd);
    }
    const float* output() const { return context.data; }
};

// ---- the layer and decode ----------------------------------------------------------------------

template <std::size_t S, std::size_t D, std::size_t H, class Mask>
struct mha_case {
    using layer = ctattn::multi_head_attention<ctattn::attention_config<D, H, H, S, ctattn::no_bias, Mask>, arch>;
    static constexpr std::size_t output_count = S * D;
    typename layer::packed_weights_type* w = make_aligned<typename layer::packed_weights_type>();
    typename layer::workspace_type* ws = make_aligned<typename layer::workspace_type>();
    floats x, y{S * D};
    ctattn::status status = ctattn::status::ok;
    explicit mha_case(const ctattn_sweep_inputs& in) : x(S * D, in.a) {
        auto* dense = make_aligned<typename layer::weights_type>();  // packed once, as at weight-load time
        std::memcpy(dense->wq.data(), in.w[0], D * D * sizeof(float));
        std::memcpy(dense->wk.data(), in.w[1], D * D * sizeof(float));
        std::memcpy(dense->wv.data(), in.w[2], D * D * sizeof(float));
        std::memcpy(dense->wo.data(), in.w[3], D * D * sizeof(float));
        ctattn::pack(*dense, *w);
        free_aligned(dense);
    }
    ~mha_case() {
        free_aligned(w);
        free_aligned(ws);
    }
    static mha_case* make(const ctattn_sweep_inputs& in) {
        auto* c = new mha_case(in);
        c->run();
        if (c->status == ctattn::status::ok) return c;
        delete c;
        return nullptr;
    }
    void run() { status = layer::forward(*w, x.data, S, y.data, *ws); }
    const float* output() const { return y.data; }
};

// A whole sequence from an empty cache, every step's logits kept (the harness compares them all
// with the plain llama2.c-style model on the same checkpoint bytes).
template <class Shape, std::size_t Length>
struct decode_case {
    using config = typename Shape::config;
    static constexpr std::size_t output_count = Length * config::vocab;
    ctattn::model_weights<config>* weights = make_aligned<ctattn::model_weights<config>>();
    ctattn::decoder<config, ctattn::owned_weights, arch>* dec = make_aligned<ctattn::decoder<config, ctattn::owned_weights, arch>>();
    floats logits{Length * config::vocab};
    ctattn::token_id tokens[Length] = {};
    bool ok = true;
    explicit decode_case(const ctattn_sweep_inputs& in) {
        ok = ctattn::llama2c::load<config>(in.bytes, in.byte_count, *weights) == ctattn::status::ok;
        for (std::size_t i = 0; i < Length; ++i) tokens[i] = ctattn::token_id(in.tokens[i]);
        dec->attach(*weights);
    }
    ~decode_case() {
        free_aligned(dec);
        free_aligned(weights);
    }
    static decode_case* make(const ctattn_sweep_inputs& in) {
        auto* c = new decode_case(in);
        if (c->ok) c->run();
        if (c->ok) return c;
        delete c;
        return nullptr;
    }
    void run() {
        dec->reset();
        for (std::size_t pos = 0; pos < Length; ++pos)
            ok = (dec->decode_step(tokens[pos], logits.data + pos * config::vocab) == ctattn::status::ok) && ok;
    }
    const float* output() const { return logits.data; }
};

// ---- this arch's multiply-add peak -------------------------------------------------------------
// Independent chains acc <- acc * a + b through ops::fma, which is one fused instruction where the
// arch has FMA and a multiply then an add where it has none (SSE, AVX, baseline scalar): the peak
// a kernel on this arch can reach. 24 chains with 32 vector registers, 12 with 16: enough to hide
// the latency of two ports (4 cycles x 2 for FMA; 8 x 2 for a multiply and a dependent add).
constexpr std::size_t chains = ops::registers >= 32 ? 24 : 12, peak_steps = shapes::peak_steps;

struct peak_case {
    static constexpr std::size_t output_count = chains;
    float first_lanes[chains] = {};
    static peak_case* make(const ctattn_sweep_inputs&) { return new peak_case; }
    template <std::size_t... Chain>
    void chains_run(std::index_sequence<Chain...>) {
        // A fold over the chains, not a loop: GCC keeps a rolled accumulator array on the stack.
        typename ops::vec live[chains] = {ops::broadcast(float(Chain))...};
        const auto a = ops::broadcast(shapes::peak_a), b = ops::broadcast(shapes::peak_b);
        for (std::size_t step = 0; step < peak_steps; ++step) ((live[Chain] = ops::fma(live[Chain], a, b)), ...);
        alignas(64) float lanes[ops::width];
        ((ops::store(lanes, live[Chain]), first_lanes[Chain] = lanes[0]), ...);
    }
    void run() { chains_run(std::make_index_sequence<chains>{}); }
    const float* output() const { return first_lanes; }
};

#if defined(__FMA__) || defined(__aarch64__)
constexpr int has_fma = 1;  // ops::fma fuses (simd/ops.hpp: scalar with __FMA__, every vector arch with it)
#else
constexpr int has_fma = 0;
#endif

using causal = ctattn::causal_mask;
constexpr std::size_t S = shapes::seq;

const ctattn_sweep_case cases[] = {
    entry<peak_case>("fma_peak", "peak", 2.0 * ops::width * chains * peak_steps, "GFLOPs"),
    entry<projection_case<S, 256>>("projection", "S64/D256", shapes::projection_flops(64, 256), "GFLOPs"),
    entry<scores_case<S, 256, 8, causal>>("scores", "S64/D256/H8/causal", shapes::core_flops(64, 256, 8, true), "GFLOPs"),
    entry<scores_case<S, 64, 8, causal>>("scores", "S64/D64/H8/causal", shapes::core_flops(64, 64, 8, true), "GFLOPs"),
    // Softmax's work does not depend on head_dim; both shapes run, from each shape's own scores.
    entry<softmax_case<S, 8, causal>>("softmax", "S64/D256/H8/causal", shapes::pairs(64, 8, true), "Gelem_s"),
    entry<aggregate_case<S, 256, 8, causal>>("aggregate", "S64/D256/H8/causal", shapes::core_flops(64, 256, 8, true), "GFLOPs"),
    entry<aggregate_case<S, 64, 8, causal>>("aggregate", "S64/D64/H8/causal", shapes::core_flops(64, 64, 8, true), "GFLOPs"),
    entry<mha_case<S, 256, 8, causal>>("mha", "S64/D256/H8/causal", shapes::layer_flops(64, 256, 8, true), "GFLOPs"),
    entry<mha_case<S, 64, 8, causal>>("mha", "S64/D64/H8/causal", shapes::layer_flops(64, 64, 8, true), "GFLOPs"),
    entry<decode_case<ctattn_bench::stories260k, shapes::decode_length>>("decode", "stories260K", double(shapes::decode_length), "tokens_s"),
};

const ctattn_sweep_module module = {CTATTN_SWEEP_ARCH, ctattn::simd::arch_name<arch>(), unsigned(ops::width), has_fma,
                                    sizeof cases / sizeof cases[0], cases};

}  // namespace

extern "C" __attribute__((visibility("default"))) const ctattn_sweep_module* ctattn_sweep_module() { return &module; }
