// SPDX-License-Identifier: Apache-2.0
// The README's usage example, compiled and run by the test suite so it cannot go stale.
#include <ctattn/ctattn.hpp>
#include <cstdio>

// d_model 64; 8 query heads sharing 2 KV heads (grouped-query); up to 128 tokens; no bias; causal.
using config = ctattn::attention_config<64, 8, 2, 128, ctattn::no_bias, ctattn::causal_mask>;
using layer = ctattn::multi_head_attention<config>;

static layer::weights_type weights;      // wq, wk, wv, wo in the x @ W convention
static layer::workspace_type workspace;  // layer::workspace_bytes of scratch, no heap
static ctattn::matrix<128, 64> x, y;     // (tokens, d_model)
static layer::packed_weights_type packed;  // the same weights in the projection tiles' panels

int main() {
    for (std::size_t i = 0; i < 64; ++i) weights.wv(i, i) = weights.wo(i, i) = 1.0f;  // wq = wk = 0: uniform attention
    for (std::size_t t = 0; t < 10; ++t) x(t, t) = 1.0f;
    const ctattn::status s = layer::forward(weights, x, /*seq_len=*/10, y, workspace);
    // Token 9 attends equally to tokens 0..9, so y(9,0) is the mean of x(0..9, 0) = 0.1.
    std::printf("%s: %zu bytes of workspace, y(9,0) = %g\n", ctattn::to_string(s), layer::workspace_bytes, double(y(9, 0)));

    // Faster projections: pack once (at load time), then pass the packed weights; same bits out.
    ctattn::pack(weights, packed);
    const float unpacked_y = y(9, 0);
    const ctattn::status s_packed = layer::forward(packed, x, 10, y, workspace);
    return s == ctattn::status::ok && s_packed == ctattn::status::ok && y(9, 0) == unpacked_y && y(9, 0) > 0.0999f &&
                   y(9, 0) < 0.1001f
               ? 0
               : 1;
}
