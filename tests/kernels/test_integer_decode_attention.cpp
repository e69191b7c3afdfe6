// SPDX-License-Identifier: Apache-2.0
// The integer decode attention over int8 KV rows (kernels/decode/integer_heads.hpp), called
// directly on the host (soft-float cores take it by themselves), against a double evaluation over
// the same stored rows (codes times their 16-bit scales, exactly), so only the kernel's fixed-point
// steps are measured: head_dim 1, 3, 8, 13; lone and paired heads; 1, 2, 37 and 512 keys, runs
// that start past 0; rows with tiny and huge scales; keys outside the run holding NaN rows; equal
// scores; one dominant score; what it refuses (its exp: test_fixed_point).
// The tolerance is derived from the steps (see bound()): the query's codes (2^-query_bits of its
// largest element), the scores' fixed point (2^-15 base-2 units), the exp's polynomial (2^-22),
// the weights' Q(W) rounding and the value weights' floors (2^-15 of a row's scale mantissa).
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <ctattn/kernels/decode/integer_heads.hpp>

namespace {
using ctattn::key_range;
using ctattn::kv_int8;
using ctattn::kv_rows;
using kernel = ctattn::kernels::detail::integer_decode_heads;

// A KV head's rows as the cache stores them, and the same rows in double.
template <std::size_t HeadDim>
struct int8_rows {
    std::vector<std::int8_t> k_codes, v_codes;
    std::vector<std::uint16_t> k_scales, v_scales;
    explicit int8_rows(std::size_t rows)
        : k_codes(rows * HeadDim), v_codes(rows * HeadDim), k_scales(rows), v_scales(rows) {}
    void store(std::size_t j, const float* key, const float* value) {
        ctattn::kernels::kv_store_row<kv_int8, HeadDim>(key, &k_codes[j * HeadDim], &k_scales[j]);
        ctattn::kernels::kv_store_row<kv_int8, HeadDim>(value, &v_codes[j * HeadDim], &v_scales[j]);
    }
    double key(std::size_t j, std::size_t d) const { return double(ctattn::kv_scale_value(k_scales[j])) * k_codes[j * HeadDim + d]; }
    double value(std::size_t j, std::size_t d) const { return double(ctattn::kv_scale_value(v_scales[j])) * v_codes[j * HeadDim + d]; }
    kv_rows<kv_int8> k() { return {k_codes.data(), k_scales.data()}; }
    kv_rows<kv_int8> v() { return {v_codes.data(), v_scales.data()}; }
};

// Double reference for one head, and the error bound of the kernel's steps for it.
template <std::size_t HeadDim>
void reference_and_bound(const float* q, const int8_rows<HeadDim>& rows, std::size_t begin, std::size_t end,
                         float score_scale, double* out, double& bound) {
    const float to_base2 = score_scale * ctattn::simd::log2_e;
    double query[HeadDim], largest_q = 0.0;
    for (std::size_t d = 0; d < HeadDim; ++d) {
        query[d] = double(q[d] * to_base2);  // the kernel's float product, then exact
        largest_q = std::max(largest_q, std::abs(query[d]));
    }
    std::vector<double> s(end);
    double max = -INFINITY, score_error = 0.0, largest_v = 0.0;
    for (std::size_t j = begin; j < end; ++j) {
        double dot = 0.0, key_abs = 0.0;
        for (std::size_t d = 0; d < HeadDim; ++d) {
            dot += query[d] * rows.key(j, d);
            key_abs += std::abs(rows.key(j, d));
            largest_v = std::max(largest_v, std::abs(rows.value(j, d)));
        }
        s[j] = dot;
        max = std::max(max, dot);
        // Query codes: each element within 2^-k / 2 <= largest_q 2^-query_bits; fixed point: one unit
        // (<= 2^-16) from the score's floor and 2^-16 from the difference's.
        score_error = std::max(score_error, largest_q * std::ldexp(key_abs, -kernel::query_bits_for(HeadDim)) +
                                                std::ldexp(1.0, -15));
    }
    double sum = 0.0;
    for (std::size_t j = begin; j < end; ++j) sum += (s[j] = std::exp2(s[j] - max));
    for (std::size_t d = 0; d < HeadDim; ++d) {
        out[d] = 0.0;
        for (std::size_t j = begin; j < end; ++j) out[d] += s[j] / sum * rows.value(j, d);
    }
    // Weights within a factor gamma (score differences off by 2 score_error, the exp's 2^-22.2):
    // sum |p~ - p| <= 2 gamma (1 + 2 gamma); Q(W)'s rounding adds keys 2^-W (W >= 22 - the bits
    // past 512 keys); each value weight's floors lose < 3 of its 2^-15 units, times |c| <= 127, in
    // units of the largest value scale's 2^(E - 150); the output's conversion 2^-23.
    const std::size_t keys = end - begin;
    int w = kernel::max_weight_bits;
    while (w > kernel::min_weight_bits && (std::size_t{1} << (31 - w)) < keys) --w;
    const double gamma = std::exp2(2.0 * score_error) * (1.0 + std::ldexp(1.0, -22)) - 1.0;
    int value_exponent = 1;
    for (std::size_t j = begin; j < end; ++j) value_exponent = std::max(value_exponent, int(rows.v_scales[j] >> 8));
    bound = largest_v * (2.0 * gamma * (1.0 + 2.0 * gamma) + double(keys) * std::ldexp(1.0, -w) + std::ldexp(1.0, -23)) +
            double(keys) * 3.0 * 127.0 * std::ldexp(1.0, value_exponent - 150) + 1e-45;
}

template <std::size_t Heads, std::size_t HeadDim>
void check(const std::vector<float>& q, int8_rows<HeadDim>& rows, std::size_t begin, std::size_t end,
           const char* what) {
    const float score_scale = float(1.0 / std::sqrt(double(HeadDim)));
    std::vector<float> scores(2 * end + 2), out(Heads * HeadDim, -7.0f);
    REQUIRE(kernel::try_attend<Heads, HeadDim, HeadDim, HeadDim>(q.data(), rows.k(), rows.v(), key_range{begin, end},
                                                                 score_scale, scores.data(), out.data()));
    for (std::size_t h = 0; h < Heads; ++h) {
        double ref[HeadDim], bound;
        reference_and_bound<HeadDim>(q.data() + h * HeadDim, rows, begin, end, score_scale, ref, bound);
        for (std::size_t d = 0; d < HeadDim; ++d) {
            INFO(what << ": heads " << Heads << " head_dim " << HeadDim << " keys " << begin << ".." << end << " head "
                      << h << " element " << d << " got " << out[h * HeadDim + d] << " want " << ref[d] << " bound "
                      << bound);
            REQUIRE(std::isfinite(out[h * HeadDim + d]));
            REQUIRE(std::abs(double(out[h * HeadDim + d]) - ref[d]) <= bound);
        }
    }
}

// Random rows over [0, capacity): the visible run [begin, end) holds keys and values of magnitude
// 2^key_log2 and 2^value_log2 (each row also scaled by 2^u, u uniform in +-spread_log2), the rest
// NaN rows (scale exponent 255): read, they would make every output NaN.
template <std::size_t Heads, std::size_t HeadDim>
void check_random(std::size_t begin, std::size_t end, float q_size, int key_log2, int value_log2, int spread_log2,
                  const char* what) {
    std::mt19937 rng(unsigned(Heads * 7919 + HeadDim * 131 + end * 17 + begin + unsigned(spread_log2)));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::uniform_int_distribution<int> spread(-spread_log2, spread_log2);
    const std::size_t capacity = end + 3;
    int8_rows<HeadDim> rows(capacity);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (std::size_t j = 0; j < capacity; ++j) {
        float key[HeadDim], value[HeadDim];
        const bool visible = j >= begin && j < end;
        const float ks = std::ldexp(1.0f, key_log2 + (spread_log2 ? spread(rng) : 0));
        const float vs = std::ldexp(1.0f, value_log2 + (spread_log2 ? spread(rng) : 0));
        for (std::size_t d = 0; d < HeadDim; ++d) {
            key[d] = visible ? ks * uniform(rng) : nan;
            value[d] = visible ? vs * uniform(rng) : nan;
        }
        rows.store(j, key, value);
    }
    std::vector<float> q(Heads * HeadDim);
    for (float& x : q) x = q_size * uniform(rng);
    check<Heads, HeadDim>(q, rows, begin, end, what);
}

template <std::size_t HeadDim>
void check_head_dim() {
    for (std::size_t end : {1u, 2u, 37u, 512u})
        for (std::size_t begin : {std::size_t{0}, end / 3}) {
            check_random<1, HeadDim>(begin, end, 1.0f, 0, 0, 0, "uniform rows");
            check_random<2, HeadDim>(begin, end, 4.0f, 0, 0, 0, "uniform rows, larger query");
            check_random<2, HeadDim>(begin, end, 1.0f, 1, -3, 6, "rows scaled by 2^-6..2^6");
            check_random<2, HeadDim>(begin, end, 0.5f, -100, 100, 20, "tiny keys, huge values");
            check_random<1, HeadDim>(begin, end, 2.0f, 2, -125, 4, "subnormal value scales");
        }
}
}  // namespace

TEST_CASE("the integer int8 KV attention matches a double evaluation over the stored rows at awkward shapes",
          "[decode][int8][integer]") {
    check_head_dim<1>();
    check_head_dim<3>();
    check_head_dim<8>();
    check_head_dim<13>();
}

TEST_CASE("the integer attention's query codes keep int32 dots times a 9-bit mantissa below 2^31", "[decode][integer]") {
    CHECK(kernel::query_bits_for(1) == 15);
    CHECK(kernel::query_bits_for(8) == 12);
    CHECK(kernel::query_bits_for(256) == 7);
    for (std::size_t head_dim : {1u, 3u, 8u, 13u, 64u, 256u})
        CHECK(double(head_dim) * std::ldexp(1.0, kernel::query_bits_for(head_dim)) * 128.0 * 511.0 < std::ldexp(1.0, 31));
}

TEST_CASE("the integer attention: equal scores average the values, a dominant score takes its row", "[decode][integer]") {
    constexpr std::size_t head_dim = 8, keys = 37;
    int8_rows<head_dim> rows(keys);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    float same_key[head_dim];
    for (float& x : same_key) x = uniform(rng);
    for (std::size_t j = 0; j < keys; ++j) {
        float value[head_dim];
        for (float& x : value) x = uniform(rng);
        rows.store(j, same_key, value);
    }
    // Every key equal: each weight is exactly 2^W, so the output is the values' mean up to the
    // value weights' floors (< 3 units of 2^15 Mv each, times |c| <= 127) and the output's rounding.
    std::vector<float> q(2 * head_dim);
    for (float& x : q) x = uniform(rng);
    std::vector<float> scores(2 * keys), out(2 * head_dim);
    REQUIRE(kernel::try_attend<2, head_dim, head_dim, head_dim>(q.data(), rows.k(), rows.v(), key_range{0, keys}, 0.35f,
                                                                scores.data(), out.data()));
    for (std::size_t h = 0; h < 2; ++h)
        for (std::size_t d = 0; d < head_dim; ++d) {
            double mean = 0.0, unit_sum = 0.0;
            for (std::size_t j = 0; j < keys; ++j) {
                mean += rows.value(j, d) / keys;
                unit_sum += std::ldexp(127.0, (rows.v_scales[j] >> 8) - 150);
            }
            CHECK(std::abs(out[h * head_dim + d] - mean) <= 3.0 * unit_sum + 1e-6 * std::abs(mean));
        }
    // Key 20 scores 60 base-2 units above the rest (q along it, the others orthogonal-ish and
    // small): its weight is 1, the rest below 2^-40, so the output is its value row.
    float big_key[head_dim] = {};
    big_key[0] = 30.0f;
    float small_key[head_dim] = {};
    small_key[1] = 0.01f;
    for (std::size_t j = 0; j < keys; ++j) {
        float value[head_dim];
        for (float& x : value) x = uniform(rng);
        rows.store(j, j == 20 ? big_key : small_key, value);
    }
    std::vector<float> dominant(2 * head_dim, 0.0f);
    dominant[0] = dominant[head_dim] = 2.0f / 1.4426950408889634f;  // base-2 score 60 with score_scale 1
    REQUIRE(kernel::try_attend<2, head_dim, head_dim, head_dim>(dominant.data(), rows.k(), rows.v(),
                                                                key_range{0, keys}, 1.0f, scores.data(), out.data()));
    for (std::size_t h = 0; h < 2; ++h)
        for (std::size_t d = 0; d < head_dim; ++d) {
            // P = floor(Mv 2^15 2^W / sum) with sum = 2^W + (tiny): within 2 units of 2^15 Mv.
            const double unit = std::ldexp(127.0, (rows.v_scales[20] >> 8) - 150);
            CHECK(std::abs(out[h * head_dim + d] - rows.value(20, d)) <= 2.0 * unit);
        }
}

TEST_CASE("the integer attention refuses what it cannot compute exactly as stated, and attend falls back",
          "[decode][integer]") {
    constexpr std::size_t head_dim = 8, keys = 5;
    int8_rows<head_dim> rows(keys);
    for (std::size_t j = 0; j < keys; ++j) {
        float key[head_dim], value[head_dim];
        for (std::size_t d = 0; d < head_dim; ++d) key[d] = value[d] = float(int(j + d) % 5 - 2);
        rows.store(j, key, value);
    }
    std::vector<float> q(2 * head_dim, 0.5f), scores(2 * keys), out(2 * head_dim, -7.0f);
    const auto attend = [&](std::size_t begin, std::size_t end) {
        return kernel::try_attend<2, head_dim, head_dim, head_dim>(q.data(), rows.k(), rows.v(), key_range{begin, end},
                                                                   0.35f, scores.data(), out.data());
    };
    // An empty run gives zeros; a finite run a result.
    REQUIRE(attend(2, 2));
    for (float x : out) CHECK(x == 0.0f);
    REQUIRE(attend(0, keys));
    // A query that is not finite: refused, nothing written.
    out.assign(out.size(), -7.0f);
    q[3] = std::numeric_limits<float>::infinity();
    CHECK_FALSE(attend(0, keys));
    for (float x : out) CHECK(x == -7.0f);
    q[3] = 0.5f;
    // Scores of ~1e8 base-2 units: their fixed-point unit would be coarser than 2^-16: refused;
    // attend's float kernel then gives the softmax (here the largest key's value row).
    float huge[head_dim];
    for (std::size_t d = 0; d < head_dim; ++d) huge[d] = 1e8f;
    float value[head_dim] = {1, 2, 3, 4, 5, 6, 7, 8};
    rows.store(1, huge, value);
    CHECK_FALSE(attend(0, keys));
    REQUIRE(kernel::attend<2, head_dim, head_dim, head_dim>(q.data(), rows.k(), rows.v(), key_range{0, keys}, 0.35f,
                                                            scores.data(), out.data()));
    for (std::size_t d = 0; d < head_dim; ++d) CHECK(std::abs(out[d] - rows.value(1, d)) <= 1e-6 * 8.0);
    rows.store(1, value, value);
    // A NaN row in the run: refused, and the float kernel reports it irregular (false).
    float nan_row[head_dim];
    for (float& x : nan_row) x = std::numeric_limits<float>::quiet_NaN();
    rows.store(3, nan_row, nan_row);
    CHECK_FALSE(attend(0, keys));
    CHECK_FALSE(kernel::attend<2, head_dim, head_dim, head_dim>(q.data(), rows.k(), rows.v(), key_range{0, keys}, 0.35f,
                                                                scores.data(), out.data()));
    // ... and outside the run it is never read.
    CHECK(attend(0, 3));
}
