#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the C++ compiler on a source that must NOT compile and passes only if compilation fails
and the expected static_assert message appears in the compiler's output.

usage: expect_compile_error.py MESSAGE SOURCE -- COMPILER [ARGS...]
       expect_compile_error.py --first-error MESSAGE SOURCE -- COMPILER [ARGS...]
       expect_compile_error.py --expect-success SOURCE -- COMPILER [ARGS...]   (control case)
--first-error: MESSAGE must be in the first error, and compilation must stop there (at most one
fatal error after it, the one that ends compilation).
Exit status: 0 pass, 1 fail (the output says why)."""
import subprocess
import sys


def main(argv):
    if "--" not in argv:
        print(__doc__)
        return 2
    split = argv.index("--")
    mine, compiler = argv[1:split], argv[split + 1:]
    first_error_only = bool(mine) and mine[0] == "--first-error"
    if first_error_only:
        mine = mine[1:]
    if len(mine) != 2 or not compiler:
        print(__doc__)
        return 2
    expected, source = mine
    command = compiler + [source]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = result.stdout
    print("$ " + " ".join(command))
    print(output)
    if expected == "--expect-success":
        if result.returncode == 0:
            print("PASS: the control source compiles, so the command line is right")
            return 0
        print("FAIL: the control source does not compile (exit %d)" % result.returncode)
        return 1
    if result.returncode == 0:
        print("FAIL: compilation succeeded, but the configuration must be rejected")
        return 1
    if expected not in output:
        print("FAIL: compilation failed, but without the message: %r" % expected)
        return 1
    if first_error_only:
        errors = [line for line in output.splitlines() if "error:" in line]
        if expected not in errors[0]:
            print("FAIL: the first error is not %r: %s" % (expected, errors[0]))
            return 1
        if len(errors) > 2 or (len(errors) == 2 and "fatal error:" not in errors[1]):
            print("FAIL: compilation went on after the first error (%d errors)" % len(errors))
            return 1
        print("PASS: the first error is %r and compilation stopped there" % expected)
        return 0
    print("PASS: rejected with %r" % expected)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
