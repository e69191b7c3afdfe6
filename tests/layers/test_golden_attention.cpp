// SPDX-License-Identifier: Apache-2.0
// multi_head_attention against PyTorch (shared/golden, computed in double by
// torch.nn.MultiheadAttention and a grouped-query reference): every mha_* and gqa_* case. A
// missing or malformed file fails its test; a new mha_*/gqa_* file that no test names fails the
// coverage test. Each case prints one line with its largest errors for the release notes.
//
// Error measures, per array: "rel" is the largest |got - want| / |want| over the elements whose
// |want| is at least 1e-3 of the array's largest magnitude (smaller ones are cancellation noise,
// dominated by the error of their larger neighbours); "norm" is max|got - want| / max|want|.
// Tolerance: the library computes in float from float-rounded inputs (u = 2^-24 = 6e-8). Four
// chained float stages of at most 130 terms give a worst-case bound of ~4 * 130 * u = 3e-5 of the
// magnitudes involved (see test_attention.cpp); rounding errors of random sign grow like sqrt(n),
// so the typical error is ~50x smaller, and the measured normwise errors are <= 5e-7. We use
//   |y - y_gold| <= 1e-4 * |y_gold| + 1e-5 * max|y_gold|   and   |P - P_gold| <= 1e-5 (absolute),
// inside the README's suggested 1e-5..1e-4 band and 20x above what is measured; masked weights
// must be exactly 0.
#include <catch2/catch.hpp>

#include <ctattn/ctattn.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../support/golden.hpp"

namespace {

using ctattn::simd::default_arch;

constexpr double y_relative_tolerance = 1e-4;
constexpr double y_scale_tolerance = 1e-5;
constexpr double weight_tolerance = 1e-5;

// The cases this file tests, by file name; the coverage test compares it with the folder.
const std::set<std::string> covered_cases = {
    "mha_s3_e2_h1_causal.txt",      "mha_s6_e4_h1_causal.txt",       "mha_s7_e12_h3_none.txt",
    "mha_s13_e20_h5_causal.txt",    "mha_s16_e64_h8_causal.txt",     "mha_s33_e48_h4_padding29.txt",
    "mha_s64_e128_h8_causal_nobias.txt", "gqa_s9_e32_h8_kv2.txt",    "gqa_s17_e48_h6_kv1.txt",
};

struct error_summary {
    double rel = 0.0;   // largest elementwise relative error (elements >= 1e-3 of the max)
    double norm = 0.0;  // largest absolute error / largest magnitude
};

error_summary summarise(const float* got, const ctattn_test::golden_array& want) {
    double max_want = 0.0, max_err = 0.0;
    for (std::size_t i = 0; i < want.size(); ++i) max_want = std::max(max_want, std::abs(want[i]));
    error_summary s;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double err = std::abs(got[i] - want[i]);
        if (std::isnan(err)) return {INFINITY, INFINITY};
        max_err = std::max(max_err, err);
        if (std::abs(want[i]) >= 1e-3 * max_want) s.rel = std::max(s.rel, err / std::abs(want[i]));
    }
    s.norm = max_want > 0.0 ? max_err / max_want : max_err;
    return s;
}

template <class M>
void copy_array(const ctattn_test::golden_case& gc, const char* name, M& dest) {
    INFO("array " << name);
    REQUIRE(gc.has(name));
    REQUIRE(gc.at(name).size() == M::size);
    for (std::size_t i = 0; i < M::size; ++i) dest[i] = static_cast<float>(gc.at(name)[i]);
}

template <class Mask>
const char* golden_mask_name() {
    if constexpr (std::is_same_v<Mask, ctattn::no_mask>)
        return "none";
    else if constexpr (std::is_same_v<Mask, ctattn::causal_mask>)
        return "causal";
    else
        return "padding";
}

template <class Config>
void run_golden_case(const std::string& file_name, const typename Config::mask::params& mask = {}) {
    using mha = ctattn::multi_head_attention<Config, default_arch>;
    constexpr std::size_t S = Config::seq_capacity, D = Config::d_model, H = Config::heads;
    INFO("golden file " << ctattn_test::golden_path(file_name));
    REQUIRE(covered_cases.count(file_name) == 1);
    const ctattn_test::golden_case gc = ctattn_test::load_golden(file_name);
    REQUIRE(gc.loaded);  // a missing or malformed file fails: CI always has the folder

    // The file must describe the configuration this test compiled.
    REQUIRE(gc.config_int("seq") == long(S));
    REQUIRE(gc.config_int("d_model") == long(D));
    REQUIRE(gc.config_int("heads") == long(H));
    REQUIRE(gc.config_int("kv_heads") == long(Config::kv_heads));
    REQUIRE(gc.config_int("bias") == (Config::bias ? 1 : 0));
    REQUIRE(gc.config_value("mask") == golden_mask_name<typename Config::mask>());
    if constexpr (std::is_same_v<typename Config::mask, ctattn::key_padding_mask>)
        REQUIRE(gc.config_int("valid_len") == long(mask.valid_len));

    auto w = std::make_unique<typename mha::weights_type>();
    copy_array(gc, "wq", w->wq);
    copy_array(gc, "wk", w->wk);
    copy_array(gc, "wv", w->wv);
    copy_array(gc, "wo", w->wo);
    if constexpr (Config::bias) {
        copy_array(gc, "bq", w->bq);
        copy_array(gc, "bk", w->bk);
        copy_array(gc, "bv", w->bv);
        copy_array(gc, "bo", w->bo);
    } else {
        REQUIRE_FALSE(gc.has("bq"));
    }
    auto x = std::make_unique<ctattn::matrix<S, D>>();
    auto y = std::make_unique<ctattn::matrix<S, D>>();
    copy_array(gc, "x", *x);
    auto ws = std::make_unique<typename mha::workspace_type>();
    auto readout = std::make_unique<typename mha::readout_type>();

    REQUIRE(mha::forward(*w, *x, S, *y, *ws, mask, readout.get()) == ctattn::status::ok);

    const ctattn_test::golden_array& y_gold = gc.at("y");
    const ctattn_test::golden_array& p_gold = gc.at("attn");
    REQUIRE(y_gold.size() == S * D);
    REQUIRE(p_gold.size() == H * S * S);  // readout rows are seq_capacity == seq long: same layout

    double y_max = 0.0;
    for (std::size_t i = 0; i < y_gold.size(); ++i) y_max = std::max(y_max, std::abs(y_gold[i]));
    std::size_t y_bad = 0, p_bad = 0, masked_bad = 0;
    for (std::size_t i = 0; i < y_gold.size(); ++i)
        if (!(std::abs((*y)[i] - y_gold[i]) <= y_relative_tolerance * std::abs(y_gold[i]) + y_scale_tolerance * y_max))
            ++y_bad;
    for (std::size_t i = 0; i < p_gold.size(); ++i) {
        if (!(std::abs((*readout)[i] - p_gold[i]) <= weight_tolerance)) ++p_bad;
        if (p_gold[i] == 0.0 && (*readout)[i] != 0.0f) ++masked_bad;
    }
    const error_summary y_err = summarise(y->data(), y_gold), p_err = summarise(readout->data(), p_gold);
    std::printf("golden %-36s y: rel %.2e norm %.2e | attn: rel %.2e norm %.2e  [%s]\n", gc.name.c_str(), y_err.rel,
                y_err.norm, p_err.rel, p_err.norm, ctattn::simd::arch_name<default_arch>());
    CHECK(y_bad == 0);
    CHECK(p_bad == 0);
    CHECK(masked_bad == 0);
}

}  // namespace

TEST_CASE("every mha_* and gqa_* file in the golden folder has a test here", "[golden]") {
    namespace fs = std::filesystem;
    const fs::path dir(CTATTN_GOLDEN_DIR);
    INFO("golden folder " << dir.string());
    REQUIRE(fs::is_directory(dir));
    std::set<std::string> found;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("mha_", 0) == 0 || name.rfind("gqa_", 0) == 0) found.insert(name);
    }
    CHECK(found == covered_cases);
}

TEST_CASE("golden mha_s3_e2_h1_causal: one head of width 2 matches PyTorch", "[golden][mha]") {
    run_golden_case<ctattn::attention_config<2, 1, 1, 3, ctattn::with_bias, ctattn::causal_mask>>("mha_s3_e2_h1_causal.txt");
}

TEST_CASE("golden mha_s6_e4_h1_causal: one head of width 4 matches PyTorch", "[golden][mha]") {
    run_golden_case<ctattn::attention_config<4, 1, 1, 6, ctattn::with_bias, ctattn::causal_mask>>("mha_s6_e4_h1_causal.txt");
}

TEST_CASE("golden mha_s7_e12_h3_none: three heads without a mask match PyTorch", "[golden][mha]") {
    run_golden_case<ctattn::attention_config<12, 3, 3, 7, ctattn::with_bias, ctattn::no_mask>>("mha_s7_e12_h3_none.txt");
}

TEST_CASE("golden mha_s13_e20_h5_causal: five heads of width 4 match PyTorch", "[golden][mha]") {
    run_golden_case<ctattn::attention_config<20, 5, 5, 13, ctattn::with_bias, ctattn::causal_mask>>("mha_s13_e20_h5_causal.txt");
}

TEST_CASE("golden mha_s16_e64_h8_causal: eight heads of width 8 match PyTorch", "[golden][mha]") {
    run_golden_case<ctattn::attention_config<64, 8, 8, 16, ctattn::with_bias, ctattn::causal_mask>>("mha_s16_e64_h8_causal.txt");
}

TEST_CASE("golden mha_s33_e48_h4_padding29: key padding after 29 of 33 tokens matches PyTorch", "[golden][mha]") {
    run_golden_case<ctattn::attention_config<48, 4, 4, 33, ctattn::with_bias, ctattn::key_padding_mask>>(
        "mha_s33_e48_h4_padding29.txt", {29});
}

TEST_CASE("golden mha_s64_e128_h8_causal_nobias: 64 tokens of width 128 without bias match PyTorch",
          "[golden][mha]") {
    run_golden_case<ctattn::attention_config<128, 8, 8, 64, ctattn::no_bias, ctattn::causal_mask>>(
        "mha_s64_e128_h8_causal_nobias.txt");
}

TEST_CASE("golden gqa_s9_e32_h8_kv2: eight query heads sharing two KV heads match the reference", "[golden][gqa]") {
    run_golden_case<ctattn::attention_config<32, 8, 2, 9, ctattn::no_bias, ctattn::causal_mask>>("gqa_s9_e32_h8_kv2.txt");
}

TEST_CASE("golden gqa_s17_e48_h6_kv1: six query heads sharing one KV head match the reference", "[golden][gqa]") {
    run_golden_case<ctattn::attention_config<48, 6, 1, 17, ctattn::no_bias, ctattn::causal_mask>>("gqa_s17_e48_h6_kv1.txt");
}
