#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Link-time and compile-time proofs for the firmware, run by meson test (tests/embedded/meson.build).

    link_probe.py heap   WORKDIR SRCDIR BOARD_STARTUP -- COMPILER... -- COMPILE_FLAGS... -- LINK_FLAGS...
    link_probe.py budget WORKDIR SRCDIR -- COMPILER... -- COMPILE_FLAGS...
    link_probe.py clean  ELF... -- NM OBJDUMP

heap:   heap_probe.cpp + startup.cpp (+ the board's start-up code, examples/boards/startup.c or startup_riscv.c) must
        link without allocating (control) and must fail to link with `new` and with `malloc`, and the linker must
        say why: an undefined __wrap_malloc, or, where the toolchain has no C++ runtime library (RISC-V, see
        cross/riscv64-unknown-elf.ini), an undefined operator new.
budget: budget_probe.cpp must compile within a generous budget (control) and fail with the
        budget's name in the error when RAM or flash is one byte short.
clean:  firmware images must hold no allocator and no static constructors.
Each step prints what it ran and what it saw; any surprise exits 1.
"""
import os
import subprocess
import sys

failures = 0


def say(ok, what):
    global failures
    print(('pass ' if ok else 'FAIL ') + what)
    if not ok:
        failures += 1


def split_dashes(args):
    groups, current = [], []
    for a in args:
        if a == '--':
            groups.append(current)
            current = []
        else:
            current.append(a)
    groups.append(current)
    return groups


def run(cmd):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return result.returncode, result.stdout


def heap(workdir, srcdir, board_startup_source, compiler, cflags, lflags):
    os.makedirs(workdir, exist_ok=True)
    sources = [os.path.join(srcdir, 'heap_probe.cpp'), os.path.join(srcdir, 'startup.cpp')]
    # The board start-up code is C: compiled as C with the target's flags (and C library: --specs).
    board_startup = os.path.join(workdir, 'board_startup.o')
    target_flags = [f for f in cflags if f.startswith(('-m', '-O', '--specs='))]
    code, text = run(compiler + ['-x', 'c'] + target_flags + ['-c', board_startup_source, '-o', board_startup])
    say(code == 0, 'the board start-up code compiles')
    if code != 0:
        print(text)
    sources.append(board_startup)
    # Flags both lists carry (picolibc's --specs, which GCC refuses to read twice) once.
    lflags = [f for f in lflags if not (f.startswith('--specs=') and f in cflags)]
    for kind, name in ((0, 'no allocation'), (1, 'operator new'), (2, 'malloc')):
        out = os.path.join(workdir, f'heap_probe_{kind}.elf')
        cmd = compiler + cflags + [f'-DCTATTN_PROBE_ALLOCATION={kind}'] + sources + lflags + ['-o', out]
        code, text = run(cmd)
        if kind == 0:
            say(code == 0, f'a firmware without allocation links')
            if code != 0:
                print(' '.join(cmd) + '\n' + text)
        else:
            reasons = ['undefined reference to `__wrap_']
            if kind == 1:
                reasons.append('undefined reference to `operator new')
            why = [l.strip() for l in text.splitlines() if any(r in l for r in reasons)]
            say(code != 0 and bool(why), f'a firmware calling {name} is a link error (undefined __wrap_*'
                + (' or operator new)' if kind == 1 else ')'))
            if not (code != 0 and why):
                print(' '.join(cmd) + '\n' + text)
            else:
                print('      linker: ' + why[0])


def budget(workdir, srcdir, compiler, cflags):
    os.makedirs(workdir, exist_ok=True)
    source = os.path.join(srcdir, 'budget_probe.cpp')
    out = os.path.join(workdir, 'budget_probe.o')
    # Footprint of attention_config<20, 5, 5, 13> (float, 64-byte aligned rows; see footprint.hpp):
    # weights 4*20*20*4 + 4*(20*4 padded to 128) = 6912 bytes; RAM is printed by the control run.
    cases = (
        ('a generous budget', 1 << 20, 1 << 20, None),
        ('a RAM budget of 1 KiB', 1024, 1 << 20, 'ram_budget_too_small_for_activations_kv_and_scratch'),
        ('a flash budget of 1 KiB', 1 << 20, 1024, 'flash_budget_too_small_for_weights'),
    )
    for what, ram, flash, expected in cases:
        cmd = compiler + cflags + [f'-DCTATTN_PROBE_RAM_BYTES={ram}', f'-DCTATTN_PROBE_FLASH_BYTES={flash}',
                                   '-c', source, '-o', out]
        code, text = run(cmd)
        if expected is None:
            say(code == 0, f'static_assert(fits<Config>(...)) passes within {what}')
            if code != 0:
                print(' '.join(cmd) + '\n' + text)
        else:
            ok = code != 0 and expected in text
            say(ok, f'static_assert(fits<Config>(...)) stops the build with {what}, naming {expected}')
            lines = [l.strip() for l in text.splitlines() if expected in l]
            if ok:
                print('      compiler: ' + lines[0])
            else:
                print(' '.join(cmd) + '\n' + text)


def clean(elves, nm, objdump):
    allocators = {'malloc', 'free', 'calloc', 'realloc', '_malloc_r', '_free_r', '_sbrk', '_sbrk_r',
                  '_Znwj', '_Znaj', '_Znwm', '_Znam'}
    for elf in elves:
        name = os.path.basename(elf)
        code, symbols = run(nm + [elf])
        found = sorted({line.split()[-1] for line in symbols.splitlines() if line.split() and line.split()[-1] in allocators})
        say(code == 0 and not found, f'{name} holds no allocator' + (f' (found {", ".join(found)})' if found else ''))
        code, headers = run(objdump + ['-h', elf])
        init_size = 0
        for line in headers.splitlines():
            words = line.split()
            if len(words) > 2 and words[1] == '.init_array':
                init_size = int(words[2], 16)
        say(code == 0 and init_size == 0, f'{name} has no static constructors (.init_array is {init_size} bytes)')


def main():
    mode = sys.argv[1]
    if mode == 'heap':
        workdir, srcdir, board_startup = sys.argv[2], sys.argv[3], sys.argv[4]
        _, compiler, cflags, lflags = split_dashes(sys.argv[5:])
        heap(workdir, srcdir, board_startup, compiler, cflags, lflags)
    elif mode == 'budget':
        workdir, srcdir = sys.argv[2], sys.argv[3]
        _, compiler, cflags = split_dashes(sys.argv[4:])
        budget(workdir, srcdir, compiler, cflags)
    elif mode == 'clean':
        elves, tools = split_dashes(sys.argv[2:])
        clean(elves, [tools[0]], [tools[1]])
    else:
        sys.exit(__doc__)
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
