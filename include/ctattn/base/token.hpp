// SPDX-License-Identifier: Apache-2.0
// Token ids: an index into the vocabulary. Unsigned, so "id >= vocab" is the only invalid id and
// one comparison checks it. The SentencePiece / llama2.c special ids are here too, because the
// decoder, the tokenizer and the samplers all speak them.
#pragma once

#include "language_check.hpp"  // first: under an older -std the first error names C++20

#include <cstdint>

namespace ctattn {

using token_id = std::uint32_t;

/// 0 <unk>, 1 <s> (BOS, also what llama2.c's stories emit between stories), 2 </s> (EOS).
inline constexpr token_id unknown_token = 0;
inline constexpr token_id bos_token = 1;
inline constexpr token_id eos_token = 2;

}  // namespace ctattn
