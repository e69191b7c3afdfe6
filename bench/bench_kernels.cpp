// SPDX-License-Identifier: Apache-2.0
// Kernel benchmarks: projection, scores, masked softmax and aggregation, each beside its baselines
// in this binary: ctattn's scalar path, plain llama2.c-style loops (ctattn's flags, and
// -ffast-math), Eigen 3.4 dynamic matrices and, for projection, fixed-size ones. Names read
// kernel/shape/implementation, e.g. projection/S64/D256/ctattn.
// Compiled twice (bench/meson.build): CTATTN_BENCH_KERNELS_PART 1 holds projection, 2 the
// attention-core kernels, so the two halves, each a long compile, build in parallel.
#include <ctattn/ctattn.hpp>

#include <Eigen/Dense>

#include <limits>
#include <map>
#include <memory>
#include <string>

#include "bench_common.hpp"
#include "plain_loops.hpp"
#include "../tests/reference/forward_double.hpp"

#if CTATTN_BENCH_KERNELS_PART != 1 && CTATTN_BENCH_KERNELS_PART != 2
#error "compile bench_kernels.cpp with -DCTATTN_BENCH_KERNELS_PART=1 or 2"
#endif

namespace ctattn_bench {
namespace {

namespace ref = ctattn_test::ref;

using simd_arch = ctattn::simd::default_arch;
using scalar_arch = ctattn::simd::scalar_arch;
using dyn_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using dyn_map = Eigen::Map<dyn_matrix>;
using const_dyn_map = Eigen::Map<const dyn_matrix>;

// Tolerance for every kernel check: 1e-4 of the reference's largest magnitude. A float dot product
// of <= 512 terms of size <= 1 carries a relative rounding error of a few 1e-6 whatever the
// summation order (blocked, -ffast-math reassociated, Eigen's panels); an indexing or masking bug
// is wrong by O(1), so 1e-4 separates the two with margin on both sides.
constexpr double kernel_tolerance = 1e-4;

template <class T>
T& cached(std::map<std::string, std::unique_ptr<T>>& cache, const std::string& key) {
    auto& slot = cache[key];
    if (!slot) slot = std::make_unique<T>();
    return *slot;
}

#if CTATTN_BENCH_KERNELS_PART == 1
// ---- projection: Y (S, D) = X (S, D) @ W (D, D) -----------------------------------------------

struct projection_inputs {
    std::size_t seq = 0, dim = 0;
    aligned_block<float> x, w, w_out_in;  // x (S, D); w (D, D) for x @ W; w_out_in = W^T (llama2.c layout)
    ref::dvec expected;                   // (S, D)
};

const projection_inputs& projection_data(std::size_t seq, std::size_t dim) {
    static std::map<std::string, std::unique_ptr<projection_inputs>> cache;
    auto& in = cached(cache, std::to_string(seq) + "x" + std::to_string(dim));
    if (in.seq == 0) {
        in.seq = seq;
        in.dim = dim;
        const auto x = random_floats(seq * dim, 11 + unsigned(dim)), w = random_floats(dim * dim, 29 + unsigned(dim));
        in.x = aligned_block<float>(seq * dim);
        in.w = aligned_block<float>(dim * dim);
        in.w_out_in = aligned_block<float>(dim * dim);
        for (std::size_t i = 0; i < x.size(); ++i) in.x[i] = x[i];
        for (std::size_t r = 0; r < dim; ++r)
            for (std::size_t c = 0; c < dim; ++c) {
                in.w[r * dim + c] = w[r * dim + c];
                in.w_out_in[c * dim + r] = w[r * dim + c];
            }
        in.expected = ref::matmul(ref::widen(x.data(), x.size()), ref::widen(w.data(), w.size()), nullptr, seq, dim, dim);
    }
    return in;
}

template <std::size_t D, class Arch>
void projection_ctattn(benchmark::State& state, std::size_t seq) {
    const auto& in = projection_data(seq, D);
    aligned_block<float> y(seq * D);
    auto run = [&] { ctattn::kernels::project<D, D, Arch>(seq, in.x.data(), in.w.data(), nullptr, y.data()); };
    auto check = [&] { return agrees(state, "projection", y.data(), in.expected.data(), seq * D, kernel_tolerance); };
    if (check_then_time(state, y.data(), run, check)) set_flops(state, 2.0 * double(seq) * D * D);
}

// The same projection from weights packed into panels once (untimed, as at weight-load time).
template <std::size_t D>
void projection_ctattn_packed(benchmark::State& state, std::size_t seq) {
    const auto& in = projection_data(seq, D);
    aligned_block<ctattn::kernels::packed_matrix<D, D, simd_arch>> w(1);
    w[0].pack(in.w.data());
    aligned_block<float> y(seq * D);
    auto run = [&] { ctattn::kernels::project(seq, in.x.data(), w[0], nullptr, y.data()); };
    auto check = [&] { return agrees(state, "projection", y.data(), in.expected.data(), seq * D, kernel_tolerance); };
    if (check_then_time(state, y.data(), run, check)) set_flops(state, 2.0 * double(seq) * D * D);
}

template <void (*Matmul)(float*, const float*, const float*, int, int)>
void projection_plain(benchmark::State& state, std::size_t seq, std::size_t dim) {
    const auto& in = projection_data(seq, dim);
    aligned_block<float> y(seq * dim);
    auto run = [&] {
        for (std::size_t r = 0; r < seq; ++r) Matmul(y.data() + r * dim, in.x.data() + r * dim, in.w_out_in.data(), int(dim), int(dim));
    };
    auto check = [&] { return agrees(state, "projection", y.data(), in.expected.data(), seq * dim, kernel_tolerance); };
    if (check_then_time(state, y.data(), run, check)) set_flops(state, 2.0 * double(seq) * double(dim) * double(dim));
}

void projection_eigen_dynamic(benchmark::State& state, std::size_t seq, std::size_t dim) {
    const auto& in = projection_data(seq, dim);
    const dyn_matrix x = const_dyn_map(in.x.data(), Eigen::Index(seq), Eigen::Index(dim));
    const dyn_matrix w = const_dyn_map(in.w.data(), Eigen::Index(dim), Eigen::Index(dim));
    dyn_matrix y(seq, dim);
    auto run = [&] { y.noalias() = x * w; };
    auto check = [&] { return agrees(state, "projection", y.data(), in.expected.data(), seq * dim, kernel_tolerance); };
    if (check_then_time(state, y.data(), run, check)) set_flops(state, 2.0 * double(seq) * double(dim) * double(dim));
}

template <int S, int D>
void projection_eigen_fixed(benchmark::State& state) {
    using rows_type = Eigen::Matrix<float, S, D, Eigen::RowMajor>;
    using weight_type = Eigen::Matrix<float, D, D, Eigen::RowMajor>;
    const auto& in = projection_data(S, D);
    auto x = std::make_unique<rows_type>(), y = std::make_unique<rows_type>();
    auto w = std::make_unique<weight_type>();
    *x = Eigen::Map<const rows_type>(in.x.data());
    *w = Eigen::Map<const weight_type>(in.w.data());
    auto run = [&] { y->noalias() = *x * *w; };
    auto check = [&] {
        return agrees(state, "projection", y->data(), in.expected.data(), std::size_t(S) * D, kernel_tolerance);
    };
    if (check_then_time(state, y->data(), run, check)) set_flops(state, 2.0 * S * D * D);
}

#endif  // part 1

#if CTATTN_BENCH_KERNELS_PART == 2
// ---- attention core: scores, softmax, aggregation over all heads of a layer --------------------
// Q, K, V are (S, D) with head h in columns h*head_dim..; scores and P are (heads, S, S).

struct core_inputs {
    std::size_t seq = 0, dim = 0, heads = 0;
    bool causal = false;
    aligned_block<float> q, k, v;
    aligned_block<float> scores_in;  // (heads, S, S) reference scores rounded to float, -inf masked
    aligned_block<float> p_in;       // (heads, S, S) reference softmax rounded to float, 0 masked
    ref::dvec scores, p, context;
};

const core_inputs& core_data(std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    static std::map<std::string, std::unique_ptr<core_inputs>> cache;
    auto& in = cached(cache, std::to_string(seq) + "/" + std::to_string(dim) + "/" + std::to_string(heads) +
                                 (causal ? "c" : "n"));
    if (in.seq == 0) {
        in.seq = seq;
        in.dim = dim;
        in.heads = heads;
        in.causal = causal;
        const auto q = random_floats(seq * dim, 3), k = random_floats(seq * dim, 5), v = random_floats(seq * dim, 7);
        in.q = aligned_block<float>(seq * dim);
        in.k = aligned_block<float>(seq * dim);
        in.v = aligned_block<float>(seq * dim);
        for (std::size_t i = 0; i < seq * dim; ++i) in.q[i] = q[i], in.k[i] = k[i], in.v[i] = v[i];
        in.scores = ref::scores(ref::widen(q.data(), q.size()), ref::widen(k.data(), k.size()), seq, dim, heads, heads,
                                ref::causal_or_none(causal));
        in.p = ref::softmax_rows(in.scores, seq);
        in.context = ref::aggregate(in.p, ref::widen(v.data(), v.size()), seq, dim, heads, heads);
        in.scores_in = aligned_block<float>(in.scores.size());
        in.p_in = aligned_block<float>(in.p.size());
        for (std::size_t i = 0; i < in.scores.size(); ++i) in.scores_in[i] = float(in.scores[i]), in.p_in[i] = float(in.p[i]);
    }
    return in;
}

// Visible entries only: what a kernel leaves in masked slots is its own business (ctattn writes
// -inf, llama2.c never touches them), the visible ones must agree.
bool visible_agree(benchmark::State& state, const char* what, const core_inputs& in, const float* got,
                   const ref::dvec& want) {
    std::vector<float> got_visible;
    ref::dvec want_visible;
    for (std::size_t h = 0; h < in.heads; ++h)
        for (std::size_t i = 0; i < in.seq; ++i)
            for (std::size_t j = 0; j < ref::visible_keys(in.causal, i, in.seq); ++j) {
                got_visible.push_back(got[(h * in.seq + i) * in.seq + j]);
                want_visible.push_back(want[(h * in.seq + i) * in.seq + j]);
            }
    return agrees(state, what, got_visible.data(), want_visible.data(), got_visible.size(), kernel_tolerance);
}

double visible_pairs(const core_inputs& in) {
    return double(in.heads) * (in.causal ? double(in.seq) * double(in.seq + 1) / 2.0 : double(in.seq) * double(in.seq));
}

template <std::size_t D, std::size_t H, class Mask, class Arch>
void scores_ctattn(benchmark::State& state, std::size_t seq) {
    constexpr std::size_t hd = D / H;
    const auto& in = core_data(seq, D, H, std::is_same_v<Mask, ctattn::causal_mask>);
    const float scale = float(1.0 / std::sqrt(double(hd)));
    aligned_block<float> s(H * seq * seq);
    auto run = [&] {
        for (std::size_t h = 0; h < H; ++h)
            ctattn::kernels::attention_scores<hd, Mask, Arch, D, D>(seq, in.q.data() + h * hd, 0, seq, in.k.data() + h * hd,
                                                                    {}, scale, s.data() + h * seq * seq, seq);
    };
    auto check = [&] { return visible_agree(state, "scores", in, s.data(), in.scores); };
    if (check_then_time(state, s.data(), run, check)) set_flops(state, 2.0 * hd * visible_pairs(in));
}

// The blocked core's scores (what multi_head_attention runs on vector arches): per head, K
// transposed once, then one register tile per block of query rows over the keys the block sees.
// Raw dot products come out (softmax applies the scale); the check scales a copy.
template <std::size_t D, std::size_t H, class Mask>
void scores_ctattn_blocked(benchmark::State& state, std::size_t seq) {
    constexpr std::size_t hd = D / H, rows = ctattn::kernels::projection_tile_shape<simd_arch>::rows;
    constexpr std::size_t key_stride = ctattn::blocked_key_stride<256>, W = ctattn::simd::width<simd_arch>;
    const auto& in = core_data(seq, D, H, std::is_same_v<Mask, ctattn::causal_mask>);
    aligned_block<float> s(H * seq * key_stride), kt(hd * key_stride), checked(H * seq * seq);
    auto run = [&] {
        for (std::size_t h = 0; h < H; ++h) {
            ctattn::kernels::transpose_keys<hd, D, key_stride, W>(seq, in.k.data() + h * hd, kt.data());
            for (std::size_t i0 = 0; i0 < seq; i0 += rows)  // the last block may be shorter
                ctattn::kernels::with_row_count<rows>(seq - i0 < rows ? seq - i0 : rows, [&](auto n) {
                    constexpr std::size_t block_rows = decltype(n)::value;
                    const std::size_t end = Mask::visible_keys({}, i0 + block_rows - 1, seq).end;
                    ctattn::kernels::score_rows_transposed<hd, block_rows, simd_arch, D, key_stride, key_stride>(
                        0, end, in.q.data() + i0 * D + h * hd, kt.data(), s.data() + (h * seq + i0) * key_stride);
                });
        }
    };
    auto check = [&] {
        const float scale = float(1.0 / std::sqrt(double(hd)));
        for (std::size_t r = 0; r < H * seq; ++r)
            for (std::size_t j = 0; j < seq; ++j) checked[r * seq + j] = scale * s[r * key_stride + j];
        return visible_agree(state, "scores", in, checked.data(), in.scores);
    };
    if (check_then_time(state, s.data(), run, check)) set_flops(state, 2.0 * hd * visible_pairs(in));
}

template <void (*Scores)(float*, const float*, const float*, int, int, int)>
void scores_plain(benchmark::State& state, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const auto& in = core_data(seq, dim, heads, causal);
    const std::size_t hd = dim / heads;
    aligned_block<float> s(heads * seq * seq);
    auto run = [&] {
        for (std::size_t h = 0; h < heads; ++h)
            for (std::size_t i = 0; i < seq; ++i)
                Scores(s.data() + (h * seq + i) * seq, in.q.data() + i * dim + h * hd, in.k.data() + h * hd,
                       int(ref::visible_keys(causal, i, seq)), int(hd), int(dim));
    };
    auto check = [&] { return visible_agree(state, "scores", in, s.data(), in.scores); };
    if (check_then_time(state, s.data(), run, check)) set_flops(state, 2.0 * double(hd) * visible_pairs(in));
}

// Eigen as an Eigen user writes it: the whole Q_h K_h^T product, then -inf over the future.
void scores_eigen_dynamic(benchmark::State& state, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const auto& in = core_data(seq, dim, heads, causal);
    const Eigen::Index hd = Eigen::Index(dim / heads), S = Eigen::Index(seq);
    const dyn_matrix q = const_dyn_map(in.q.data(), S, Eigen::Index(dim));
    const dyn_matrix k = const_dyn_map(in.k.data(), S, Eigen::Index(dim));
    dyn_matrix s(S * Eigen::Index(heads), S);
    const float scale = float(1.0 / std::sqrt(double(hd)));
    auto run = [&] {
        for (Eigen::Index h = 0; h < Eigen::Index(heads); ++h) {
            auto block = s.middleRows(h * S, S);
            block.noalias() = scale * (q.middleCols(h * hd, hd) * k.middleCols(h * hd, hd).transpose());
            if (causal) block.triangularView<Eigen::StrictlyUpper>().setConstant(-std::numeric_limits<float>::infinity());
        }
    };
    auto check = [&] { return visible_agree(state, "scores", in, s.data(), in.scores); };
    if (check_then_time(state, s.data(), run, check)) set_flops(state, 2.0 * double(hd) * visible_pairs(in));
}

// Softmax runs in place, so the check runs once on the scores and the timed loop re-normalises the
// rows it produced: the same visible lengths, the same number of exponentials, no NaN.
template <class Mask, class Arch>
void softmax_ctattn(benchmark::State& state, std::size_t seq, std::size_t dim, std::size_t heads) {
    const auto& in = core_data(seq, dim, heads, std::is_same_v<Mask, ctattn::causal_mask>);
    aligned_block<float> p(in.scores.size());
    for (std::size_t i = 0; i < in.scores.size(); ++i) p[i] = in.scores_in[i];
    auto run = [&] {
        for (std::size_t r = 0; r < heads * seq; ++r)
            ctattn::kernels::softmax_row<Arch>(p.data() + r * seq, seq, Mask::visible_keys({}, r % seq, seq));
    };
    auto check = [&] { return visible_agree(state, "softmax", in, p.data(), in.p); };
    if (check_then_time(state, p.data(), run, check)) set_elements(state, visible_pairs(in));
}

template <void (*Softmax)(float*, int)>
void softmax_plain(benchmark::State& state, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const auto& in = core_data(seq, dim, heads, causal);
    aligned_block<float> p(in.scores.size());
    for (std::size_t i = 0; i < in.scores.size(); ++i) p[i] = in.scores_in[i];
    auto run = [&] {
        for (std::size_t r = 0; r < heads * seq; ++r) Softmax(p.data() + r * seq, int(ref::visible_keys(causal, r % seq, seq)));
    };
    auto check = [&] { return visible_agree(state, "softmax", in, p.data(), in.p); };
    if (check_then_time(state, p.data(), run, check)) set_elements(state, visible_pairs(in));
}

void softmax_eigen_dynamic(benchmark::State& state, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const auto& in = core_data(seq, dim, heads, causal);
    dyn_matrix p = const_dyn_map(in.scores_in.data(), Eigen::Index(heads * seq), Eigen::Index(seq));
    auto run = [&] {
        for (Eigen::Index r = 0; r < p.rows(); ++r) {
            auto row = p.row(r).head(Eigen::Index(ref::visible_keys(causal, std::size_t(r) % seq, seq)));
            row = (row.array() - row.maxCoeff()).exp().matrix();
            row /= row.sum();
        }
    };
    auto check = [&] { return visible_agree(state, "softmax", in, p.data(), in.p); };
    if (check_then_time(state, p.data(), run, check)) set_elements(state, visible_pairs(in));
}

template <std::size_t D, std::size_t H, class Mask, class Arch>
void aggregate_ctattn(benchmark::State& state, std::size_t seq) {
    constexpr std::size_t hd = D / H;
    const auto& in = core_data(seq, D, H, std::is_same_v<Mask, ctattn::causal_mask>);
    aligned_block<float> context(seq * D);
    auto run = [&] {
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t i = 0; i < seq; ++i)
                ctattn::kernels::aggregate_row<hd, Arch, D>(in.p_in.data() + (h * seq + i) * seq, in.v.data() + h * hd,
                                                            Mask::visible_keys({}, i, seq), context.data() + i * D + h * hd);
    };
    auto check = [&] { return agrees(state, "aggregate", context.data(), in.context.data(), seq * D, kernel_tolerance); };
    if (check_then_time(state, context.data(), run, check)) set_flops(state, 2.0 * hd * visible_pairs(in));
}

// The blocked core's P V: a register tile per block of query rows, every loaded V vector serving
// all rows of the block, over the keys every row sees; each row's other visible keys row by row
// (masked keys are skipped, docs/design.md "Numeric contract"). P sits at the layer's score-block
// row stride (copied there once, untimed).
template <std::size_t D, std::size_t H, class Mask>
void aggregate_ctattn_blocked(benchmark::State& state, std::size_t seq) {
    constexpr std::size_t hd = D / H, rows = ctattn::kernels::projection_tile_shape<simd_arch>::rows;
    constexpr std::size_t key_stride = ctattn::blocked_key_stride<256>;
    const auto& in = core_data(seq, D, H, std::is_same_v<Mask, ctattn::causal_mask>);
    aligned_block<float> context(seq * D), p(H * seq * key_stride);
    for (std::size_t r = 0; r < H * seq; ++r)
        for (std::size_t j = 0; j < seq; ++j) p[r * key_stride + j] = in.p_in[r * seq + j];
    auto run = [&] {
        for (std::size_t h = 0; h < H; ++h)
            for (std::size_t i0 = 0; i0 < seq; i0 += rows)
                ctattn::kernels::with_row_count<rows>(seq - i0 < rows ? seq - i0 : rows, [&](auto n) {
                    constexpr std::size_t block_rows = decltype(n)::value;
                    ctattn::key_range visible[block_rows];
                    for (std::size_t r = 0; r < block_rows; ++r) visible[r] = Mask::visible_keys({}, i0 + r, seq);
                    ctattn::kernels::aggregate_rows<hd, block_rows, simd_arch, key_stride, D, D>(
                        visible, p.data() + (h * seq + i0) * key_stride, in.v.data() + h * hd,
                        context.data() + i0 * D + h * hd);
                });
    };
    auto check = [&] { return agrees(state, "aggregate", context.data(), in.context.data(), seq * D, kernel_tolerance); };
    if (check_then_time(state, context.data(), run, check)) set_flops(state, 2.0 * hd * visible_pairs(in));
}

template <void (*Aggregate)(float*, const float*, const float*, int, int, int)>
void aggregate_plain(benchmark::State& state, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const auto& in = core_data(seq, dim, heads, causal);
    const std::size_t hd = dim / heads;
    aligned_block<float> context(seq * dim);
    auto run = [&] {
        for (std::size_t h = 0; h < heads; ++h)
            for (std::size_t i = 0; i < seq; ++i)
                Aggregate(context.data() + i * dim + h * hd, in.p_in.data() + (h * seq + i) * seq, in.v.data() + h * hd,
                          int(ref::visible_keys(causal, i, seq)), int(hd), int(dim));
    };
    auto check = [&] { return agrees(state, "aggregate", context.data(), in.context.data(), seq * dim, kernel_tolerance); };
    if (check_then_time(state, context.data(), run, check)) set_flops(state, 2.0 * double(hd) * visible_pairs(in));
}

// Eigen: P_h V_h, with P_h's lower triangle only when causal (what an Eigen user would write).
void aggregate_eigen_dynamic(benchmark::State& state, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    const auto& in = core_data(seq, dim, heads, causal);
    const Eigen::Index hd = Eigen::Index(dim / heads), S = Eigen::Index(seq);
    const dyn_matrix p = const_dyn_map(in.p_in.data(), S * Eigen::Index(heads), S);
    const dyn_matrix v = const_dyn_map(in.v.data(), S, Eigen::Index(dim));
    dyn_matrix context(S, Eigen::Index(dim));
    auto run = [&] {
        for (Eigen::Index h = 0; h < Eigen::Index(heads); ++h) {
            if (causal)
                context.middleCols(h * hd, hd).noalias() =
                    p.middleRows(h * S, S).triangularView<Eigen::Lower>() * v.middleCols(h * hd, hd);
            else
                context.middleCols(h * hd, hd).noalias() = p.middleRows(h * S, S) * v.middleCols(h * hd, hd);
        }
    };
    auto check = [&] { return agrees(state, "aggregate", context.data(), in.context.data(), seq * dim, kernel_tolerance); };
    if (check_then_time(state, context.data(), run, check)) set_flops(state, 2.0 * double(hd) * visible_pairs(in));
}

#endif  // part 2

// ---- registration -------------------------------------------------------------------------------

std::string point_name(const char* kernel, std::size_t seq, std::size_t dim) {
    return std::string(kernel) + "/S" + std::to_string(seq) + "/D" + std::to_string(dim);
}
#if CTATTN_BENCH_KERNELS_PART == 2
std::string point_name(const char* kernel, std::size_t seq, std::size_t dim, std::size_t heads, bool causal) {
    return point_name(kernel, seq, dim) + "/H" + std::to_string(heads) + (causal ? "/causal" : "/none");
}
#endif

#if CTATTN_BENCH_KERNELS_PART == 1

template <std::size_t D>
void register_projection(std::size_t seq) {
    const std::string base = point_name("projection", seq, D);
    benchmark::RegisterBenchmark((base + "/ctattn").c_str(), projection_ctattn<D, simd_arch>, seq);
    benchmark::RegisterBenchmark((base + "/ctattn_packed").c_str(), projection_ctattn_packed<D>, seq);
    benchmark::RegisterBenchmark((base + "/ctattn_scalar").c_str(), projection_ctattn<D, scalar_arch>, seq);
    benchmark::RegisterBenchmark((base + "/plain").c_str(), projection_plain<plain::matmul>, seq, D);
    benchmark::RegisterBenchmark((base + "/plain_fastmath").c_str(), projection_plain<plain_fast::matmul>, seq, D);
    benchmark::RegisterBenchmark((base + "/eigen_dynamic").c_str(), projection_eigen_dynamic, seq, D);
}

template <int S, int D>
void register_projection_fixed() {
    benchmark::RegisterBenchmark((point_name("projection", S, D) + "/eigen_fixed").c_str(), projection_eigen_fixed<S, D>);
}

#endif  // part 1

#if CTATTN_BENCH_KERNELS_PART == 2
template <std::size_t D, std::size_t H, class Mask>
void register_core(std::size_t seq) {
    constexpr bool causal = std::is_same_v<Mask, ctattn::causal_mask>;
    std::string base = point_name("scores", seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/ctattn").c_str(), scores_ctattn_blocked<D, H, Mask>, seq);
    benchmark::RegisterBenchmark((base + "/ctattn_onerow").c_str(), scores_ctattn<D, H, Mask, simd_arch>, seq);
    benchmark::RegisterBenchmark((base + "/ctattn_scalar").c_str(), scores_ctattn<D, H, Mask, scalar_arch>, seq);
    benchmark::RegisterBenchmark((base + "/plain").c_str(), scores_plain<plain::scores>, seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/plain_fastmath").c_str(), scores_plain<plain_fast::scores>, seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/eigen_dynamic").c_str(), scores_eigen_dynamic, seq, D, H, causal);
    base = point_name("softmax", seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/ctattn").c_str(), softmax_ctattn<Mask, simd_arch>, seq, D, H);
    benchmark::RegisterBenchmark((base + "/ctattn_scalar").c_str(), softmax_ctattn<Mask, scalar_arch>, seq, D, H);
    benchmark::RegisterBenchmark((base + "/plain").c_str(), softmax_plain<plain::softmax>, seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/plain_fastmath").c_str(), softmax_plain<plain_fast::softmax>, seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/eigen_dynamic").c_str(), softmax_eigen_dynamic, seq, D, H, causal);
    base = point_name("aggregate", seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/ctattn").c_str(), aggregate_ctattn_blocked<D, H, Mask>, seq);
    benchmark::RegisterBenchmark((base + "/ctattn_onerow").c_str(), aggregate_ctattn<D, H, Mask, simd_arch>, seq);
    benchmark::RegisterBenchmark((base + "/ctattn_scalar").c_str(), aggregate_ctattn<D, H, Mask, scalar_arch>, seq);
    benchmark::RegisterBenchmark((base + "/plain").c_str(), aggregate_plain<plain::aggregate>, seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/plain_fastmath").c_str(), aggregate_plain<plain_fast::aggregate>, seq, D, H, causal);
    benchmark::RegisterBenchmark((base + "/eigen_dynamic").c_str(), aggregate_eigen_dynamic, seq, D, H, causal);
}

template <std::size_t D, std::size_t H>
void register_core_both_masks(std::size_t seq) {
    register_core<D, H, ctattn::causal_mask>(seq);
    register_core<D, H, ctattn::no_mask>(seq);
}

#endif  // part 2

}  // namespace

// Grid kept (see docs/performance.md): projection at every S x width; the attention-core kernels
// at S=64 for every width x heads, plus S=16 and S=256 at width 256 / 8 heads; Eigen fixed-size
// projection at S=64 for every width and at S=16/256 for width 256 (each fixed shape is a
// separate instantiation of Eigen's product, the slowest thing in this binary to compile).
#if CTATTN_BENCH_KERNELS_PART == 1
void register_projection_benchmarks() {
    for (std::size_t seq : {16, 64, 256}) {
        register_projection<64>(seq);
        register_projection<128>(seq);
        register_projection<256>(seq);
        register_projection<512>(seq);
    }
    register_projection_fixed<64, 64>();
    register_projection_fixed<64, 128>();
    register_projection_fixed<64, 256>();
    register_projection_fixed<64, 512>();
    register_projection_fixed<16, 256>();
    register_projection_fixed<256, 256>();
}
#else
void register_attention_kernel_benchmarks() {
    register_core_both_masks<64, 1>(64);
    register_core_both_masks<64, 4>(64);
    register_core_both_masks<64, 8>(64);
    register_core_both_masks<128, 1>(64);
    register_core_both_masks<128, 4>(64);
    register_core_both_masks<128, 8>(64);
    register_core_both_masks<256, 1>(64);
    register_core_both_masks<256, 4>(64);
    register_core_both_masks<256, 8>(64);
    register_core_both_masks<512, 1>(64);
    register_core_both_masks<512, 4>(64);
    register_core_both_masks<512, 8>(64);
    register_core_both_masks<256, 8>(16);
    register_core_both_masks<256, 8>(256);
}
#endif

}  // namespace ctattn_bench
