// SPDX-License-Identifier: Apache-2.0
// ctattn's training umbrella: backward passes of every layer and of the whole language model
// (train/model_backward.hpp: loss and gradients by backpropagation, checked against finite
// differences), the parameter and gradient sets, and the optimisers (SGD, AdamW). Everything the
// language-model umbrella holds comes with it. Needs Boost.Hana.
#pragma once

#include "base/language_check.hpp"  // first: under an older -std the first error names C++20

#include "language_model.hpp"
#include "train/parameters.hpp"
#include "train/model_backward.hpp"
#include "train/sgd.hpp"
#include "train/adamw.hpp"
