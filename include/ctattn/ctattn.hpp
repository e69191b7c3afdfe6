// ctattn: transformer attention stamped out at compile time.
//
// Pick a shape, get kernels sized for it:
//
//   using cfg = ctattn::attention_config<64, 8, 8, 128>;   // d_model, heads, kv_heads, capacity
//   using mha = ctattn::multi_head_attention<cfg>;
//   static mha::weights_type w;     // fill wq, wk, wv, wo (x @ W convention) and biases
//   static mha::workspace_type ws;  // mha::workspace_bytes, no heap
//   ctattn::status s = mha::forward(w, x, n_tokens, y, ws);   // x, y: n_tokens x 64
//
// Every extent is a template parameter; every buffer a fixed-size member; run-time errors are
// `ctattn::status` values. The kernels (kernels/) vectorise through xsimd, or run as plain C++
// on `simd::scalar_arch` for cores without SIMD.
#pragma once

#include "cxx_version.hpp"  // first: under an older -std the first error names C++20

#include "attention.hpp"
#include "config.hpp"
#include "kernels/aggregate.hpp"
#include "kernels/mask.hpp"
#include "kernels/projection.hpp"
#include "kernels/scores.hpp"
#include "kernels/softmax.hpp"
#include "simd.hpp"
#include "status.hpp"
#include "storage.hpp"
