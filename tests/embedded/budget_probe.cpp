// SPDX-License-Identifier: Apache-2.0
// A configuration checked against a budget, for the footprint test (link_probe.py): compiled with
// a generous budget it must build; with CTATTN_PROBE_RAM_BYTES or CTATTN_PROBE_FLASH_BYTES below
// the configuration's footprint the static_assert must stop it with an error that names the
// budget. d_model 20, 5 heads, 13 positions, as in the golden case mha_s13_e20_h5_causal.
#include <ctattn/model/footprint.hpp>

using probe_config = ctattn::attention_config<20, 5, 5, 13>;

static_assert(ctattn::fits<probe_config>(CTATTN_PROBE_RAM_BYTES, CTATTN_PROBE_FLASH_BYTES));

int main() { return 0; }
