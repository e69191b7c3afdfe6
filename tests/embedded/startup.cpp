// SPDX-License-Identifier: Apache-2.0
// The firmware tests' part of start-up: examples/boards/startup.c or startup_riscv.c (vectors, FPU, .data,
// .bss, static constructors, SYS_EXIT with main's verdict, the board templates users start
// from) resets into board_before_main() and main() below. Here the stack is painted first, so
// each test can read back its deepest use (stack.hpp), and main runs the test's firmware_main().
#include <cstdint>

#include "../../examples/boards/cpu.h"
#include "stack.hpp"

// Each firmware's entry point; returns its number of failed checks.
int firmware_main();

extern "C" void board_before_main() {
    // 64 bytes below the current frame stay unpainted for this function itself.
    const std::uintptr_t paint_end = cpu_stack_pointer() - 64;
    for (volatile std::uint32_t* p = __stack_limit; reinterpret_cast<std::uintptr_t>(p) < paint_end;)
        *p++ = embedded::stack_paint;
}

// Called by startup.c (C), never by C++ code.
int main() { return firmware_main(); }
