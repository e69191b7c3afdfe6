// SPDX-License-Identifier: Apache-2.0
// RISC-V F-extension bodies for the scalar path (RV32IMAFC and up): fmax.s is IEEE 754's maxNum
// (a NaN operand gives the other one), one instruction where the C max is a compare, a branch and
// a move. Used by the decode attention's exp (simd/math.hpp). Declared on every target; defined
// where simd/target.hpp sets CTATTN_RISCV_FMAX.
#pragma once

#include "target.hpp"

namespace ctattn::simd::riscv {

/// max(x, floor) by one fmax.s (a NaN x gives floor), where CTATTN_RISCV_FMAX.
[[gnu::always_inline]] inline float max_num(float x, float floor) noexcept;

#if defined(CTATTN_RISCV_FMAX)
// An asm statement: GCC 12 calls the library's fmaxf for __builtin_fmaxf on RISC-V.
[[gnu::always_inline]] inline float max_num(float x, float floor) noexcept {
    float clamped;
    asm("fmax.s %0, %1, %2" : "=f"(clamped) : "f"(x), "f"(floor));
    return clamped;
}
#endif

}  // namespace ctattn::simd::riscv
