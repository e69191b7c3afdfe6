// SPDX-License-Identifier: Apache-2.0
// Token ids: an index into the vocabulary. Unsigned, so "id >= vocab" is the only invalid id and
// one comparison checks it. The SentencePiece / llama2.c special ids are here too, because the
// decoder, the tokenizer and the samplers all speak them.
#pragma once

#include "language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstdint>

namespace ctattn {

/// An index into the vocabulary; unsigned, so `id >= vocab` is the only invalid id.
using token_id = std::uint32_t;

/// `<unk>`: 0 in SentencePiece and llama2.c vocabularies.
inline constexpr token_id unknown_token = 0;
/// `<s>` (BOS), also what llama2.c's stories emit between stories.
inline constexpr token_id bos_token = 1;
/// `</s>` (EOS).
inline constexpr token_id eos_token = 2;

}  // namespace ctattn
