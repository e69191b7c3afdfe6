// SPDX-License-Identifier: Apache-2.0
// multi_head_attention::forward against the double-precision reference (tests/reference/forward_double.hpp):
// multi-head, grouped-query (kv_heads < heads) and multi-query (kv_heads = 1) attention, with and
// without bias, under every mask policy, on widths and head dims that are not multiples of the
// SIMD width, for sequence lengths from 1 up to the capacity, on both the xsimd and scalar paths,
// including the attention-weights readout and weights packed into panels.
//
// Tolerance: the forward pass chains four float stages (Q/K/V projection over d_model terms,
// scores over head_dim terms, softmax, P V plus the output projection). Each stage is within
// (n + 2) u of the magnitudes it sums (u = 2^-24, n <= 68 here, see test_kernels.cpp), softmax
// passes a score error e on as a relative weight error <= 2e. Summed: < 4 * 70 * u ~ 1.7e-5 of
// the output's magnitude, so |y - y_ref| <= 2e-5 * max(1, max|y_ref|). Weights are probabilities:
// |P - P_ref| <= 1e-5 absolute, and masked weights are exactly 0.
#include <catch2/catch.hpp>

#include <ctattn/ctattn.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "../support/attention_fixture.hpp"
#include "../reference/forward_double.hpp"

namespace {

namespace ref = ctattn_test::ref;
using ctattn::simd::default_arch;
using ctattn::simd::scalar_arch;

constexpr double output_tolerance = 2e-5;  // relative to max(1, max|y_ref|), see the header comment
constexpr double weight_tolerance = 1e-5;  // absolute, on probabilities
constexpr float readout_sentinel = -77.0f;

// Two runs of the same arithmetic that may differ only in FMA contraction: a few ulp of the output scale.
constexpr double same_arithmetic_tolerance = 1e-6;

// Largest |a[i] - b[i]| over the first n elements of both.
double largest_difference(const std::vector<float>& a, const std::vector<float>& b, std::size_t n) {
    if (a.size() < n || b.size() < n) return INFINITY;
    double worst = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d = std::abs(double(a[i]) - double(b[i]));
        worst = d > worst || std::isnan(d) ? d : worst;
    }
    return worst;
}

template <class Mask>
ref::mask_kind kind_of() {
    if constexpr (std::is_same_v<Mask, ctattn::no_mask>)
        return ref::mask_kind::none;
    else if constexpr (std::is_same_v<Mask, ctattn::causal_mask>)
        return ref::mask_kind::causal;
    else if constexpr (std::is_same_v<Mask, ctattn::key_padding_mask>)
        return ref::mask_kind::padding;
    else
        return ref::mask_kind::window;
}

template <class Mask>
std::size_t reference_param(const typename Mask::params& params) {
    if constexpr (std::is_same_v<Mask, ctattn::key_padding_mask>)
        return params.valid_len;
    else if constexpr (requires { Mask::window; })
        return Mask::window;
    else
        return 0;
}

// One forward pass checked against the reference: y, every readout weight, and that the readout
// buffer outside the seq_len x seq_len block of each head is left alone.
template <class Config, class Arch>
void check_forward(std::size_t seq_len, const typename Config::mask::params& mask, unsigned seed) {
    using mha = ctattn::multi_head_attention<Config, Arch>;
    using Mask = typename Config::mask;
    constexpr std::size_t D = Config::d_model, S = Config::seq_capacity, H = Config::heads;
    INFO("d_model " << D << " heads " << H << " kv_heads " << Config::kv_heads << " capacity " << S << " bias "
                    << Config::bias << " mask " << Mask::name << " (" << reference_param<Mask>(mask) << ") seq_len "
                    << seq_len << " arch " << ctattn::simd::arch_name<Arch>());

    const auto w = ctattn_test::random_weights<Config>(seed);
    const auto x = ctattn_test::random_input<Config>(seq_len, seed + 1);
    auto ws = std::make_unique<typename mha::workspace_type>();
    auto readout = std::make_unique<typename mha::readout_type>();
    for (std::size_t i = 0; i < mha::readout_type::size; ++i) (*readout)[i] = readout_sentinel;
    std::vector<float> y(seq_len * D + 1, 0.0f);
    y[seq_len * D] = 4242.0f;  // one past the output: must stay

    REQUIRE(mha::forward(*w, x.data(), seq_len, y.data(), *ws, mask, readout.get()) == ctattn::status::ok);
    const ref::mha_result want =
        ctattn_test::reference_forward<Config>(*w, x.data(), seq_len, kind_of<Mask>(), reference_param<Mask>(mask));

    double y_scale = 1.0;
    for (double v : want.y) y_scale = std::abs(v) > y_scale ? std::abs(v) : y_scale;
    double worst_y = 0.0;
    for (std::size_t i = 0; i < seq_len * D; ++i) {
        const double err = std::abs(y[i] - want.y[i]);
        worst_y = err > worst_y || std::isnan(err) ? err : worst_y;
    }
    CHECK(worst_y <= output_tolerance * y_scale);
    CHECK(y[seq_len * D] == 4242.0f);

    double worst_p = 0.0;
    bool masked_exact = true, outside_untouched = true;
    for (std::size_t h = 0; h < H; ++h)
        for (std::size_t i = 0; i < S; ++i)
            for (std::size_t j = 0; j < S; ++j) {
                const float got = (*readout)(h * S + i, j);
                if (i >= seq_len || j >= seq_len) {
                    outside_untouched = outside_untouched && got == readout_sentinel;
                    continue;
                }
                const double p = want.attn[(h * seq_len + i) * seq_len + j];
                if (p == 0.0) masked_exact = masked_exact && got == 0.0f;
                const double err = std::abs(got - p);
                worst_p = err > worst_p || std::isnan(err) ? err : worst_p;
            }
    CHECK(worst_p <= weight_tolerance);
    CHECK(masked_exact);
    CHECK(outside_untouched);

    // Asking for the readout must not change the output beyond rounding: the arithmetic is the
    // same, but GCC may contract a*b+c into an FMA differently at the two inlined call sites
    // (seen on the scalar path), so allow a few ulp rather than demanding identical bits.
    std::vector<float> y_plain(seq_len * D);
    REQUIRE(mha::forward(*w, x.data(), seq_len, y_plain.data(), *ws, mask) == ctattn::status::ok);
    CHECK(largest_difference(y_plain, y, seq_len * D) <= same_arithmetic_tolerance * y_scale);

    // Packed weights run the same tiles over the same sums in the same order: on a vector path,
    // where every FMA is explicit, the output is bit-identical; on the scalar path the compiler's
    // contraction of a*b+c may differ between the two inlined kernels, so a few ulp are allowed.
    auto packed = std::make_unique<typename mha::packed_weights_type>();
    ctattn::pack(*w, *packed);
    std::vector<float> y_packed(seq_len * D);
    REQUIRE(mha::forward(*packed, x.data(), seq_len, y_packed.data(), *ws, mask) == ctattn::status::ok);
    if constexpr (ctattn::simd::width<Arch> > 1)
        CHECK(largest_difference(y_packed, y_plain, seq_len * D) == 0.0);
    else
        CHECK(largest_difference(y_packed, y_plain, seq_len * D) <= same_arithmetic_tolerance * y_scale);
}

template <class Config>
void check_both_paths(std::initializer_list<std::size_t> seq_lens) {
    for (std::size_t seq_len : seq_lens) {
        check_forward<Config, default_arch>(seq_len, {}, unsigned(seq_len * 13 + Config::d_model));
        check_forward<Config, scalar_arch>(seq_len, {}, unsigned(seq_len * 13 + Config::d_model));
    }
}

}  // namespace

TEST_CASE("multi-head attention with bias and a causal mask matches the double reference up to full capacity",
          "[attention][mha]") {
    using config = ctattn::attention_config<12, 3, 3, 16, ctattn::with_bias, ctattn::causal_mask>;
    check_both_paths<config>({1, 5, 13, 16});
}

TEST_CASE("multi-head attention without bias or mask matches the double reference", "[attention][mha]") {
    using config = ctattn::attention_config<20, 5, 5, 13, ctattn::no_bias, ctattn::no_mask>;
    check_both_paths<config>({1, 3, 7, 13});
}

TEST_CASE("grouped-query attention with bias and key padding matches the double reference for every valid length",
          "[attention][gqa]") {
    using config = ctattn::attention_config<24, 6, 2, 17, ctattn::with_bias, ctattn::key_padding_mask>;
    for (std::size_t seq_len : {1, 5, 17})
        for (std::size_t valid : {std::size_t(1), seq_len / 2 + 1, seq_len}) {
            check_forward<config, default_arch>(seq_len, {valid}, unsigned(seq_len * 7 + valid));
            check_forward<config, scalar_arch>(seq_len, {valid}, unsigned(seq_len * 7 + valid));
        }
}

TEST_CASE("multi-query attention (one KV head, head_dim 3) with a sliding window matches the double reference",
          "[attention][mqa]") {
    using config = ctattn::attention_config<21, 7, 1, 9, ctattn::no_bias, ctattn::sliding_window_mask<3>>;
    check_both_paths<config>({1, 3, 7, 9});
}

TEST_CASE("grouped-query attention with head_dim 17 and bias under a sliding window matches the double reference",
          "[attention][gqa]") {
    using config = ctattn::attention_config<68, 4, 2, 11, ctattn::with_bias, ctattn::sliding_window_mask<5>>;
    check_both_paths<config>({1, 6, 11});
}

TEST_CASE("multi-query attention with a causal mask at d_model 64 matches the double reference", "[attention][mqa]") {
    using config = ctattn::attention_config<64, 8, 1, 13, ctattn::no_bias, ctattn::causal_mask>;
    check_both_paths<config>({2, 13});
}

TEST_CASE("forward may write its output over its input (y == x)", "[attention][mha]") {
    using config = ctattn::attention_config<12, 3, 3, 16, ctattn::with_bias, ctattn::causal_mask>;
    using mha = ctattn::multi_head_attention<config>;
    constexpr std::size_t seq_len = 7;
    const auto w = ctattn_test::random_weights<config>(5);
    auto x = ctattn_test::random_input<config>(seq_len, 6);
    std::vector<float> y(x.size());
    auto ws = std::make_unique<mha::workspace_type>();
    REQUIRE(mha::forward(*w, x.data(), seq_len, y.data(), *ws) == ctattn::status::ok);
    REQUIRE(mha::forward(*w, x.data(), seq_len, x.data(), *ws) == ctattn::status::ok);
    CHECK(largest_difference(x, y, y.size()) <= same_arithmetic_tolerance);  // |y| is O(1) here: same arithmetic
}

TEST_CASE("the typed forward overload on whole matrices gives the same result as the pointer overload",
          "[attention][mha]") {
    using config = ctattn::attention_config<20, 5, 5, 13, ctattn::no_bias, ctattn::no_mask>;
    using mha = ctattn::multi_head_attention<config>;
    constexpr std::size_t seq_len = 9;
    const auto w = ctattn_test::random_weights<config>(8);
    auto x = std::make_unique<ctattn::matrix<13, 20>>();
    auto y = std::make_unique<ctattn::matrix<13, 20>>();
    const auto input = ctattn_test::random_input<config>(13, 9);
    std::memcpy(x->data(), input.data(), sizeof(float) * input.size());
    std::vector<float> y_ptr(seq_len * 20), y_typed;
    auto ws = std::make_unique<mha::workspace_type>();
    REQUIRE(mha::forward(*w, *x, seq_len, *y, *ws) == ctattn::status::ok);
    REQUIRE(mha::forward(*w, x->data(), seq_len, y_ptr.data(), *ws) == ctattn::status::ok);
    y_typed.assign(y->data(), y->data() + seq_len * 20);
    CHECK(largest_difference(y_typed, y_ptr, y_ptr.size()) <= same_arithmetic_tolerance);
}

TEST_CASE("attend and attend_blocked read K and V rows from a wider cache and serve a later chunk of queries like the full pass",
          "[attention][attend][gqa]") {
    // The decoder's view: keys 0..n_keys-1 sit in a cache whose rows are wider than kv_dim, and the
    // queries are the last few positions. Every (head, query) row must equal the reference's.
    using config = ctattn::attention_config<30, 6, 3, 16, ctattn::no_bias, ctattn::causal_mask>;  // head_dim 5, groups of 2
    constexpr std::size_t D = config::d_model, KvD = config::kv_dim, hd = config::head_dim;
    constexpr std::size_t cache_stride = KvD + 3;
    for (std::size_t n_keys : {1, 6, 13}) {
        for (std::size_t n_queries : {std::size_t(1), n_keys / 2 + 1}) {
            const std::size_t pos0 = n_keys - n_queries;
            INFO("keys " << n_keys << " queries from position " << pos0);
            std::mt19937 rng(unsigned(n_keys * 10 + n_queries));
            std::vector<float> q(n_queries * D), cache_k(n_keys * cache_stride, NAN), cache_v(n_keys * cache_stride, NAN);
            ctattn_test::fill_uniform(q.data(), q.size(), 3, rng);
            for (std::size_t j = 0; j < n_keys; ++j) {  // the padding columns stay NaN: they must not be read
                ctattn_test::fill_uniform(cache_k.data() + j * cache_stride, KvD, 3, rng);
                ctattn_test::fill_uniform(cache_v.data() + j * cache_stride, KvD, 3, rng);
            }
            // Paths: the one-row core on both arches, and the blocked core (a query block at a time) on both.
            auto blocked_simd = std::make_unique<ctattn::blocked_attention_scratch<config, default_arch>>();
            auto blocked_scalar = std::make_unique<ctattn::blocked_attention_scratch<config, scalar_arch>>();
            for (int path = 0; path < 4; ++path) {
                INFO("path " << path);
                std::vector<float> context(n_queries * D), scores(n_keys), readout(config::heads * n_queries * n_keys);
                if (path == 0)
                    ctattn::attend<config, default_arch, cache_stride>(n_queries, q.data(), pos0, n_keys, cache_k.data(),
                                                                       cache_v.data(), {}, context.data(), scores.data(),
                                                                       readout.data(), n_keys, n_queries * n_keys);
                else if (path == 1)
                    ctattn::attend<config, scalar_arch, cache_stride>(n_queries, q.data(), pos0, n_keys, cache_k.data(),
                                                                      cache_v.data(), {}, context.data(), scores.data(),
                                                                      readout.data(), n_keys, n_queries * n_keys);
                else if (path == 2)
                    ctattn::attend_blocked<config, default_arch, cache_stride>(
                        n_queries, q.data(), pos0, n_keys, cache_k.data(), cache_v.data(), {}, context.data(),
                        *blocked_simd, readout.data(), n_keys, n_queries * n_keys);
                else
                    ctattn::attend_blocked<config, scalar_arch, cache_stride>(
                        n_queries, q.data(), pos0, n_keys, cache_k.data(), cache_v.data(), {}, context.data(),
                        *blocked_scalar, readout.data(), n_keys, n_queries * n_keys);
                for (std::size_t h = 0; h < config::heads; ++h) {
                    const std::size_t g = h / config::group_size;
                    for (std::size_t i = 0; i < n_queries; ++i) {
                        ref::vec s(n_keys, -INFINITY);
                        for (std::size_t j = 0; j <= pos0 + i && j < n_keys; ++j) {
                            double dot = 0.0;
                            for (std::size_t d = 0; d < hd; ++d)
                                dot += double(q[i * D + h * hd + d]) * cache_k[j * cache_stride + g * hd + d];
                            s[j] = dot / std::sqrt(double(hd));
                        }
                        const ref::vec p = ref::softmax(s);
                        for (std::size_t j = 0; j < n_keys; ++j)
                            REQUIRE(std::abs(readout[(h * n_queries + i) * n_keys + j] - p[j]) <= weight_tolerance);
                        for (std::size_t d = 0; d < hd; ++d) {
                            double o = 0.0;
                            for (std::size_t j = 0; j < n_keys; ++j) o += p[j] * cache_v[j * cache_stride + g * hd + d];
                            // |v| <= 1 and the weights sum to 1: the output tolerance with scale 1.
                            REQUIRE(std::abs(context[i * D + h * hd + d] - o) <= output_tolerance);
                        }
                    }
                }
            }
        }
    }
}

// ---- which attention core runs: the one rule (layers/attention_core_selector.hpp), pinned ----
// The expected cores are written out by hand from the rules the layer and the block used before
// they shared one selector; a change to either caller's choice for any of these shapes fails here.
namespace {

using ctattn::attention_core;
using ctattn::kv_source;

template <class Arch, std::size_t HeadDim, class Mask>
attention_core chosen(kv_source source, std::size_t queries, bool has_blocked_scratch) {
    return ctattn::choose_attention_core<Arch, HeadDim, Mask>(source, queries, has_blocked_scratch);
}

// The layer on a vector arch with its blocked scratch: the first query count that runs the blocked core.
template <std::size_t HeadDim, class Mask>
void check_layer_threshold(std::size_t blocked_from) {
    CAPTURE(HeadDim, blocked_from);
    constexpr std::size_t query_counts[] = {1, 2, 3, 4, 8, 11, 12, 15, 16, 48};
    for (std::size_t queries : query_counts) {
        CAPTURE(queries);
        CHECK(chosen<default_arch, HeadDim, Mask>(kv_source::projected_rows, queries, true) ==
              (queries >= blocked_from ? attention_core::blocked : attention_core::one_row));
        // A workspace made for another arch has no blocked scratch: always the one-row core.
        CHECK(chosen<default_arch, HeadDim, Mask>(kv_source::projected_rows, queries, false) == attention_core::one_row);
    }
}

// The block on a vector arch: one query takes the vector decode kernel where it fits, several the
// blocked core whenever the buffers hold its scratch.
template <std::size_t HeadDim, class Mask>
void check_block_choices(attention_core one_query) {
    CAPTURE(HeadDim);
    CHECK(chosen<default_arch, HeadDim, Mask>(kv_source::kv_cache, 1, true) == one_query);
    CHECK(chosen<default_arch, HeadDim, Mask>(kv_source::kv_cache, 1, false) == one_query);
    constexpr std::size_t query_counts[] = {2, 3, 12, 48};
    for (std::size_t queries : query_counts) {
        CAPTURE(queries);
        CHECK(chosen<default_arch, HeadDim, Mask>(kv_source::kv_cache, queries, true) == attention_core::blocked);
        CHECK(chosen<default_arch, HeadDim, Mask>(kv_source::kv_cache, queries, false) == attention_core::one_row);
    }
}

// The scalar path (Cortex-M): the layer always runs the one-row core; the block one query by the
// scalar decode kernel, several by the one-row core (it never holds the blocked scratch).
template <std::size_t HeadDim, class Mask>
void check_scalar_choices() {
    CAPTURE(HeadDim);
    constexpr std::size_t query_counts[] = {1, 2, 12, 48};
    for (std::size_t queries : query_counts)
        for (bool scratch : {false, true}) {
            CAPTURE(queries, scratch);
            CHECK(chosen<scalar_arch, HeadDim, Mask>(kv_source::projected_rows, queries, scratch) ==
                  attention_core::one_row);
            CHECK(chosen<scalar_arch, HeadDim, Mask>(kv_source::kv_cache, queries, scratch) ==
                  (queries == 1 ? attention_core::scalar_decode : attention_core::one_row));
        }
}

}  // namespace

TEST_CASE("the attention core chosen for each head_dim, query count and mask is the one each caller ran before",
          "[attention][core_selector]") {
    using ctattn::causal_mask;
    using ctattn::no_mask;
    // Decided at compile time when the query count is a constant.
    STATIC_REQUIRE(ctattn::choose_attention_core<scalar_arch, 8, causal_mask>(kv_source::kv_cache, 1, false) ==
                   attention_core::scalar_decode);
    SECTION("scalar arch") {
        check_scalar_choices<1, causal_mask>();
        check_scalar_choices<3, no_mask>();
        check_scalar_choices<8, causal_mask>();
        check_scalar_choices<8, no_mask>();
        check_scalar_choices<13, causal_mask>();
        check_scalar_choices<32, no_mask>();
        check_scalar_choices<64, causal_mask>();
    }
    if constexpr (ctattn::simd::width<default_arch> > 1) {
        SECTION("vector arch, the layer (its own K/V rows): blocked from the measured threshold") {
            check_layer_threshold<1, causal_mask>(2);
            check_layer_threshold<3, no_mask>(2);
            check_layer_threshold<8, causal_mask>(2);
            check_layer_threshold<8, no_mask>(2);
            check_layer_threshold<13, causal_mask>(2);
            check_layer_threshold<32, causal_mask>(4);
            check_layer_threshold<32, no_mask>(4);
            check_layer_threshold<64, causal_mask>(12);
            check_layer_threshold<64, no_mask>(12);
            check_layer_threshold<128, causal_mask>(16);
            check_layer_threshold<128, no_mask>(12);
        }
        SECTION("vector arch, the block (the KV cache): decode kernels for one query, blocked for several") {
            // The vector decode kernel transposes K in registers: head_dim 8 on 8- and 16-lane vectors only.
            constexpr std::size_t W = ctattn::simd::width<default_arch>;
            const attention_core narrow = W == 8 || W == 16 ? attention_core::vector_decode : attention_core::one_row;
            check_block_choices<1, causal_mask>(attention_core::one_row);
            check_block_choices<3, causal_mask>(attention_core::one_row);
            check_block_choices<8, causal_mask>(narrow);
            check_block_choices<8, no_mask>(narrow);
            check_block_choices<13, causal_mask>(attention_core::one_row);
            check_block_choices<32, causal_mask>(attention_core::one_row);
            check_block_choices<64, causal_mask>(attention_core::one_row);
            check_block_choices<64, no_mask>(attention_core::one_row);
        }
    }
}
