#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compiles programs that instantiate the public headers under a firmware team's warning set and
fails on any warning (docs/integration.md, "Strict warnings", says why -Wfloat-equal is not in it):

  check_strict_warnings.py INCLUDE_DIR EXAMPLES_DIR SOURCE... -- COMPILER [ARGS...]

1. Every SOURCE with the headers as -I (the way ctattn's own builds see them) and
   -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wdouble-promotion -Wcast-align -Werror.
2. The -isystem route for teams that require -Wfloat-equal: the first SOURCE with the headers as
   -isystem and -Wfloat-equal added must report no warning located in ctattn's headers.
3. The control: the same with -I must report -Wfloat-equal in ctattn's headers (ctattn compares
   floats exactly on purpose), or the flags were not applied and steps 1-2 prove nothing.
Templates are instantiated by the front end, so -fsyntax-only sees every warning these flags give."""
import subprocess
import sys

STRICT = ["-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion", "-Wdouble-promotion", "-Wcast-align"]


def compile_unit(compiler, include_flag, include_dir, examples_dir, extra, source):
    command = compiler + ["-std=c++20", "-fsyntax-only", include_flag, include_dir, "-I", examples_dir] + extra + [source]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return command, result


def warnings_in(output, include_dir):
    """Warning lines located in ctattn's headers (the path may come with ../ segments)."""
    return [line for line in output.splitlines() if "warning:" in line and "/ctattn/" in line.split("warning:")[0]
            and "examples/" not in line.split(":")[0]]


def main(argv):
    split = argv.index("--")
    include_dir, examples_dir, sources = argv[1], argv[2], argv[3:split]
    compiler = argv[split + 1:]
    failed = False
    for source in sources:
        command, result = compile_unit(compiler, "-I", include_dir, examples_dir, STRICT + ["-Werror"], source)
        if result.returncode != 0:
            print("$ " + " ".join(command))
            print(result.stdout)
            print(f"FAIL: {source} under the strict set")
            failed = True
        else:
            print(f"pass: {source} compiles clean under {' '.join(STRICT)} -Werror")
    unit = sources[0]
    command, result = compile_unit(compiler, "-isystem", include_dir, examples_dir, STRICT + ["-Wfloat-equal"], unit)
    found = warnings_in(result.stdout, include_dir)
    if result.returncode != 0 or found:
        print("$ " + " ".join(command))
        print("\n".join(found) or result.stdout)
        print(f"FAIL: with -isystem and -Wfloat-equal, {unit} reports warnings in ctattn's headers")
        failed = True
    else:
        print(f"pass: with -isystem, -Wfloat-equal reports nothing in ctattn's headers for {unit}")
    command, result = compile_unit(compiler, "-I", include_dir, examples_dir, ["-Wfloat-equal"], unit)
    if not any("-Wfloat-equal" in line for line in warnings_in(result.stdout, include_dir)):
        print("$ " + " ".join(command))
        print(result.stdout)
        print("FAIL (control): -Wfloat-equal with -I reports nothing in ctattn's headers; were the flags applied?")
        failed = True
    else:
        print("pass (control): with -I, -Wfloat-equal fires in ctattn's headers as docs/integration.md says")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
