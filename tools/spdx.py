#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Puts an SPDX licence line at the top of every source file in the git checkout (after a `#!` line),
or, with --check, lists the files without one and exits 1. The one licence is LICENSE's, Apache-2.0.

    tools/spdx.py            # adds the missing lines
    tools/spdx.py --check    # the test (tests/packaging): every source file has one

Comment style per file type: `//` for C++, `/* */` for C and linker scripts, `#` for Python, shell,
meson, CMake, Kconfig, YAML and cross files. generated/<model>/ is written by tools/ctattn_gen.py, which
emits the line itself (so --check covers it, and adding skips it). Files whose bytes a program's
output is compared with (EXCLUDED) stay as that program writes them."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = 'SPDX-License-Identifier: Apache-2.0'
EXCLUDED = {
    'bench/embedded/stories260k_greedy_ids.hpp',  # host_greedy_ids.cpp's output, compared byte for byte
    'bench/embedded/stories260k_q8_greedy_ids.hpp',  # the same for the int8 model
    'bench/embedded/stories260k_q8_kvint8_greedy_ids.hpp',  # ... and for int8 weights and KV cache
}


def comment_style(path):
    name = os.path.basename(path)
    ext = os.path.splitext(name)[1]
    if ext in ('.hpp', '.cpp', '.cc'):
        return f'// {TAG}\n'
    if ext in ('.c', '.h', '.ld'):
        return f'/* {TAG} */\n'
    if ext in ('.py', '.sh', '.cmake', '.ini', '.yml', '.yaml') or name in (
            'meson.build', 'meson_options.txt', 'CMakeLists.txt', 'Kconfig', 'Makefile') or name.endswith('.cmake.in'):
        return f'# {TAG}\n'
    return None


def source_files():
    listed = subprocess.run(['git', '-C', ROOT, 'ls-files', '--cached', '--others', '--exclude-standard'],
                            check=True, capture_output=True, text=True).stdout.split('\n')
    for path in sorted(set(p for p in listed if p)):
        if path.startswith('.') or path in EXCLUDED or not os.path.isfile(os.path.join(ROOT, path)):
            continue
        line = comment_style(path)
        if line:
            yield path, line


def written_by_generator(path):
    return path.startswith('generated/') and path.count('/') >= 2  # generated/<model>/...


def has_tag(text):
    return TAG in ''.join(text.splitlines(True)[:3])


def main():
    check = '--check' in sys.argv[1:]
    missing = []
    for path, line in source_files():
        full = os.path.join(ROOT, path)
        with open(full, encoding='utf-8') as f:
            text = f.read()
        if has_tag(text):
            continue
        missing.append(path)
        if check or written_by_generator(path):
            continue
        if text.startswith('#!'):
            first, _, rest = text.partition('\n')
            text = first + '\n' + line + rest
        else:
            text = line + text
        with open(full, 'w', encoding='utf-8') as f:
            f.write(text)
    if check:
        for path in missing:
            print(f'spdx.py: no "{TAG}" in the first lines of {path}')
        print(f'spdx.py: {len(missing)} source files without an SPDX line')
        return 1 if missing else 0
    print(f'spdx.py: added the SPDX line to {len([p for p in missing if not written_by_generator(p)])} files')
    return 0


if __name__ == '__main__':
    sys.exit(main())
