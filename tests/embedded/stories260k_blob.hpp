// SPDX-License-Identifier: Apache-2.0
// The real stories260K checkpoint, byte for byte, linked into flash (.rodata) with .incbin, for
// the firmware that runs it. CTATTN_STORIES_PATH comes from meson.build. Include from one
// translation unit per image: the asm block defines the two symbols.
#pragma once

asm(".section .rodata.stories260k, \"a\"\n"
    ".balign 4\n"
    ".global stories260k_begin\n"
    "stories260k_begin:\n"
    ".incbin \"" CTATTN_STORIES_PATH "\"\n"
    ".global stories260k_end\n"
    "stories260k_end:\n"
    ".previous\n");
extern "C" const unsigned char stories260k_begin[];
extern "C" const unsigned char stories260k_end[];
