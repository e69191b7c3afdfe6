// SPDX-License-Identifier: Apache-2.0
// Built with -fno-exceptions -fno-rtti (no Catch2, which needs both): a causal multi-head forward
// pass on the default path and on the scalar path, checked against the double-precision reference.
// Exit status 0 = pass. Tolerance as in test_attention.cpp: |y - y_ref| <= 2e-5 * max(1, max|y_ref|)
// (four chained float stages of <= 70 terms, each within (n + 2) * 2^-24 of its magnitudes).
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(__GXX_RTTI) || defined(__cpp_rtti)
#error "no_exceptions.cpp must be compiled with -fno-exceptions -fno-rtti"
#endif

#include <ctattn/ctattn.hpp>

#include <cmath>
#include <cstdio>

#include "../reference/forward_double.hpp"

namespace {

using config = ctattn::attention_config<20, 4, 4, 13, ctattn::with_bias, ctattn::causal_mask>;  // head_dim 5

float next_value(unsigned& state) {
    state = state * 1664525u + 1013904223u;
    return float(int(state >> 9) - (1 << 22)) / float(1 << 22) * 0.4f;  // [-0.4, 0.4)
}

template <class M>
void fill(M& m, unsigned& state) {
    for (std::size_t i = 0; i < M::size; ++i) m[i] = next_value(state);
}

template <class M>
ctattn_test::ref::vec as_double(const M& m) {
    return ctattn_test::ref::vec(m.data(), m.data() + M::size);
}

ctattn::attention_weights<config> weights;
ctattn::attention_workspace<config> workspace;
ctattn::matrix<config::seq_capacity, config::d_model> x, y;

template <class Arch>
bool forward_matches_reference(std::size_t seq_len) {
    using mha = ctattn::multi_head_attention<config, Arch>;
    const ctattn::status s = mha::forward(weights, x, seq_len, y, workspace);
    if (s != ctattn::status::ok) {
        std::printf("forward failed: %s\n", ctattn::to_string(s));
        return false;
    }
    const ctattn_test::ref::vec xd(x.data(), x.data() + seq_len * config::d_model);
    const ctattn_test::ref::vec bq = as_double(weights.bq), bk = as_double(weights.bk), bv = as_double(weights.bv),
                                bo = as_double(weights.bo);
    const auto want = ctattn_test::ref::mha(xd, seq_len, config::d_model, config::heads, config::kv_heads,
                                            as_double(weights.wq), as_double(weights.wk), as_double(weights.wv),
                                            as_double(weights.wo), &bq, &bk, &bv, &bo,
                                            ctattn_test::ref::mask_kind::causal);
    double scale = 1.0, worst = 0.0;
    for (double v : want.y) scale = std::abs(v) > scale ? std::abs(v) : scale;
    for (std::size_t i = 0; i < seq_len * config::d_model; ++i) {
        const double err = std::abs(y[i] - want.y[i]);
        worst = err > worst || std::isnan(err) ? err : worst;
    }
    const bool ok = worst <= 2e-5 * scale;
    std::printf("%s seq_len %2zu (%s): largest error %.2e, allowed %.2e\n", ok ? "ok  " : "FAIL", seq_len,
                ctattn::simd::arch_name<Arch>(), worst, 2e-5 * scale);
    return ok;
}

}  // namespace

int main() {
    unsigned state = 2024u;
    fill(weights.wq, state);
    fill(weights.wk, state);
    fill(weights.wv, state);
    fill(weights.wo, state);
    fill(weights.bq, state);
    fill(weights.bk, state);
    fill(weights.bv, state);
    fill(weights.bo, state);
    fill(x, state);
    int failures = 0;
    for (std::size_t seq_len : {1, 7, 13}) {
        failures += !forward_matches_reference<ctattn::simd::default_arch>(seq_len);
        failures += !forward_matches_reference<ctattn::simd::scalar_arch>(seq_len);
    }
    return failures == 0 ? 0 : 1;
}
