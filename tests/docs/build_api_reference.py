#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the API reference (docs/Doxyfile) into OUT with warnings as errors, then the control: the
same with a scratch header that declares an undocumented public struct must fail, naming it (or
the first run proved nothing).

  build_api_reference.py SOURCE_DIR OUT_DIR        exit 0 pass, 1 fail, 77 doxygen missing"""
import pathlib
import shutil
import subprocess
import sys


def doxygen(source, out, extra=""):
    config = (source / "docs" / "Doxyfile").read_text() + f"\nOUTPUT_DIRECTORY = {out}\n" + extra
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["doxygen", "-"], input=config, cwd=source, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def main():
    source, out = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2]).resolve()
    if shutil.which("doxygen") is None:
        print("SKIP: doxygen is not installed (tools/deps.sh lists it)")
        return 77
    result = doxygen(source, out / "reference")
    print(result.stdout)
    if result.returncode != 0 or not (out / "reference" / "api" / "index.html").is_file():
        print("FAIL: the API reference does not build cleanly (every warning is an error)")
        return 1
    print(f"pass: {out / 'reference' / 'api' / 'index.html'}")
    probe = out / "control" / "undocumented_probe.hpp"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text("namespace ctattn {\nstruct undocumented_probe { int value; };\n}\n")
    control = doxygen(source, out / "control", f"INPUT += {probe}\n")
    if control.returncode == 0 or "undocumented_probe" not in control.stdout:
        print(control.stdout)
        print("FAIL (control): an undocumented public struct did not fail the build")
        return 1
    print("pass (control): an undocumented public struct fails the build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
