#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every target a test depends on is part of the default build, so `meson compile` followed by
`meson test --no-rebuild` (what tools/run_tests.sh does) finds everything the tests read.

usage: check_default_build.py BUILD_DIR
Reads `meson introspect --targets --tests` of BUILD_DIR; exit status 1 names each test whose
dependency is built only on demand."""
import json
import subprocess
import sys


def main(build_dir):
    info = json.loads(subprocess.run(["meson", "introspect", build_dir, "--targets", "--tests"],
                                     check=True, capture_output=True, text=True).stdout)
    targets = {target["id"]: target for target in info["targets"]}
    missing = []
    for test in info["tests"]:
        for target_id in test.get("depends", []):
            target = targets.get(target_id)
            if target is not None and not target.get("build_by_default", True):
                missing.append(f"{test['name']}: {target['name']} is not built by default")
    for line in missing:
        print("FAIL: " + line)
    print(f"{len(info['tests'])} tests, {len(missing)} needing a target outside the default build")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
