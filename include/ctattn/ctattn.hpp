// SPDX-License-Identifier: Apache-2.0
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
// Every extent is a template parameter; every buffer a fixed-size member, so the layer's RAM and
// flash bounds are constants (`ctattn::footprint<cfg>`; `static_assert(ctattn::fits<cfg>(ram,
// flash))`); run-time errors are `ctattn::status` values. The kernels (kernels/) vectorise
// through xsimd, or run as plain C++ on `simd::scalar_arch` for cores without SIMD. No Boost.
//
// This is the umbrella for attention alone. A language model and its decoder:
// <ctattn/language_model.hpp> (needs Boost.Hana); training: <ctattn/training.hpp>.
// The folders are levels, lowest first: base, simd, kernels, layers, model, io, text, train;
// a header includes only its own level or a lower one (docs/design.md).
#pragma once

#include "base/language_check.hpp"  // first: under an older -std the first error names C++20

#include "base/attention_config.hpp"
#include "base/mask.hpp"
#include "base/status.hpp"
#include "base/storage.hpp"
#include "simd/ops.hpp"
#include "kernels/aggregate.hpp"
#include "kernels/projection.hpp"
#include "kernels/scores.hpp"
#include "kernels/softmax.hpp"
#include "layers/attention.hpp"
#include "layers/footprint.hpp"
