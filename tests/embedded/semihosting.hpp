// SPDX-License-Identifier: Apache-2.0
// Arm semihosting: the firmware's only line to the outside world. A `bkpt 0xAB` with an operation
// number in r0 and its argument in r1 traps to the debugger, here QEMU run with
// `-semihosting-config enable=on,target=native`, which prints our text on its stdout and turns
// SYS_EXIT into QEMU's own exit status, so a failed check fails the meson test that ran QEMU.
#pragma once

#include <cstddef>
#include <cstdint>

namespace embedded {

namespace semihosting_op {
inline constexpr std::uint32_t write0 = 0x04;  // print a NUL-terminated string
inline constexpr std::uint32_t exit = 0x18;    // stop; r1 holds the reason (AArch32 form)
}  // namespace semihosting_op

// SYS_EXIT reasons: QEMU exits with status 0 for ApplicationExit and 1 for anything else.
inline constexpr std::uint32_t adp_stopped_application_exit = 0x20026;
inline constexpr std::uint32_t adp_stopped_runtime_error = 0x20023;

inline std::uint32_t semihost(std::uint32_t op, const void* arg) noexcept {
    register std::uint32_t r0 asm("r0") = op;
    register const void* r1 asm("r1") = arg;
    asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

inline void write(const char* text) noexcept { semihost(semihosting_op::write0, text); }

[[noreturn]] inline void exit(bool success) noexcept {
    semihost(semihosting_op::exit,
             reinterpret_cast<const void*>(success ? adp_stopped_application_exit : adp_stopped_runtime_error));
    for (;;) asm volatile("wfi");  // not reached under QEMU; a debugger-less board parks here
}

}  // namespace embedded
