// SPDX-License-Identifier: Apache-2.0
// The numeric contract (docs/design.md, "Numeric contract"), checked on every arch this build has:
// the default arch and each narrower one down to scalar (AVX-512 -> AVX2 -> SSE -> scalar on an
// AVX-512 x86, NEON -> scalar on aarch64, scalar alone in the scalar build). Each core (softmax_row;
// attend, one query row at a time; attend with one query against a growing key range, as the KV
// cache decodes; attend_blocked, the prefill and layer core) is compared with a double reference
// written here on random rows whose entries are ordinary, huge (up to FLT_MAX), clustered near
// 1e11..1e13 (the raw scores that broke the folded scale), tiny (subnormal) or +-inf/NaN.
//
// Tolerances, derived once (u = 2^-24). A float score of head_dim products carries an error of at
// most (head_dim + 2) u sum_d |q_d k_d| (any order, with or without FMA), the scale one more u;
// softmax's exponent for key k adds at most 3 u |a_k| + 2 u |t_max| (a_k = t_k - t_max, the two
// roundings of fma(s, scale, -hi) - lo, or of fl(fl(s scale) - hi) where FMA is not fused). A
// perturbation delta_k of each exponent changes each weight by a factor within exp(+-2 max|delta|),
// and exp, the sum of n terms and the division add (2n + 16) u. So each weight is within
// w = expm1(2 max delta) + (2n + 16) u relative of the double softmax, and the output
// sum_j p_j v_j within (w + (n + 4) u) sum_j p_j |v_j|. When that bound is useless (scores near 1e12
// carry absolute errors ~1e6, so only their order is known), what remains checkable, and checked,
// is the rest of the contract: finite, and a convex combination, |o| <= max |v| (1 + (n + 4) u).
#include <catch2/catch.hpp>

#include <ctattn/ctattn.hpp>

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <type_traits>
#include <vector>

namespace {

using ctattn::key_range;
using ctattn::simd::scalar_arch;

constexpr double u = 0x1p-24;
constexpr float inf = std::numeric_limits<float>::infinity();
const float nan_value = std::numeric_limits<float>::quiet_NaN();

// f(Arch{}) for the default arch and every narrower one down to scalar.
template <class Arch = ctattn::simd::default_arch, class F>
void for_each_arch(F&& f) {
    f(Arch{});
    if constexpr (!std::is_same_v<Arch, scalar_arch>)
        for_each_arch<decltype(ctattn::simd::narrower_arch_of<Arch>())>(f);
}

// ---- random entries ----------------------------------------------------------------------------

enum class entry { ordinary, huge, tiny, clustered };

struct entry_source {
    std::mt19937 rng;
    float cluster = 1e12f;  // base of the clustered entries (set per row)

    explicit entry_source(unsigned seed) : rng(seed) {}
    double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
    float sign() { return rng() % 2 ? 1.0f : -1.0f; }
    float draw(entry e) {
        switch (e) {
            case entry::ordinary: return float(uniform(-8.0, 8.0));
            case entry::huge: return sign() * float(std::exp(uniform(std::log(1e30), std::log(double(FLT_MAX)))));
            case entry::tiny: return sign() * float(std::exp(uniform(std::log(1e-45), std::log(1e-30))));
            case entry::clustered:  // the cluster's base plus 0..3 ulps: ties at the max, as raw scores near 1e12 have
                return cluster + float(rng() % 4) * (cluster * 0x1p-23f);
        }
        return 0.0f;
    }
    entry any_finite() { return entry(rng() % 4); }
};

// ---- softmax_row against the double softmax ----------------------------------------------------

// What the contract says softmax_row gives for scores s over `run` with scale: NaN everywhere in
// the run if a scaled score is NaN; 1/k on the k +inf entries; zeros for a run of -inf; else the
// softmax of scale * s in double. want_nan / exact tell which.
struct softmax_expectation {
    std::vector<double> p;
    bool nan_row = false;
    bool exact = false;  // +inf shares and all -inf rows are exact
    double delta = 0.0;  // bound on the exponent errors, see the header
};

softmax_expectation expected_softmax(const std::vector<float>& s, key_range run, float scale, bool fused) {
    const std::size_t n = s.size();
    softmax_expectation e;
    e.p.assign(n, 0.0);
    bool nan_seen = false;
    std::size_t infinite = 0;
    double max = -INFINITY;
    for (std::size_t j = run.begin; j < run.end; ++j) {
        const double t = double(scale) * double(s[j]);
        nan_seen = nan_seen || std::isnan(t);
        infinite += t == INFINITY ? 1 : 0;
        max = t > max ? t : max;
    }
    if (nan_seen) {
        e.nan_row = true;
        return e;
    }
    if (infinite > 0 || max == -INFINITY) {
        e.exact = true;
        for (std::size_t j = run.begin; j < run.end; ++j)
            e.p[j] = infinite > 0 && double(scale) * s[j] == INFINITY ? 1.0 / double(float(infinite)) : 0.0;
        return e;
    }
    double sum = 0.0;
    for (std::size_t j = run.begin; j < run.end; ++j) sum += (e.p[j] = std::exp(double(scale) * s[j] - max));
    for (std::size_t j = run.begin; j < run.end; ++j) {
        e.p[j] /= sum;
        const double a = double(scale) * s[j] - max;
        if (a > -200.0) {  // keys whose weight a float can hold
            const double t = std::abs(double(scale) * s[j]);
            // The exponent's roundings (fused: lo is exact, |lo| <= u |max|), or (not fused) those of
            // fl(s scale) and fl(max scale) as well.
            const double d = fused ? 3.0 * u * std::abs(a) + 2.0 * u * u * std::abs(max) + 0x1p-140
                                   : 3.0 * u * std::abs(a) + 2.0 * u * (t + std::abs(max));
            e.delta = d > e.delta ? d : e.delta;
        }
    }
    return e;
}

// Whether ops<Arch>::fma rounds once: (1 + 2^-12)^2 - (1 + 2^-11) is 2^-24 exactly, 0 after a
// rounded product (2^-24 is half an ulp of 1 + 2^-11, and ties go to even).
template <class Arch>
bool fma_is_fused() {
    using V = ctattn::simd::ops<Arch>;
    alignas(64) float out[64];
    volatile float a = 1.0f + 0x1p-12f, c = -(1.0f + 0x1p-11f);  // not constant-folded
    V::store(out, V::fma(V::broadcast(a), V::broadcast(a), V::broadcast(c)));
    return out[0] != 0.0f;
}

// Checks one softmax_row call against the contract.
template <class Arch>
void check_softmax_row(const std::vector<float>& scores, key_range run, float scale) {
    const std::size_t n = scores.size();
    std::vector<float> row = scores;
    ctattn::kernels::softmax_row<Arch>(row.data(), n, run, scale);
    const softmax_expectation want = expected_softmax(scores, run, scale, fma_is_fused<Arch>());
    INFO("n " << n << " run [" << run.begin << ", " << run.end << ") scale " << scale << " arch "
              << ctattn::simd::arch_name<Arch>());
    double sum = 0.0;
    for (std::size_t j = 0; j < n; ++j) {
        INFO("key " << j << " score " << scores[j] << " weight " << row[j] << " want " << want.p[j]);
        if (j < run.begin || j >= run.end) {
            REQUIRE(row[j] == 0.0f);  // masked: exactly 0, whatever its score (NaN included)
            continue;
        }
        if (want.nan_row) {
            REQUIRE(std::isnan(row[j]));
            continue;
        }
        REQUIRE(std::isfinite(row[j]));
        REQUIRE(row[j] >= 0.0f);
        REQUIRE(row[j] <= 1.0f);
        sum += row[j];
        if (want.exact) {
            REQUIRE(double(row[j]) == double(float(want.p[j])));
            continue;
        }
        // A useless bound (rel >= 1: raw scores ~1e12 without a fused FMA) leaves [0, 1] and the sum.
        const double rel = std::expm1(2.0 * want.delta) + double(2 * n + 16) * u;
        const double allowed = rel >= 1.0 ? 1.0 : rel * want.p[j] + 0x1p-125;  // + a subnormal's worth
        REQUIRE(std::abs(row[j] - want.p[j]) <= allowed);
    }
    if (!want.nan_row && !want.exact) REQUIRE(std::abs(sum - 1.0) <= double(2 * n + 8) * u);
}

constexpr std::size_t row_lengths[] = {1, 3, 5, 13, 21, 37};

// Runs that start and end inside vectors and at their edges.
std::vector<key_range> runs_of(std::size_t n) {
    return {{0, n}, {1, n}, {0, n - 1}, {n / 3, n - n / 4}, {n - 1, n}, {n / 2, n / 2}};
}

template <class Arch>
void check_finite_rows() {
    for (std::size_t n : row_lengths)
        for (const key_range run : runs_of(n))
            for (float scale : {1.0f, 0.35f, 0.35355339f})
                for (unsigned trial = 0; trial < 24; ++trial) {
                    entry_source src(unsigned(n * 1000 + run.begin * 100 + trial));
                    const float bases[] = {1e11f, 1e12f, 1e13f, 1e30f, -1e30f, 3e38f, -3e38f, 1.0f};
                    src.cluster = bases[trial % 8];
                    std::vector<float> s(n);
                    // Rows of one kind (all clustered, all huge, ...) and rows mixing all four.
                    const entry kind = entry(trial % 4);
                    for (float& x : s) x = trial < 12 ? src.draw(kind) : src.draw(src.any_finite());
                    if (trial % 5 == 0) s[n - 1] = (trial % 2 ? 1.0f : -1.0f) * FLT_MAX;  // a tail at +-FLT_MAX
                    check_softmax_row<Arch>(s, run, scale);
                }
}

template <class Arch>
void check_non_finite_rows() {
    for (std::size_t n : row_lengths)
        for (const key_range run : runs_of(n))
            for (unsigned trial = 0; trial < 16; ++trial) {
                entry_source src(unsigned(n * 977 + run.end * 31 + trial));
                std::vector<float> s(n);
                for (float& x : s) x = src.draw(src.any_finite());
                // A few -inf, +inf or NaN entries at random places (body, tail, masked slots).
                const float specials[] = {-inf, inf, nan_value};
                const std::size_t count = 1 + src.rng() % 3;
                for (std::size_t c = 0; c < count; ++c) s[src.rng() % n] = specials[(trial + c) % 3];
                if (trial == 15)
                    for (float& x : s) x = -inf;
                check_softmax_row<Arch>(s, run, trial % 2 ? 0.35f : 1.0f);
            }
}

// ---- the attention cores against the double reference -----------------------------------------

// One test input for a core: q (n x d_model), k and v (n x kv_dim).
struct qkv {
    std::vector<float> q, k, v;
};

template <class Config>
qkv random_qkv(std::size_t n, unsigned seed, int style) {
    entry_source src(seed);
    qkv x{std::vector<float>(n * Config::d_model), std::vector<float>(n * Config::kv_dim),
          std::vector<float>(n * Config::kv_dim)};
    // style 0: ordinary; 1: q and k near +-5e5 (raw scores ~1e11..1e13, a few ulps apart);
    // 2: a mix of huge (scores far past FLT_MAX), tiny and ordinary q and k entries, huge values;
    // 3: q = 0 (every score ties: equal weights, 1/n rounded) and values of one sign at or near
    //    FLT_MAX, whose weighted sum a float accumulation can push past FLT_MAX.
    auto fill = [&](std::vector<float>& a, bool is_value) {
        for (float& e : a) {
            if (style == 3) {
                if (!is_value) e = &a == &x.q ? 0.0f : float(src.uniform(-1.0, 1.0));
                else e = src.rng() % 2 ? FLT_MAX : float(src.uniform(0.75, 1.0)) * FLT_MAX;
            } else if (style == 0) e = float(src.uniform(-1.0, 1.0));
            else if (style == 1) e = is_value ? float(src.uniform(-1.0, 1.0)) : float(src.uniform(2e5, 8e5)) * (src.rng() % 8 ? 1.0f : -1.0f);
            else {
                const unsigned r = src.rng() % 8;
                e = r == 0 ? src.sign() * float(src.uniform(1e19, 1e36)) : r == 1 ? src.draw(entry::tiny) : float(src.uniform(-2.0, 2.0));
            }
        }
    };
    fill(x.q, false);
    fill(x.k, false);
    fill(x.v, true);
    return x;
}

// The expected context row (head_dim floats) of head h for query at position `pos` seeing keys
// `run`, and each element's error bound; nan_row when the contract says NaN.
struct core_expectation {
    std::vector<double> o, bound, hull;  // hull: max_j |v_jd| over the run
    bool nan_row = false;
    bool bound_useful = true;
};

template <class Config>
core_expectation expected_context(const qkv& x, std::size_t i, std::size_t h, key_range run) {
    constexpr std::size_t D = Config::d_model, KvD = Config::kv_dim, hd = Config::head_dim;
    const std::size_t g = h / Config::group_size;
    const double scale = double(Config::score_scale);
    const std::size_t n = run.size();
    std::vector<double> t(n), magnitude(n);
    double max = -INFINITY;
    bool nan_seen = false;
    for (std::size_t j = 0; j < n; ++j) {
        double dot = 0.0, abs_dot = 0.0;
        for (std::size_t d = 0; d < hd; ++d) {
            const double prod = double(x.q[i * D + h * hd + d]) * double(x.k[(run.begin + j) * KvD + g * hd + d]);
            dot += prod;
            abs_dot += std::abs(prod);
        }
        t[j] = scale * dot;
        magnitude[j] = scale * abs_dot;
        nan_seen = nan_seen || std::isnan(t[j]);
        max = t[j] > max ? t[j] : max;
    }
    core_expectation e;
    e.o.assign(hd, 0.0);
    e.bound.assign(hd, 0.0);
    e.hull.assign(hd, 0.0);
    if (nan_seen) {
        e.nan_row = true;
        return e;
    }
    std::vector<double> p(n, 0.0);
    double sum = 0.0, delta = 0.0;
    for (std::size_t j = 0; j < n; ++j) sum += (p[j] = std::exp(t[j] - max));
    for (std::size_t j = 0; j < n; ++j) {
        p[j] /= sum;
        const double a = t[j] - max;
        if (a > -200.0) {
            const double d = double(hd + 3) * u * magnitude[j] + 3.0 * u * std::abs(a) + 2.0 * u * std::abs(max);
            delta = d > delta ? d : delta;
        }
    }
    const double w = std::expm1(2.0 * delta) + double(2 * n + 16) * u + double(n + 4) * u;
    e.bound_useful = w < 1.0;
    for (std::size_t d = 0; d < hd; ++d) {
        double o = 0.0, spread = 0.0, hull = 0.0;
        for (std::size_t j = 0; j < n; ++j) {
            const double value = x.v[(run.begin + j) * KvD + g * hd + d];
            o += p[j] * value;
            spread += p[j] * std::abs(value);
            hull = std::abs(value) > hull ? std::abs(value) : hull;
        }
        e.o[d] = o;
        e.bound[d] = w * spread + 0x1p-125;
        e.hull[d] = hull;
    }
    return e;
}

template <class Config>
void check_context(const qkv& x, std::size_t n, const std::vector<float>& context, const char* path) {
    using Mask = typename Config::mask;
    constexpr std::size_t D = Config::d_model, hd = Config::head_dim;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t h = 0; h < Config::heads; ++h) {
            const key_range run = Mask::visible_keys({}, i, n);
            const core_expectation want = expected_context<Config>(x, i, h, run);
            for (std::size_t d = 0; d < hd; ++d) {
                const float got = context[i * D + h * hd + d];
                INFO(path << ": query " << i << " head " << h << " column " << d << " got " << got << " want "
                          << want.o[d] << " bound " << want.bound[d]);
                if (want.nan_row) {
                    REQUIRE(std::isnan(got));
                    continue;
                }
                REQUIRE(std::isfinite(got));
                REQUIRE(std::abs(got) <= want.hull[d] * (1.0 + double(2 * run.size() + 8) * u));
                if (want.bound_useful) REQUIRE(std::abs(got - want.o[d]) <= want.bound[d]);
            }
        }
}

// The three ways a core is run: attend over all rows, attend one query at a time against the keys
// so far (KV-cache decode), attend_blocked over all rows (prefill and the layer).
enum class core_path { one_row, decode, blocked };

template <class Config, class Arch>
std::vector<float> run_core(core_path path, const qkv& x, std::size_t n) {
    constexpr std::size_t D = Config::d_model;
    std::vector<float> context(n * D, -77.0f), scores(Config::seq_capacity);
    if (path == core_path::one_row) {
        ctattn::attend<Config, Arch>(n, x.q.data(), 0, n, x.k.data(), x.v.data(), {}, context.data(), scores.data());
    } else if (path == core_path::decode) {
        for (std::size_t i = 0; i < n; ++i)  // keys 0..i only: the cache holds nothing later
            ctattn::attend<Config, Arch>(1, x.q.data() + i * D, i, i + 1, x.k.data(), x.v.data(), {},
                                         context.data() + i * D, scores.data());
    } else {
        auto scratch = std::make_unique<ctattn::blocked_attention_scratch<Config, Arch>>();
        ctattn::attend_blocked<Config, Arch>(n, x.q.data(), 0, n, x.k.data(), x.v.data(), {}, context.data(), *scratch);
    }
    return context;
}

const char* path_name(core_path p) {
    return p == core_path::one_row ? "one-row core" : p == core_path::decode ? "decode path" : "blocked core";
}

// head_dim 5 with two query heads per KV head, causal; head_dim 16, sliding window of 3 keys.
using narrow_config = ctattn::attention_config<10, 2, 1, 21, ctattn::no_bias, ctattn::causal_mask>;
using wide_config = ctattn::attention_config<32, 2, 2, 13, ctattn::no_bias, ctattn::sliding_window_mask<3>>;

template <class Config, class Arch>
void check_core_properties() {
    for (std::size_t n : {std::size_t(1), std::size_t(5), Config::seq_capacity})
        for (int style = 0; style < 4; ++style)
            for (unsigned trial = 0; trial < 3; ++trial) {
                const qkv x = random_qkv<Config>(n, unsigned(n * 100 + style * 10 + trial), style);
                for (core_path path : {core_path::one_row, core_path::decode, core_path::blocked}) {
                    INFO("n " << n << " style " << style << " trial " << trial << " arch "
                              << ctattn::simd::arch_name<Arch>());
                    check_context<Config>(x, n, run_core<Config, Arch>(path, x, n), path_name(path));
                }
            }
}

// ---- causality: what comes later never reaches an earlier output -------------------------------

template <class Config, class Arch>
void check_later_tokens_do_not_leak() {
    constexpr std::size_t D = Config::d_model, KvD = Config::kv_dim, n = Config::seq_capacity;
    const qkv base = random_qkv<Config>(n, 99, 0);
    const float poison[] = {nan_value, inf, -inf, 1e30f, -FLT_MAX};
    for (float value : poison)
        for (core_path path : {core_path::one_row, core_path::decode, core_path::blocked}) {
            const std::vector<float> clean = run_core<Config, Arch>(path, base, n);
            for (std::size_t t : {std::size_t(0), std::size_t(1), std::size_t(6), std::size_t(7), n - 1}) {
                qkv x = base;  // token t's q, k and v all hold `value`, as a poisoned embedding gives
                for (std::size_t d = 0; d < D; ++d) x.q[t * D + d] = value;
                for (std::size_t d = 0; d < KvD; ++d) x.k[t * KvD + d] = x.v[t * KvD + d] = value;
                const std::vector<float> got = run_core<Config, Arch>(path, x, n);
                INFO(path_name(path) << " token " << t << " holds " << value << " arch "
                                     << ctattn::simd::arch_name<Arch>());
                // Rows before t: bit for bit what they were.
                REQUIRE(std::memcmp(got.data(), clean.data(), t * D * sizeof(float)) == 0);
                // Rows that see token t: NaN when it holds NaN (the NaN rule); finite for 1e30 and
                // -FLT_MAX (finite q, k, v), whatever their scores. Rows past its window: unchanged.
                for (std::size_t i = t; i < n; ++i) {
                    const bool sees = ctattn::is_visible<typename Config::mask>({}, i, t, n);
                    for (std::size_t c = 0; c < D; ++c) {
                        INFO("query " << i << " column " << c << " value " << got[i * D + c]);
                        if (sees && std::isnan(value)) REQUIRE(std::isnan(got[i * D + c]));
                        if (std::isfinite(value)) REQUIRE(std::isfinite(got[i * D + c]));
                        if (!sees) REQUIRE(got[i * D + c] == clean[i * D + c]);
                    }
                }
            }
        }
}

// ---- the layer: finite input, finite output ----------------------------------------------------

using layer_config = ctattn::attention_config<16, 2, 2, 9, ctattn::no_bias, ctattn::causal_mask>;

struct layer_case {
    std::unique_ptr<ctattn::attention_weights<layer_config>> w = std::make_unique<ctattn::attention_weights<layer_config>>();
    std::vector<float> x = std::vector<float>(layer_config::seq_capacity * layer_config::d_model);
};

layer_case random_layer(unsigned seed) {
    layer_case c;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> weight(-0.25f, 0.25f), input(-1.0f, 1.0f);
    for (auto* m : {&c.w->wq, &c.w->wk, &c.w->wv, &c.w->wo})
        for (std::size_t i = 0; i < m->size; ++i) (*m)[i] = weight(rng);
    for (float& e : c.x) e = input(rng);
    return c;
}

// y = forward(x) in double: projections, per-head softmax (causal), output projection.
std::vector<double> layer_reference(const layer_case& c) {
    constexpr std::size_t S = layer_config::seq_capacity, D = layer_config::d_model, hd = layer_config::head_dim;
    auto project = [&](const std::vector<double>& in, const auto& w) {
        std::vector<double> out(S * D, 0.0);
        for (std::size_t r = 0; r < S; ++r)
            for (std::size_t col = 0; col < D; ++col)
                for (std::size_t k = 0; k < D; ++k) out[r * D + col] += in[r * D + k] * double(w[k * D + col]);
        return out;
    };
    const std::vector<double> x(c.x.begin(), c.x.end());
    const auto q = project(x, c.w->wq), k = project(x, c.w->wk), v = project(x, c.w->wv);
    std::vector<double> context(S * D, 0.0);
    for (std::size_t h = 0; h < layer_config::heads; ++h)
        for (std::size_t i = 0; i < S; ++i) {
            std::vector<double> s(i + 1);
            double max = -INFINITY, sum = 0.0;
            for (std::size_t j = 0; j <= i; ++j) {
                double dot = 0.0;
                for (std::size_t d = 0; d < hd; ++d) dot += q[i * D + h * hd + d] * k[j * D + h * hd + d];
                s[j] = dot / std::sqrt(double(hd));
                max = s[j] > max ? s[j] : max;
            }
            for (std::size_t j = 0; j <= i; ++j) sum += (s[j] = std::exp(s[j] - max));
            for (std::size_t j = 0; j <= i; ++j)
                for (std::size_t d = 0; d < hd; ++d) context[i * D + h * hd + d] += s[j] / sum * v[j * D + h * hd + d];
        }
    return project(context, c.w->wo);
}

template <class Arch>
void check_layer_with_a_huge_row() {
    using mha = ctattn::multi_head_attention<layer_config, Arch>;
    constexpr std::size_t S = layer_config::seq_capacity, D = layer_config::d_model;
    layer_case c = random_layer(4);
    for (std::size_t d = 0; d < D; ++d) c.x[4 * D + d] = 1e30f;
    const std::vector<double> want = layer_reference(c);
    auto ws = std::make_unique<typename mha::workspace_type>();
    std::vector<float> y(S * D);
    REQUIRE(mha::forward(*c.w, c.x.data(), S, y.data(), *ws) == ctattn::status::ok);
    for (std::size_t r = 0; r < S; ++r) {
        double largest = 1.0;  // the row's output scale
        for (std::size_t d = 0; d < D; ++d) largest = std::max(largest, std::abs(want[r * D + d]));
        for (std::size_t d = 0; d < D; ++d) {
            INFO("arch " << ctattn::simd::arch_name<Arch>() << " row " << r << " column " << d << " got " << y[r * D + d]
                         << " want " << want[r * D + d]);
            REQUIRE(std::isfinite(y[r * D + d]));
            // Row 4's weights come from the double fallback; the rows after it put weight ~1 on
            // key 4 (scores ~1e30 apart) or ~0. Four float stages of <= 20 terms: 4 * 22 u of the
            // row's output scale (its largest |y|: ~1e30 from row 4 on), as in tests/layers/test_attention.cpp.
            REQUIRE(std::abs(y[r * D + d] - want[r * D + d]) <= 4.0 * 22.0 * u * largest);
        }
    }
}

}  // namespace

TEST_CASE("softmax_row gives finite weights matching the double softmax for finite scores anywhere in +-FLT_MAX, with and without the folded scale, on every arch",
          "[numeric][softmax]") {
    for_each_arch([](auto arch) { check_finite_rows<decltype(arch)>(); });
}

TEST_CASE("softmax_row follows one rule for -inf, +inf and NaN scores in the body and the tail of a vector, on every arch",
          "[numeric][softmax]") {
    for_each_arch([](auto arch) { check_non_finite_rows<decltype(arch)>(); });
}

TEST_CASE("a NaN score at any index of a 21-key row, the vector tail included, makes the whole row NaN", "[numeric][softmax]") {
    for_each_arch([](auto arch) {
        using Arch = decltype(arch);
        for (std::size_t at = 0; at < 21; ++at) {
            std::vector<float> row(21);
            for (std::size_t j = 0; j < 21; ++j) row[j] = 0.1f * float(j);
            row[at] = nan_value;
            ctattn::kernels::softmax_row<Arch>(row.data(), 21, key_range{0, 21});
            INFO("NaN at " << at << " arch " << ctattn::simd::arch_name<Arch>());
            for (float p : row) REQUIRE(std::isnan(p));
        }
    });
}

TEST_CASE("softmax_row with scale 0.35 on scores near +-FLT_MAX and on raw scores of 1e11..1e13 gives no NaN",
          "[numeric][softmax]") {
    for_each_arch([](auto arch) {
        using Arch = decltype(arch);
        INFO("arch " << ctattn::simd::arch_name<Arch>());
        std::vector<float> row(21);
        for (std::size_t j = 0; j < 21; ++j) row[j] = (j % 2 ? -1.0f : 1.0f) * FLT_MAX * (1.0f - 0.01f * float(j));
        check_softmax_row<Arch>(row, {0, 21}, 0.35f);
        for (float base : {1e11f, 1e12f, 1e13f})
            for (unsigned shift = 0; shift < 17; ++shift) {
                for (std::size_t j = 0; j < 21; ++j) row[j] = base * (1.0f + 0.001f * float((j * 7 + shift) % 17));
                check_softmax_row<Arch>(row, {0, 21}, 0.35355339f);  // 1/sqrt(8) folded in
            }
    });
}

TEST_CASE("the one-row core, the decode path and the blocked core match the double reference on ordinary, huge, tiny and 1e12-score inputs, on every arch",
          "[numeric][attention]") {
    for_each_arch([](auto arch) {
        check_core_properties<narrow_config, decltype(arch)>();
        check_core_properties<wide_config, decltype(arch)>();
    });
}

TEST_CASE("NaN, inf or huge values in a token never change an earlier position's output, in any core, on every arch",
          "[numeric][attention][mask]") {
    for_each_arch([](auto arch) {
        check_later_tokens_do_not_leak<narrow_config, decltype(arch)>();
        check_later_tokens_do_not_leak<wide_config, decltype(arch)>();
    });
}

TEST_CASE("a layer whose input row 4 holds 1e30 gives finite outputs matching the double reference, on every arch",
          "[numeric][attention][layer]") {
    for_each_arch([](auto arch) { check_layer_with_a_huge_row<decltype(arch)>(); });
}
