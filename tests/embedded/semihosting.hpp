// SPDX-License-Identifier: Apache-2.0
// Semihosting: the firmware's only line to the outside world. A trap with an operation number in
// the first argument register and its argument in the second goes to the debugger, here QEMU run
// with `-semihosting-config enable=on,target=native`, which prints our text on its stdout and
// turns SYS_EXIT into QEMU's own exit status, so a failed check fails the meson test that ran
// QEMU. The trap itself is the board code's (examples/boards/cpu.h: `bkpt 0xAB` on Arm, the
// ebreak sequence on RISC-V); the operation numbers are the same on both.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../../examples/boards/cpu.h"

namespace embedded {

namespace semihosting_op {
inline constexpr std::uint32_t write0 = 0x04;  // print a NUL-terminated string
inline constexpr std::uint32_t exit = 0x18;    // stop; r1 / a1 holds the reason (the 32-bit form)
}  // namespace semihosting_op

// SYS_EXIT reasons: QEMU exits with status 0 for ApplicationExit and 1 for anything else.
inline constexpr std::uint32_t adp_stopped_application_exit = 0x20026;
inline constexpr std::uint32_t adp_stopped_runtime_error = 0x20023;

inline std::uint32_t semihost(std::uint32_t op, const void* arg) noexcept { return cpu_semihost(op, arg); }

inline void write(const char* text) noexcept { semihost(semihosting_op::write0, text); }

[[noreturn]] inline void exit(bool success) noexcept {
    semihost(semihosting_op::exit,
             reinterpret_cast<const void*>(success ? adp_stopped_application_exit : adp_stopped_runtime_error));
    for (;;) cpu_wait_for_interrupt();  // not reached under QEMU; a debugger-less board parks here
}

}  // namespace embedded
