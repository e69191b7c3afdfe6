// SPDX-License-Identifier: Apache-2.0
// Invalid: stories260K's W2 rows (172 inputs) stored unpadded in groups of 32, llama2.c runq.c's
// trap (a group straddling two rows reads codes with the wrong scale). Must not compile.
#include <ctattn/base/weight_storage.hpp>

ctattn::q8_matrix<172, 64, 32, 172> w2;
