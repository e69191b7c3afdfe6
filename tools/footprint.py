#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Regenerate docs/footprint.md: for every firmware configuration (tests/embedded) on every
Cortex-M target, the sections arm-none-eabi-size reports next to ctattn's compile-time bounds
(include/ctattn/model/footprint.hpp), and the stack high-water mark the firmware measures by painting
its stack (tests/embedded/stack.hpp) while it runs under qemu-system-arm.

    tools/footprint.py [BUILD_DIR ...] [--output docs/footprint.md]

BUILD_DIRs default to build-m3 build-m4 build-m7 build-m55 (set up and compiled by
tools/run_tests.sh); each must be a bare-metal cross build (cross/cortex-*.ini). The script runs
every firmware once, and exits 1 if one fails or if a bound is below what the image holds.
"""
import argparse
import ast
import configparser
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BUILDS = ['build-m3', 'build-m4', 'build-m7', 'build-m55']

# Objects the firmware names so their sizes can be read here. Library objects are what a device
# needs; test objects (attention readout, kernel-check buffers, the full-forward check) are not.
# stories260K's weights are the generated constant array (ctattn_stories260k_weights, flash) and
# the view that points into it (stories_weights, flash too).
WEIGHT_SYMBOLS = {'layer_weights', 'model_weights_rom', 'stories_weights', 'ctattn_stories260k_weights',
                  '(anonymous namespace)::builtin_weights'}
LIBRARY_RAM_SYMBOLS = {'layer_workspace', 'layer_output', 'model_state', 'model_logits', 'stories_state',
                       'stories_logits', 'example_state', 'example_logits'}
TEST_RAM_SYMBOLS = {'layer_readout', 'kernel_check_q_rows', 'kernel_check_k_rows', 'model_forward_workspace',
                    'model_forward_logits'}


def read_cross_files(build):
    parser = configparser.ConfigParser()
    parser.read(os.path.join(build, 'meson-private', 'cmd_line.txt'))
    return ast.literal_eval(parser.get('properties', 'cross_file', fallback='[]'))


def describe_target(cross_files):
    core, machine, fpu = '?', '?', 'soft float'
    for path in cross_files:
        with open(path) as f:
            text = f.read()
        m = re.search(r"-mcpu=([\w.+-]+)", text)
        if m:
            core = m.group(1)
        m = re.search(r"qemu_machine\s*=\s*'([^']+)'", text)
        if m:
            machine = m.group(1)
        m = re.search(r"-mfpu=([\w.+-]+)", text)
        if m:
            fpu = m.group(1)
        elif '-mfloat-abi=hard' in text:
            fpu = 'FPU + MVE' if 'cortex-m55' in text else 'hard float'
    return core, machine, fpu


def optimization(build):
    with open(os.path.join(build, 'meson-info', 'intro-buildoptions.json')) as f:
        for option in json.load(f):
            if option['name'] == 'optimization':
                return '-O' + str(option['value'])
    return '?'


def run(cmd, timeout=None):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return result.returncode, result.stdout


def section_sizes(elf):
    _, text = run(['arm-none-eabi-size', '-A', elf])
    sizes = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].startswith('.') and words[1].isdigit():
            sizes[words[0]] = int(words[1])
    return sizes


def symbol_sizes(elf):
    # Demangled (-C): objects with internal linkage (`static const` arrays) are mangled otherwise.
    _, text = run(['arm-none-eabi-nm', '-S', '-C', elf])
    sizes = {}
    for line in text.splitlines():
        words = line.split(maxsplit=3)
        if len(words) == 4 and words[2] in 'bBdDrR':
            sizes[words[3]] = int(words[1], 16)
    return sizes


def run_firmware(machine, elf):
    cmd = ['qemu-system-arm', '-M', machine, '-nographic', '-monitor', 'none', '-serial', 'none',
           '-semihosting-config', 'enable=on,target=native', '-kernel', elf]
    code, text = run(cmd, timeout=300)
    found = {'exit': code}
    m = re.search(r'footprint flash_bound_bytes (\d+) ram_bound_bytes (\d+) readout_bytes (\d+)', text)
    if m:
        found['flash_bound'], found['ram_bound'] = int(m.group(1)), int(m.group(2))
    m = re.search(r'stack_high_water_bytes (\d+) of (\d+)', text)
    if m:
        found['stack'], found['stack_size'] = int(m.group(1)), int(m.group(2))
    m = re.search(r'^(PASS|FAIL) .*$', text, re.M)
    found['verdict'] = m.group(0) if m else 'no verdict (crashed?)'
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('builds', nargs='*', default=DEFAULT_BUILDS)
    parser.add_argument('--output', default=os.path.join(ROOT, 'docs', 'footprint.md'))
    args = parser.parse_args()

    problems = []
    sections = []
    for build in args.builds:
        build_path = build if os.path.isabs(build) else os.path.join(ROOT, build)
        elves = sorted(glob.glob(os.path.join(build_path, 'tests', 'embedded', 'fw_*.elf')))
        if not elves:
            problems.append(f'{build}: no firmware images (run tools/run_tests.sh or meson compile first)')
            continue
        core, machine, fpu = describe_target(read_cross_files(build_path))
        rows = []
        for elf in elves:
            name = os.path.basename(elf)[len('fw_'):-len('.elf')]
            sec = section_sizes(elf)
            sym = symbol_sizes(elf)
            fw = run_firmware(machine, elf)
            if fw['exit'] != 0 or 'flash_bound' not in fw:
                problems.append(f'{build}/{name}: firmware failed ({fw["verdict"]})')
                continue
            weights = sum(size for s, size in sym.items() if s in WEIGHT_SYMBOLS)
            library_ram = sum(size for s, size in sym.items() if s in LIBRARY_RAM_SYMBOLS)
            test_ram = sum(size for s, size in sym.items() if s in TEST_RAM_SYMBOLS)
            if weights > fw['flash_bound']:
                problems.append(f'{build}/{name}: weights {weights} B exceed the flash bound {fw["flash_bound"]} B')
            if library_ram > fw['ram_bound']:
                problems.append(f'{build}/{name}: library RAM {library_ram} B exceeds the RAM bound {fw["ram_bound"]} B')
            rows.append((name, sec.get('.vectors', 0) + sec.get('.text', 0), sec.get('.rodata', 0),
                         sec.get('.data', 0), sec.get('.bss', 0), fw['stack'], fw['stack_size'],
                         fw['flash_bound'], weights, fw['ram_bound'], library_ram, test_ram))
        sections.append((build, core, machine, fpu, optimization(build_path), rows))

    lines = [
        '<!-- Generated by tools/footprint.py from ' + ', '.join(args.builds) + '. Do not edit. -->',
        '# Memory footprint on Cortex-M',
        '',
        'Every firmware image in `tests/embedded` runs one configuration under `qemu-system-arm`',
        '(a multi-head attention layer checked against a PyTorch case, or a small llama-style model',
        'prefilling a prompt and decoding through its KV cache). For each image and target:',
        '',
        '- **.text .rodata .data .bss**: bytes per section from `arm-none-eabi-size -A` (.text includes',
        '  the 64-byte vector table; .rodata also holds the test\'s reference inputs and outputs).',
        '- **stack**: the high-water mark measured by the firmware itself: startup code paints the stack',
        '  with a pattern, and the deepest overwritten word after all checks gives the bytes used',
        '  (out of the 32 KiB the linker script reserves; an upper bound, as it includes the start-up',
        '  code\'s own frame and a 64-byte unpainted margin).',
        '- **flash bound**: `ctattn::footprint<Config>::flash_bytes` (the weights), computed at compile',
        '  time; **weights** is the size of the weights in the image (`nm -S`), all in .rodata. A model\'s',
        '  bound covers both ways of holding constant weights, one constexpr `model_weights` object (the',
        '  llama case: 24 bytes under the bound) or an image plus the `model_weights_view` into it',
        '  (stories260k, c_example: equal to the bound).',
        '- **RAM bound**: `footprint<Config>::ram_bytes`: activations + K/V + scratch. For a layer the',
        '  activations are its input and output rows; the firmware keeps the input in .rodata, so its',
        '  RAM (**library RAM**: workspace + output) is the bound minus one `seq x d_model` matrix. For',
        '  a model the bound covers the decoder (KV cache + one row of scratch), one logits row and a',
        '  context of token ids. **test RAM** is .bss used only by the checks (the attention readout, the',
        '  projection-kernel check\'s rows, the model\'s full-sequence forward), which a device would not',
        '  carry. The 1 KiB or so of .data is newlib\'s reentrancy structure (errno for `expf`).',
        '- **stories260k** is the real llama2.c checkpoint with its weights in flash: `tools/ctattn_gen.py`',
        '  writes it at build time as one `const` array in the kernels\' layout (.rodata), a constexpr',
        '  `model_weights_view` points into it, and .bss is the decoder alone: a KV cache of 512 positions on',
        '  the MPS2 boards (655,360 bytes) and 368 on mps3-an547, whose 512 KiB DTCM holds no more',
        '  (docs/firmware.md). **c_example** is the same model through the generated C API',
        '  (`examples/c_firmware/main.c`, C11): .bss is the C state and a row of logits.',
        '',
        'Build: `meson setup build-mN --cross-file cross/cortex-mN.ini --cross-file cross/arm-none-eabi.ini`',
        '(scalar path, `-fno-exceptions -fno-rtti`, newlib\'s libm, no heap); regenerate with',
        '`tools/footprint.py` after `tools/run_tests.sh`.',
    ]
    for build, core, machine, fpu, opt, rows in sections:
        lines += ['', f'## {core} ({fpu}, {opt}) on QEMU `{machine}` ({build})', '',
                  '| configuration | .text | .rodata | .data | .bss | stack | flash bound | weights | RAM bound '
                  '| library RAM | test RAM |',
                  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
        for (name, text, rodata, data, bss, stack, stack_size, flash_bound, weights, ram_bound, library_ram,
             test_ram) in rows:
            lines.append(f'| {name} | {text} | {rodata} | {data} | {bss} | {stack} | {flash_bound} | {weights} '
                         f'| {ram_bound} | {library_ram} | {test_ram} |')
    lines.append('')
    if problems:
        for p in problems:
            print('footprint.py: ' + p, file=sys.stderr)
        sys.exit(1)
    with open(args.output, 'w') as f:
        f.write('\n'.join(lines))
    print(f'footprint.py: wrote {os.path.relpath(args.output, ROOT)} ({sum(len(s[5]) for s in sections)} rows)')


if __name__ == '__main__':
    main()
