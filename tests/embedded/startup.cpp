// Reset to firmware_main() on QEMU's MPS2/MPS3 Cortex-M boards, with no C library start-up code:
// vector table, FPU enable, .data copy, .bss clear, stack painting, static constructors, the test,
// then SYS_EXIT with its verdict. The symbols come from boards/firmware.ld.
#include <cstddef>
#include <cstdint>

#include "print.hpp"
#include "stack.hpp"

extern "C" {
extern std::uint32_t __data_load[], __data_start[], __data_end[];
extern std::uint32_t __bss_start[], __bss_end[];
extern std::uint32_t __stack_limit[], __stack_top[];
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();
[[noreturn]] void reset_handler();
[[noreturn]] void fault_handler();
}

// Each firmware's entry point; returns its number of failed checks. (Not `main`: C++ forbids
// calling main, and nothing else here would.)
int firmware_main();

namespace {

// Where the stack pointer is now; painting must stop short of it.
inline std::uintptr_t current_stack_pointer() noexcept {
    std::uintptr_t sp;
    asm volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

void enable_fpu() noexcept {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    // CPACR bits 20..23: full access to coprocessors 10 and 11 (the FPU, and MVE on v8.1-M).
    // Until then the first floating-point instruction raises a UsageFault (NOCP).
    volatile std::uint32_t& cpacr = *reinterpret_cast<volatile std::uint32_t*>(0xE000ED88u);
    cpacr = cpacr | (0xFu << 20);
    asm volatile("dsb\n\tisb" ::: "memory");
#endif
}

}  // namespace

extern "C" void reset_handler() {
    enable_fpu();
    // Volatile pointers keep these loops loops: a memcpy/memset call here would run before
    // .data exists, and the code must not depend on what the library's versions touch.
    for (volatile std::uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
    for (volatile std::uint32_t* p = __bss_start; p < __bss_end;) *p++ = 0;
    // Paint the unused stack so the firmware's deepest use can be read back afterwards (stack.hpp);
    // 64 bytes below the current frame stay unpainted for this function itself.
    const std::uintptr_t paint_end = current_stack_pointer() - 64;
    for (volatile std::uint32_t* p = __stack_limit; reinterpret_cast<std::uintptr_t>(p) < paint_end;)
        *p++ = embedded::stack_paint;
    for (auto* ctor = __init_array_start; ctor < __init_array_end; ++ctor) (*ctor)();
    const int failures = firmware_main();
    embedded::exit(failures == 0);
}

extern "C" void fault_handler() {
    // A fault (bad address, undefined instruction, FPU access while disabled, stack overflow
    // into the guard) ends the run as a failure instead of hanging until the test timeout.
    embedded::print("FAIL: CPU fault (HardFault/MemManage/BusFault/UsageFault)\n");
    embedded::exit(false);
}

// The vector table: initial stack pointer, then handlers for reset and the system exceptions.
// The core reads it at VTOR, which resets to 0 on all four boards; boards/firmware.ld places
// .vectors there. Interrupts are never enabled, so the table stops after SysTick.
using vector_entry = void (*)();
extern "C" const vector_entry vector_table[16] __attribute__((section(".vectors"), used)) = {
    reinterpret_cast<vector_entry>(__stack_top),  // initial SP
    reset_handler,                                // Reset
    fault_handler,                                // NMI
    fault_handler,                                // HardFault
    fault_handler,                                // MemManage
    fault_handler,                                // BusFault
    fault_handler,                                // UsageFault
    fault_handler,                                // SecureFault (v8-M)
    nullptr, nullptr, nullptr,                    // reserved
    fault_handler,                                // SVCall
    fault_handler,                                // DebugMonitor
    nullptr,                                      // reserved
    fault_handler,                                // PendSV
    fault_handler,                                // SysTick
};
