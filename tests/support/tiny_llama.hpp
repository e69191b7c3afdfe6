// SPDX-License-Identifier: Apache-2.0
// A llama2.c-shaped model small enough that a fuzzer reaches valid files (d_model 8, 2 heads
// sharing 1 K/V head, d_ff 12, vocab 5, one layer, tied head; 2,460 bytes at seq_len 16), and a
// deterministic checkpoint image of it. Shared by the host tests, the fuzz targets and the
// Cortex-M firmware test, so it uses no heap and no library beyond <cstring>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <ctattn/io/llama2c.hpp>

namespace tiny_llama {

using block = ctattn::block_config<ctattn::attention_config<8, 2, 1, 16, ctattn::no_bias, ctattn::causal_mask>,
                                   ctattn::ffn_config<8, ctattn::swiglu, 12>,
                                   ctattn::rms_norm<ctattn::eps_1e_minus<5>>, ctattn::pre_norm>;
using config = ctattn::stacked_model_config<5, 1, block, ctattn::rotary_positions<10000>,
                                            ctattn::rms_norm<ctattn::eps_1e_minus<5>>, ctattn::tied_head>;

inline constexpr ctattn::llama2c::header header{8, 12, 1, 2, 1, 5, 16};
inline constexpr std::size_t checkpoint_bytes = ctattn::llama2c::checkpoint_bytes(header);
static_assert(checkpoint_bytes == 2460, "tiny_llama: 28 header bytes + 608 floats");

inline void write_i32(unsigned char* p, std::int32_t v) noexcept {
    const auto u = static_cast<std::uint32_t>(v);
    p[0] = static_cast<unsigned char>(u), p[1] = static_cast<unsigned char>(u >> 8);
    p[2] = static_cast<unsigned char>(u >> 16), p[3] = static_cast<unsigned char>(u >> 24);
}
inline void write_f32(unsigned char* p, float v) noexcept {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    write_i32(p, static_cast<std::int32_t>(u));
}

inline void write_header(unsigned char* out, const ctattn::llama2c::header& h) noexcept {
    const std::int32_t fields[7] = {h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.vocab_size, h.seq_len};
    for (int i = 0; i < 7; ++i) write_i32(out + 4 * i, fields[i]);
}

// out[0, checkpoint_bytes): the header, then weights in [-0.3, 0.3) from an LCG (little-endian).
inline void write_checkpoint(unsigned char* out, std::uint32_t seed = 2024u) noexcept {
    write_header(out, header);
    for (std::size_t at = ctattn::llama2c::header_bytes; at + 4 <= checkpoint_bytes; at += 4) {
        seed = seed * 1664525u + 1013904223u;
        write_f32(out + at, (float(seed >> 8) / float(1u << 24) - 0.5f) * 0.6f);
    }
}

}  // namespace tiny_llama
