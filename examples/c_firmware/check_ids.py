#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs a C example build (host program, or firmware under qemu-system-arm) and compares the ids
it prints on its "ids:" line with the ones recorded on the host in EXPECTED.

    check_ids.py EXPECTED -- COMMAND [ARG ...]
"""
import subprocess
import sys


def main():
    if len(sys.argv) < 4 or sys.argv[2] != '--':
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        expected = ' '.join(line for line in f if not line.startswith('#')).split()
    result = subprocess.run(sys.argv[3:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    print(result.stdout)
    lines = [line for line in result.stdout.splitlines() if line.startswith('ids:')]
    if result.returncode != 0 or len(lines) != 1:
        print(f'check_ids.py: exit status {result.returncode}, {len(lines)} "ids:" lines')
        return 1
    got = lines[0].split()[1:]
    if got != expected:
        first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        print(f'check_ids.py: {len(got)} ids, {len(expected)} expected; first difference at step {first}')
        return 1
    print(f'check_ids.py: all {len(got)} ids equal the host\'s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
