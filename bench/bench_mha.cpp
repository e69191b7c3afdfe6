// SPDX-License-Identifier: Apache-2.0
// The multi-head attention layer (Q, K, V projections, masked softmax attention per head, output
// projection; no bias, kv_heads == heads) beside plain llama2.c-style loops (ctattn's flags and
// -ffast-math), Eigen 3.4 dynamic and fixed-size matrices, and ctattn's scalar path.
// Names read mha/S64/D256/H8/causal/ctattn.
#include <ctattn/ctattn.hpp>

#include <Eigen/Dense>

#include <map>
#include <memory>
#include <string>

#include "bench_common.hpp"
#include "plain_loops.hpp"
#include "../tests/reference/forward_double.hpp"

namespace ctattn_bench {
namespace {

namespace ref = ctattn_test::ref;

using simd_arch = ctattn::simd::default_arch;
using scalar_arch = ctattn::simd::scalar_arch;
using dyn_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using const_dyn_map = Eigen::Map<const dyn_matrix>;

constexpr std::size_t capacity = 256;  // the largest S in the grid; shorter sequences pass seq_len

// The layer chains four projections, a softmax and an aggregation: each float step adds a few
// 1e-6 of relative error, so the output agrees with the double reference to ~1e-5 of its range.
// 2e-4 of the largest |y| leaves 10x margin and still catches any indexing or masking error.
constexpr double layer_tolerance = 2e-4;

struct layer_inputs {
    std::size_t seq = 0, dim = 0, heads = 0;
    bool causal = false;
    aligned_block<float> x;                          // (S, D)
    aligned_block<float> wq, wk, wv, wo;             // (D, D) each, x @ W layout
    aligned_block<float> wq_t, wk_t, wv_t, wo_t;     // (D, D) each, llama2.c's (out, in) layout
    ref::dvec expected;                              // (S, D)
};

const layer_inputs& layer_data(std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    static std::map<std::string, std::unique_ptr<layer_inputs>> cache;
    auto& slot = cache[std::to_string(seq) + "/" + std::to_string(dim) + "/" + std::to_string(heads) + (causal ? "c" : "n")];
    if (!slot) {
        slot = std::make_unique<layer_inputs>();
        auto& in = *slot;
        in.seq = seq, in.dim = dim, in.heads = heads, in.causal = causal;
        // Weights ~ U(-1,1)/sqrt(D) keep activations O(1), so softmax is neither flat nor one-hot.
        const float w_scale = float(1.0 / std::sqrt(double(dim)));
        const auto x = random_floats(seq * dim, 101);
        in.x = aligned_block<float>(seq * dim);
        for (std::size_t i = 0; i < x.size(); ++i) in.x[i] = x[i];
        aligned_block<float>* w[4] = {&in.wq, &in.wk, &in.wv, &in.wo};
        aligned_block<float>* wt[4] = {&in.wq_t, &in.wk_t, &in.wv_t, &in.wo_t};
        ref::dvec wd[4];
        for (unsigned m = 0; m < 4; ++m) {
            const auto r = random_floats(dim * dim, 200 + m + unsigned(dim), w_scale);
            *w[m] = aligned_block<float>(dim * dim);
            *wt[m] = aligned_block<float>(dim * dim);
            for (std::size_t a = 0; a < dim; ++a)
                for (std::size_t b = 0; b < dim; ++b) {
                    (*w[m])[a * dim + b] = r[a * dim + b];
                    (*wt[m])[b * dim + a] = r[a * dim + b];
                }
            wd[m] = ref::widen(r.data(), r.size());
        }
        in.expected = ref::mha(ref::widen(x.data(), x.size()), seq, dim, heads, heads, wd[0], wd[1], wd[2], wd[3], nullptr,
                               nullptr, nullptr, nullptr, ref::causal_or_none(causal))
                          .y;
    }
    return *slot;
}

double layer_flops(std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const double pairs = double(heads) * (causal ? double(seq) * double(seq + 1) / 2.0 : double(seq) * double(seq));
    return 8.0 * double(seq) * double(dim) * double(dim) + 4.0 * double(dim / heads) * pairs;
}

template <std::size_t D, std::size_t H, class Mask, class Arch>
void mha_ctattn(benchmark::State& state, std::size_t seq) {
    using config = ctattn::attention_config<D, H, H, capacity, ctattn::no_bias, Mask>;
    using layer = ctattn::multi_head_attention<config, Arch>;
    constexpr bool causal = std::is_same_v<Mask, ctattn::causal_mask>;
    const auto& in = layer_data(seq, D, H, causal);
    aligned_block<typename layer::weights_type> dense(1);
    aligned_block<typename layer::packed_weights_type> w(1);  // packed once, as at weight-load time
    aligned_block<typename layer::workspace_type> ws(1);
    for (std::size_t i = 0; i < D * D; ++i) {
        dense[0].wq[i] = in.wq[i];
        dense[0].wk[i] = in.wk[i];
        dense[0].wv[i] = in.wv[i];
        dense[0].wo[i] = in.wo[i];
    }
    ctattn::pack(dense[0], w[0]);
    aligned_block<float> y(seq * D);
    ctattn::status status = ctattn::status::ok;
    auto run = [&] { status = layer::forward(w[0], in.x.data(), seq, y.data(), ws[0]); };
    auto check = [&] {
        if (status == ctattn::status::ok) return agrees(state, "mha", y.data(), in.expected.data(), seq * D, layer_tolerance);
        state.SkipWithError("forward returned an error status");
        ++failure_count();
        return false;
    };
    if (check_then_time(state, y.data(), run, check)) set_flops(state, layer_flops(seq, D, H, causal));
}

template <void (*Mha)(float*, const float*, int, int, int, int, bool, const float*, const float*, const float*,
                      const float*, float*)>
void mha_plain(benchmark::State& state, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const auto& in = layer_data(seq, dim, heads, causal);
    aligned_block<float> y(seq * dim), scratch(3 * seq * dim + dim + seq);
    auto run = [&] {
        Mha(y.data(), in.x.data(), int(seq), int(dim), int(heads), int(heads), causal, in.wq_t.data(), in.wk_t.data(),
            in.wv_t.data(), in.wo_t.data(), scratch.data());
    };
    auto check = [&] { return agrees(state, "mha", y.data(), in.expected.data(), seq * dim, layer_tolerance); };
    if (check_then_time(state, y.data(), run, check)) set_flops(state, layer_flops(seq, dim, heads, causal));
}

// Eigen, written as an Eigen user would: whole-matrix products for Q, K, V and each head's
// Q_h K_h^T, a softmax over each row's visible keys, the lower triangle of P_h when causal.
template <class RowsMatrix, class WeightMatrix, class ScoreMatrix>
struct eigen_layer {
    RowsMatrix x, q, k, v, context, y;
    WeightMatrix wq, wk, wv, wo;
    ScoreMatrix s;
};

template <class Layer>
void eigen_softmax_rows(Layer& l, std::size_t seq, bool causal) {
    for (Eigen::Index i = 0; i < Eigen::Index(seq); ++i) {
        auto row = l.s.row(i).head(causal ? i + 1 : Eigen::Index(seq));
        row = (row.array() - row.maxCoeff()).exp().matrix();
        row /= row.sum();
    }
}

void mha_eigen_dynamic(benchmark::State& state, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const auto& in = layer_data(seq, dim, heads, causal);
    const Eigen::Index S = Eigen::Index(seq), D = Eigen::Index(dim), hd = Eigen::Index(dim / heads);
    const float scale = float(1.0 / std::sqrt(double(hd)));
    eigen_layer<dyn_matrix, dyn_matrix, dyn_matrix> l;
    l.x = const_dyn_map(in.x.data(), S, D);
    l.wq = const_dyn_map(in.wq.data(), D, D);
    l.wk = const_dyn_map(in.wk.data(), D, D);
    l.wv = const_dyn_map(in.wv.data(), D, D);
    l.wo = const_dyn_map(in.wo.data(), D, D);
    l.context.resize(S, D);
    l.s.resize(S, S);
    auto run = [&] {
        l.q.noalias() = l.x * l.wq;
        l.k.noalias() = l.x * l.wk;
        l.v.noalias() = l.x * l.wv;
        for (Eigen::Index h = 0; h < Eigen::Index(heads); ++h) {
            l.s.noalias() = scale * (l.q.middleCols(h * hd, hd) * l.k.middleCols(h * hd, hd).transpose());
            eigen_softmax_rows(l, seq, causal);
            if (causal)
                l.context.middleCols(h * hd, hd).noalias() = l.s.triangularView<Eigen::Lower>() * l.v.middleCols(h * hd, hd);
            else
                l.context.middleCols(h * hd, hd).noalias() = l.s * l.v.middleCols(h * hd, hd);
        }
        l.y.noalias() = l.context * l.wo;
    };
    auto check = [&] { return agrees(state, "mha", l.y.data(), in.expected.data(), seq * dim, layer_tolerance); };
    if (check_then_time(state, l.y.data(), run, check)) set_flops(state, layer_flops(seq, dim, heads, causal));
}

template <int S, int D, int H, bool Causal>
void mha_eigen_fixed(benchmark::State& state) {
    constexpr int hd = D / H;
    using rows_type = Eigen::Matrix<float, S, D, Eigen::RowMajor>;
    using weight_type = Eigen::Matrix<float, D, D, Eigen::RowMajor>;
    using score_type = Eigen::Matrix<float, S, S, Eigen::RowMajor>;
    const auto& in = layer_data(S, D, H, Causal);
    const float scale = float(1.0 / std::sqrt(double(hd)));
    auto l = std::make_unique<eigen_layer<rows_type, weight_type, score_type>>();
    l->x = Eigen::Map<const rows_type>(in.x.data());
    l->wq = Eigen::Map<const weight_type>(in.wq.data());
    l->wk = Eigen::Map<const weight_type>(in.wk.data());
    l->wv = Eigen::Map<const weight_type>(in.wv.data());
    l->wo = Eigen::Map<const weight_type>(in.wo.data());
    auto run = [&] {
        l->q.noalias() = l->x * l->wq;
        l->k.noalias() = l->x * l->wk;
        l->v.noalias() = l->x * l->wv;
        for (int h = 0; h < H; ++h) {
            l->s.noalias() = scale * (l->q.template middleCols<hd>(h * hd) * l->k.template middleCols<hd>(h * hd).transpose());
            eigen_softmax_rows(*l, S, Causal);
            if constexpr (Causal)
                l->context.template middleCols<hd>(h * hd).noalias() =
                    l->s.template triangularView<Eigen::Lower>() * l->v.template middleCols<hd>(h * hd);
            else
                l->context.template middleCols<hd>(h * hd).noalias() = l->s * l->v.template middleCols<hd>(h * hd);
        }
        l->y.noalias() = l->context * l->wo;
    };
    auto check = [&] { return agrees(state, "mha", l->y.data(), in.expected.data(), std::size_t(S) * D, layer_tolerance); };
    if (check_then_time(state, l->y.data(), run, check)) set_flops(state, layer_flops(S, D, H, Causal));
}

std::string layer_name(std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    return "mha/S" + std::to_string(seq) + "/D" + std::to_string(dim) + "/H" + std::to_string(heads) +
           (causal ? "/causal" : "/none");
}

template <std::size_t D, std::size_t H, class Mask>
void register_layer(std::size_t seq) {
    constexpr bool causal = std::is_same_v<Mask, ctattn::causal_mask>;
    const std::string base = layer_name(seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/ctattn").c_str(), mha_ctattn<D, H, Mask, simd_arch>, seq);
    benchmark::RegisterBenchmark((base + "/ctattn_scalar").c_str(), mha_ctattn<D, H, Mask, scalar_arch>, seq);
    benchmark::RegisterBenchmark((base + "/plain").c_str(), mha_plain<plain::mha>, seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/plain_fastmath").c_str(), mha_plain<plain_fast::mha>, seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/eigen_dynamic").c_str(), mha_eigen_dynamic, seq, D, H, causal);
}

template <std::size_t D, std::size_t H>
void register_layer_all_lengths() {
    for (std::size_t seq : {16, 64, 256}) {
        register_layer<D, H, ctattn::causal_mask>(seq);
        register_layer<D, H, ctattn::no_mask>(seq);
    }
}

template <int S, int D, int H, bool Causal>
void register_layer_fixed() {
    benchmark::RegisterBenchmark((layer_name(S, D, H, Causal) + "/eigen_fixed").c_str(), mha_eigen_fixed<S, D, H, Causal>);
}

}  // namespace

// Full grid (S x width x heads x mask) for ctattn, its scalar path, both plain-loop builds and
// Eigen dynamic (ctattn instantiates per width x heads x mask, S is a run-time length). Eigen
// fixed-size needs one instantiation per point, so it covers the target point and one axis at a time.
void register_mha_benchmarks() {
    register_layer_all_lengths<64, 1>();
    register_layer_all_lengths<64, 4>();
    register_layer_all_lengths<64, 8>();
    register_layer_all_lengths<128, 1>();
    register_layer_all_lengths<128, 4>();
    register_layer_all_lengths<128, 8>();
    register_layer_all_lengths<256, 1>();
    register_layer_all_lengths<256, 4>();
    register_layer_all_lengths<256, 8>();
    register_layer_all_lengths<512, 1>();
    register_layer_all_lengths<512, 4>();
    register_layer_all_lengths<512, 8>();
    register_layer_fixed<64, 256, 8, true>();
    register_layer_fixed<64, 256, 8, false>();
    register_layer_fixed<16, 256, 8, true>();
    register_layer_fixed<256, 256, 8, true>();
    register_layer_fixed<64, 64, 8, true>();
    register_layer_fixed<64, 128, 8, true>();
    register_layer_fixed<64, 512, 8, true>();
    register_layer_fixed<64, 256, 1, true>();
    register_layer_fixed<64, 256, 4, true>();
    register_layer_fixed<16, 64, 4, true>();
}

}  // namespace ctattn_bench
