// SPDX-License-Identifier: Apache-2.0
// Firmware entry for examples/c_firmware/main.c, the C11 program that runs stories260K through
// generated/stories260k's C API: its text goes out through semihosting, and the verdict is
// whether it ran (the ids themselves are compared with the host's by examples/c_firmware/
// check_ids.py, which runs this image under qemu-system-arm). The weights are the library's
// constant arrays, in flash; RAM holds the C state (KV cache + one token's rows) and the logits.
#include <ctattn/model/footprint.hpp>
#include <ctattn_stories260k_config.hpp>

#include "check.hpp"
#include "print.hpp"

extern "C" int ctattn_example_run(void);
extern "C" void c_example_write(const char* text) { embedded::print(text); }

int firmware_main() {
    embedded::checker check;
    check.is_true("the C example decodes greedily from BOS through the C API", ctattn_example_run() == 0);
    // Flash: the weights image and its view (model/footprint.hpp); RAM: the C state and one row of logits.
    return embedded::finish(check, "c_example", ctattn::footprint<ctattn_gen::stories260k::config>::flash_bytes,
                            sizeof(ctattn_stories260k_state) + CTATTN_STORIES260K_VOCAB * sizeof(float), 0);
}
