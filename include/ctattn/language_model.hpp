// SPDX-License-Identifier: Apache-2.0
// ctattn's language-model umbrella: a stack of transformer blocks with embeddings, positions and an
// LM head (configuration: model/config.hpp; forward pass: model/language_model.hpp), the decoder
// that runs it token by token over a fixed KV cache (model/decoder.hpp), weights viewed in place
// from flash (model/weights_image.hpp), compile-time RAM/flash bounds (model/footprint.hpp), the
// llama2.c and blob loaders (io/), and the tokenizer, samplers and generation loop (text/).
// Needs Boost.Hana (the layer stack is a hana::tuple).
//
//   static ctattn::decoder<cfg> dec;     // cfg: a model_config; KV cache + activations, no heap
//   dec.attach(weights);                 // model_weights<cfg>, or a view of flash (weights_image)
//   dec.prefill(prompt, n, logits);      // then dec.decode_step(next, logits), one token at a time
#pragma once

#include "base/language_check.hpp"  // first: under an older -std the first error names C++20

#include "ctattn.hpp"
#include "model/config.hpp"
#include "model/language_model.hpp"
#include "model/decoder.hpp"
#include "model/weights_image.hpp"
#include "model/footprint.hpp"
#include "io/llama2c.hpp"
#include "io/blob.hpp"
#include "text/tokenizer.hpp"
#include "text/sample.hpp"
#include "text/generate.hpp"
