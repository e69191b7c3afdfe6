// SPDX-License-Identifier: Apache-2.0
// Target detection, in one place: every CTATTN_HAS_* / ISA macro the library tests is defined here
// from the compiler's target macros (-march/-mcpu/-mfpu decide), and no other header reads those
// raw macros. A new ISA family adds its detection here and its bodies in one file beside this one.
//   CTATTN_HAS_XSIMD            xsimd included: it has an architecture for this target
//   CTATTN_HAS_AVX512F / _AVX   x86 intrinsics available to simd/x86.hpp (only with xsimd, which includes them)
//   CTATTN_HAS_X86_FMA          x86 FMA3 intrinsics (vector fma of 8 and 4 lanes)
//   CTATTN_HAS_AVX2 / _F16C     256-bit integer lanes / half<->float conversion (typed KV rows: simd/kv_x86.hpp)
//   CTATTN_HAS_NEON64           AArch64 NEON intrinsics (typed KV rows: simd/kv_neon.hpp)
//   CTATTN_HAS_SCALAR_FMA       a fused float multiply-add instruction (x86 FMA, AArch64, Cortex-M4F/M7/M55,
//                               RISC-V with the F extension)
//   CTATTN_VFP_ROW_PROJECTION   Cortex-M single-precision FPU with 32 registers: simd/arm_vfp.hpp's assembly
//   CTATTN_VFP_HAS_VMAXNM       ... and VMAXNM (FPv5: Cortex-M7, M55)
//   CTATTN_HAS_MVE_FLOAT        Helium with floating point (Cortex-M55, M85): simd/mve.hpp, mve_arch
//   CTATTN_HAS_MVE_INT          Helium's integer lanes (every MVE core): the int8 group dot of simd/q8.hpp
//   CTATTN_RISCV_FMAX           RISC-V with the F extension: fmax.s (simd/riscv.hpp)
//   CTATTN_SOFT_FLOAT           no single-precision FPU (RISC-V without F, Cortex-M0/M3, -mfloat-abi=soft):
//                               every float operation is a library call
//   CTATTN_KV_INT8_INTEGER_ATTENTION  int8 KV caches attend in integers (kernels/decode/integer_heads.hpp):
//                               set here on soft-float cores; a host build may define it to run that path
#pragma once

#include "../base/language_check.hpp"

#include <cstddef>

// xsimd is used only where it has an architecture for the target. Its configuration header reads
// nothing but the compiler's target macros, so it is asked first: on Cortex-M (no NEON; MVE is not
// an xsimd arch), RISC-V without V and x86 without SSE2 the kernels take the scalar path, and
// xsimd.hpp, which does not even compile against newlib (posix_memalign), is never included.
#if !defined(CTATTN_SIMD_SCALAR) && defined(__has_include)
#if __has_include(<xsimd/config/xsimd_config.hpp>)
#include <xsimd/config/xsimd_config.hpp>
#if XSIMD_WITH_SSE2 || XSIMD_WITH_NEON || XSIMD_WITH_NEON64 || (defined(XSIMD_WITH_SVE) && XSIMD_WITH_SVE) || \
    (defined(XSIMD_WITH_RVV) && XSIMD_WITH_RVV) || (defined(XSIMD_WITH_WASM) && XSIMD_WITH_WASM)
#define CTATTN_XSIMD_TARGETS_THIS_ARCH 1
#endif
#endif
#endif

// GCC 12.2 (Debian 12) misreports its own AVX-512 intrinsics once they are inlined into a kernel:
// `__m512 __Y = __Y;` in _mm512_undefined_ps as an uninitialised read (GCC PR 105593), and the
// vector loads of a loop that cannot run for a row shorter than one vector (13 floats, 16 lanes)
// as out of bounds. Both break -Werror builds for -march targets with AVX-512. They are silenced
// for the intrinsic headers and for ctattn's wrappers (the warnings are reported at the
// intrinsic's line), so diagnostics in user code stay as they are.
#if defined(CTATTN_XSIMD_TARGETS_THIS_ARCH) && defined(__GNUC__) && !defined(__clang__)
#define CTATTN_SILENCE_INTRINSIC_WARNINGS                                \
    _Pragma("GCC diagnostic push")                                      \
    _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")               \
    _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")         \
    _Pragma("GCC diagnostic ignored \"-Warray-bounds\"")
#define CTATTN_RESTORE_WARNINGS _Pragma("GCC diagnostic pop")
#else
#define CTATTN_SILENCE_INTRINSIC_WARNINGS
#define CTATTN_RESTORE_WARNINGS
#endif

#if defined(CTATTN_XSIMD_TARGETS_THIS_ARCH)
// Bare-metal Cortex-A with NEON (arm-none-eabi, newlib): newlib declares posix_memalign only in
// POSIX modes (-std=gnu++20), yet xsimd's aligned allocator names it under -std=c++20 too. ctattn
// never allocates; the same declaration as newlib's just lets xsimd.hpp compile.
#include <cstdlib>
#if defined(_NEWLIB_VERSION)
extern "C" int posix_memalign(void**, std::size_t, std::size_t);
#endif
CTATTN_SILENCE_INTRINSIC_WARNINGS
#include <xsimd/xsimd.hpp>
CTATTN_RESTORE_WARNINGS
#define CTATTN_HAS_XSIMD 1
#endif

#if defined(CTATTN_HAS_XSIMD) && XSIMD_VERSION_MAJOR < 8
#error "ctattn needs xsimd >= 8 (Debian 12 ships 8.1); build with -Dsimd=scalar to do without it"
#endif

// x86 intrinsics only where xsimd.hpp included them (xsimd present; not under CTATTN_SIMD_SCALAR).
#if defined(CTATTN_HAS_XSIMD) && defined(__AVX512F__)
#define CTATTN_HAS_AVX512F 1
#endif
#if defined(CTATTN_HAS_XSIMD) && defined(__AVX__)
#define CTATTN_HAS_AVX 1
#endif
#if defined(CTATTN_HAS_XSIMD) && defined(__FMA__)
#define CTATTN_HAS_X86_FMA 1
#endif
// AVX2: 256-bit integer widening (int8 KV codes -> int32 -> float, simd/kv_x86.hpp).
#if defined(CTATTN_HAS_XSIMD) && defined(__AVX2__)
#define CTATTN_HAS_AVX2 1
#endif
// AArch64 NEON intrinsics (xsimd's neon64 arch included arm_neon.h): typed KV rows, simd/kv_neon.hpp.
#if defined(CTATTN_HAS_XSIMD) && defined(__aarch64__) && defined(__ARM_NEON)
#define CTATTN_HAS_NEON64 1
#endif
// F16C: 8 halves <-> 8 floats per instruction (float16 KV caches, kernels/decode/kv_rows.hpp).
#if defined(CTATTN_HAS_XSIMD) && defined(__F16C__) && defined(__AVX__)
#define CTATTN_HAS_F16C 1
#endif

// A fused multiply-add on one float (__builtin_fmaf is one instruction, not a library call).
// GCC and Clang define __ARM_FEATURE_FMA on every AArch64 target; __aarch64__ is named for others.
// RISC-V's F extension has fmadd.s (__riscv_flen: the widest FP register, 32 with F alone). Where
// the instruction exists GCC contracts a*b+c into it in C++ whatever -std says, so code that must
// round the same way twice (softmax's hi/lo split) has to call the fused form explicitly.
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__aarch64__) || \
    (defined(__riscv) && defined(__riscv_flen))
#define CTATTN_HAS_SCALAR_FMA 1
#endif

// Cortex-M with a single-precision FPU of 32 registers and VFMA (FPv4-SP-D16: M4F; FPv5-D16: M7;
// M55), in Thumb-2 on an M-profile architecture: simd/arm_vfp.hpp's VLDM/VFMA assembly.
#if defined(__thumb2__) && defined(__ARM_FP) && (__ARM_FP & 4) && defined(__ARM_FEATURE_FMA) && \
    !defined(__ARM_ARCH_ISA_A64) && (defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
                                      defined(__ARM_ARCH_8_1M_MAIN__))
#define CTATTN_VFP_ROW_PROJECTION 1
#endif
// FPv5 (Cortex-M7 with its double-precision FPU, ARMv8-M cores such as the M55) has VMAXNM; GCC
// does not say so with __ARM_FEATURE_NUMERIC_MAXMIN on M-profile, hence this test.
#if defined(CTATTN_VFP_ROW_PROJECTION) && \
    (defined(__ARM_FEATURE_NUMERIC_MAXMIN) || (defined(__ARM_ARCH_7EM__) && (__ARM_FP & 8)) || __ARM_ARCH >= 8)
#define CTATTN_VFP_HAS_VMAXNM 1
#endif

// Helium (MVE) with floating-point lanes: __ARM_FEATURE_MVE bit 0 is the integer extension, bit 1
// the float one. Integer-only MVE (e.g. -mcpu=cortex-m55+nomve.fp) keeps the scalar arch, as does
// the CTATTN_SIMD_SCALAR override (meson -Dsimd=scalar).
#if !defined(CTATTN_SIMD_SCALAR) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#define CTATTN_HAS_MVE_FLOAT 1
#endif
// Its integer part alone (every MVE core has it): the int8 group dot (simd/q8.hpp, simd/q8_mve.hpp).
#if !defined(CTATTN_SIMD_SCALAR) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#define CTATTN_HAS_MVE_INT 1
#endif
// RISC-V's F extension (__riscv_flen >= 32) has fmax.s, IEEE maxNum like VMAXNM.
#if defined(__riscv) && defined(__riscv_flen)
#define CTATTN_RISCV_FMAX 1
#endif

// No single-precision FPU: RISC-V without F (no __riscv_flen), Arm with -mfloat-abi=soft or an FPU
// without single precision (__ARM_FP bit 2). Float arithmetic is then libgcc's soft-float calls (~50-200
// instructions each), so kernels that can work in integers should.
#if (defined(__riscv) && !defined(__riscv_flen)) || \
    (defined(__arm__) && (defined(__SOFTFP__) || !defined(__ARM_FP) || !(__ARM_FP & 4)))
#define CTATTN_SOFT_FLOAT 1
#endif
// The int8 KV cache's decode attention in integers (exact int32 dots, fixed-point softmax): where
// floats are emulated, or on request (a host build testing that path).
#if defined(CTATTN_SOFT_FLOAT) && !defined(CTATTN_KV_INT8_INTEGER_ATTENTION)
#define CTATTN_KV_INT8_INTEGER_ATTENTION 1
#endif

// Loops over a register tile's rows and vectors must be unrolled, or the accumulators cannot live
// in registers: at -Os (the usual firmware setting) GCC leaves such loops rolled and keeps acc[][]
// on the stack, a load and a store around every multiply-add. The tile loops say so explicitly.
#if defined(__GNUC__) && !defined(__clang__)
#define CTATTN_UNROLL _Pragma("GCC unroll 32")
#elif defined(__clang__)
#define CTATTN_UNROLL _Pragma("unroll")
#else
#define CTATTN_UNROLL
#endif

namespace ctattn::simd::target {
// The same facts as constants, for `if constexpr` in kernels (the per-ISA functions they name
// are declared on every target and defined only where these are true).
#if defined(CTATTN_HAS_AVX512F)
inline constexpr bool avx512f = true;
#else
inline constexpr bool avx512f = false;
#endif
#if defined(CTATTN_HAS_AVX)
inline constexpr bool avx = true;
#else
inline constexpr bool avx = false;
#endif
/// Whether AArch64 NEON intrinsics are there (typed KV rows widened in registers: simd/kv_neon.hpp).
#if defined(CTATTN_HAS_NEON64)
inline constexpr bool neon64 = true;
#else
inline constexpr bool neon64 = false;
#endif
/// Whether AVX2's 256-bit integer instructions are there (int8 KV rows widened in registers).
#if defined(CTATTN_HAS_AVX2)
inline constexpr bool avx2 = true;
#else
inline constexpr bool avx2 = false;
#endif
#if defined(CTATTN_HAS_F16C)
inline constexpr bool f16c = true;
#else
inline constexpr bool f16c = false;
#endif
#if defined(CTATTN_VFP_ROW_PROJECTION)
inline constexpr bool vfp_asm = true;
#else
inline constexpr bool vfp_asm = false;
#endif
#if defined(CTATTN_VFP_HAS_VMAXNM)
inline constexpr bool vfp_vmaxnm = true;
#else
inline constexpr bool vfp_vmaxnm = false;
#endif
#if defined(CTATTN_HAS_MVE_FLOAT)
inline constexpr bool mve_float = true;
#else
inline constexpr bool mve_float = false;
#endif
#if defined(CTATTN_HAS_MVE_INT)
inline constexpr bool mve_int = true;
#else
inline constexpr bool mve_int = false;
#endif
/// Whether simd/riscv.hpp's fmax.s body is defined (RISC-V with F).
#if defined(CTATTN_RISCV_FMAX)
inline constexpr bool riscv_fmax = true;
#else
inline constexpr bool riscv_fmax = false;
#endif
/// Whether float arithmetic is emulated in software (no single-precision FPU: CTATTN_SOFT_FLOAT).
#if defined(CTATTN_SOFT_FLOAT)
inline constexpr bool soft_float = true;
#else
inline constexpr bool soft_float = false;
#endif
/// Whether decode attention over an int8 KV cache runs in integers (kernels/decode/integer_heads.hpp):
/// on soft-float cores, where each float operation is a library call, or where a build asks for it
/// (CTATTN_KV_INT8_INTEGER_ATTENTION). Elsewhere the float kernels read the rows.
#if defined(CTATTN_KV_INT8_INTEGER_ATTENTION)
inline constexpr bool int8_kv_attention_in_integers = true;
#else
inline constexpr bool int8_kv_attention_in_integers = false;
#endif
/// Float registers the scalar path may plan register tiles for (ops<scalar_arch>::registers):
/// 32 on RISC-V with F (f0-f31, of which 20 are caller-saved: a one-row projection keeps 16
/// accumulators, the x value and a weight in registers, with no spill), 16 elsewhere (sized for
/// Cortex-M's s0-s15 when C tiles run beside the VFP assembly; soft-float cores have none).
#if defined(CTATTN_RISCV_FMAX)
inline constexpr std::size_t scalar_float_registers = 32;
#else
inline constexpr std::size_t scalar_float_registers = 16;
#endif
}  // namespace ctattn::simd::target

// ---- Q8 (int8 group) bodies: simd/q8.hpp chooses among them, most capable first -------------
//   CTATTN_Q8_AVX512_VNNI   AVX-512 BW + VNNI: vpdpbusd on 64 bytes (simd/q8_x86.hpp)
//   CTATTN_Q8_AVX_VNNI      vpdpbusd on 32 bytes: AVX-VNNI, or AVX-512 VNNI + VL without BW
//   CTATTN_Q8_AVX2          AVX2 + FMA: vpmaddubsw + vpmaddwd on 32 bytes
//   CTATTN_Q8_NEON          AArch64 NEON (simd/q8_neon.hpp) ...
//   CTATTN_Q8_NEON_DOTPROD  ... with the dot-product extension (sdot)
//   CTATTN_Q8_ARM_DSP       Cortex-M with the DSP extension (M4/M7/M33/M55): SXTB16 + SMLAD
// The x86 and NEON bodies use intrinsics, so they follow xsimd's presence (CTATTN_HAS_XSIMD: not
// under -Dsimd=scalar); the DSP body needs only arm_acle.h and, like the VFP assembly, is chosen
// from the core alone (Cortex-M builds are -Dsimd=scalar: xsimd has no arch for them).
#if defined(CTATTN_HAS_XSIMD) && defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define CTATTN_Q8_AVX512_VNNI 1
#endif
#if defined(CTATTN_HAS_XSIMD) && defined(__AVX2__) && defined(__FMA__) && \
    (defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__)))
#define CTATTN_Q8_AVX_VNNI 1
#endif
#if defined(CTATTN_HAS_XSIMD) && defined(__AVX2__) && defined(__FMA__)
#define CTATTN_Q8_AVX2 1
#endif
#if defined(CTATTN_HAS_XSIMD) && defined(__aarch64__) && defined(__ARM_NEON)
#define CTATTN_Q8_NEON 1
#if defined(__ARM_FEATURE_DOTPROD)
#define CTATTN_Q8_NEON_DOTPROD 1
#endif
#endif
// M-profile only: its word loads may be unaligned (groups of G not a multiple of 4 start anywhere),
// which a Cortex-A running with its MMU off (bare metal, Device memory) would fault on.
#if defined(__ARM_FEATURE_DSP) && !defined(__aarch64__) && defined(__thumb2__) && defined(__ARM_ARCH_PROFILE) && \
    __ARM_ARCH_PROFILE == 'M'
#define CTATTN_Q8_ARM_DSP 1
#endif

namespace ctattn::simd::target {
/// Whether one float's a * b + c is a single fused instruction here (CTATTN_HAS_SCALAR_FMA): code
/// that must round the same way on every such target calls __builtin_fmaf where it is.
#if defined(CTATTN_HAS_SCALAR_FMA)
inline constexpr bool scalar_fma = true;
#else
inline constexpr bool scalar_fma = false;
#endif
#if defined(CTATTN_Q8_AVX512_VNNI)
inline constexpr bool q8_avx512_vnni = true;
#else
inline constexpr bool q8_avx512_vnni = false;
#endif
#if defined(CTATTN_Q8_AVX_VNNI)
inline constexpr bool q8_avx_vnni = true;
#else
inline constexpr bool q8_avx_vnni = false;
#endif
#if defined(CTATTN_Q8_AVX2)
inline constexpr bool q8_avx2 = true;
#else
inline constexpr bool q8_avx2 = false;
#endif
#if defined(CTATTN_Q8_NEON)
inline constexpr bool q8_neon = true;
#else
inline constexpr bool q8_neon = false;
#endif
#if defined(CTATTN_Q8_NEON_DOTPROD)
inline constexpr bool q8_neon_dotprod = true;
#else
inline constexpr bool q8_neon_dotprod = false;
#endif
#if defined(CTATTN_Q8_ARM_DSP)
inline constexpr bool q8_arm_dsp = true;
#else
inline constexpr bool q8_arm_dsp = false;
#endif
}  // namespace ctattn::simd::target
