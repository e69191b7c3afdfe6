// SPDX-License-Identifier: Apache-2.0
// Control: a valid llama-shaped model, its decoder and its llama2.c loader compile.
#include <ctattn/model/decoder.hpp>
#include <ctattn/io/llama2c.hpp>

using namespace ctattn;
using block = block_config<attention_config<16, 4, 2, 8, no_bias, causal_mask>, ffn_config<16, swiglu, 24>,
                           rms_norm<eps_1e_minus<5>>, pre_norm>;
using config = stacked_model_config<10, 2, block, rotary_positions<>, rms_norm<eps_1e_minus<5>>, tied_head>;

status use(const model_weights<config>& w, decoder<config>& d, model_workspace<config>& ws, float* logits) {
    const token_id tokens[2] = {1, 2};
    if (const status s = language_model<config>::forward(w, tokens, 2, logits, ws); s != status::ok) return s;
    return d.decode_step(1, logits);
}
status load(const unsigned char* bytes, std::size_t size, model_weights<config>& w) {
    return llama2c::load<config>(bytes, size, w);
}
