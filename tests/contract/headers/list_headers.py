#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Prints every public header under INCLUDE_DIR/ctattn, one per line, relative to INCLUDE_DIR
(e.g. ctattn/base/mask.hpp), sorted. Meson runs this at configure time to give each header its
own translation unit."""
import pathlib
import sys

root = pathlib.Path(sys.argv[1])
for header in sorted((root / "ctattn").rglob("*.hpp")):
    print(header.relative_to(root).as_posix())
