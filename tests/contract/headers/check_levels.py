#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The include-level rule, enforced: a header under include/ctattn includes only headers of its
own level or a lower one. The table below is the one place the levels are written down
(docs/design.md shows it); a folder not in it fails the check, so a new folder must be placed.

Usage: check_levels.py INCLUDE_DIR   (exit 1 and one line per upward or unknown include)
       check_levels.py --self-test   (the check catches an upward include in a scratch tree)
       check_levels.py --doc docs/design.md   (the design page shows this table, in this order)"""
import pathlib
import re
import sys

# Lowest first. A folder may include its own level and every level before it.
LEVELS = [
    ("base", "language check, status, storage and weight views, attention configuration, mask policies, token ids, PRNG"),
    ("simd", "target detection, ops<Arch>, the exp family, one file per ISA family"),
    ("kernels", "row kernels (projection, scores, softmax, aggregate, norm rows, activations)"),
    ("kernels/decode", "one-token attention kernels over the KV cache"),
    ("layers", "attention core selector, attention, norm policies, ffn, position, block, trace, layer footprint"),
    ("model", "model configuration, language model, decoder (KV cache), weights image, footprint"),
    ("io", "checked sizes, little-endian reader, CRC-32, llama2.c loader, blob"),
    ("text", "tokenizer, sampling, generation loop, heatmaps"),
    ("train", "backward passes, parameters, optimisers"),
    ("", "the umbrellas: ctattn.hpp (attention), language_model.hpp, training.hpp"),
]
RANK = {name: i for i, (name, _) in enumerate(LEVELS)}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)


def level_of(relative: pathlib.PurePosixPath) -> str:
    folder = relative.parent.as_posix()
    return "" if folder == "." else folder


def violations(root: pathlib.Path):
    for header in sorted(root.rglob("*.hpp")):
        rel = pathlib.PurePosixPath(header.relative_to(root).as_posix())
        own = level_of(rel)
        if own not in RANK:
            yield f"{rel}: folder '{own}' has no level (add it to LEVELS in {pathlib.Path(__file__).name})"
            continue
        for target in INCLUDE.findall(header.read_text()):
            resolved = (header.parent / target).resolve()
            try:
                target_rel = pathlib.PurePosixPath(resolved.relative_to(root.resolve()).as_posix())
            except ValueError:
                yield f"{rel}: includes {target}, outside include/ctattn"
                continue
            other = level_of(target_rel)
            if other not in RANK:
                yield f"{rel}: includes {target_rel}, in folder '{other}' that has no level"
            elif RANK[other] > RANK[own]:
                yield f"{rel} (level {own or 'umbrella'}) includes {target_rel} (level {other}), a higher level"


def self_test() -> int:
    """The check must catch what it is for: an upward include, an unplaced folder, and pass a
    downward one. Built in a temporary tree so the test cannot pass by finding nothing."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp) / "ctattn"
        for folder in ("base", "kernels", "model", "gadgets"):
            (root / folder).mkdir(parents=True)
        (root / "base" / "status.hpp").write_text("#pragma once\n")
        (root / "kernels" / "row.hpp").write_text('#include "../base/status.hpp"\n')
        (root / "model" / "m.hpp").write_text('#include "../kernels/row.hpp"\n')
        if list(violations(root)):
            print("self-test: a downward-only tree was flagged")
            return 1
        (root / "base" / "storage.hpp").write_text('#include "../model/m.hpp"\n')
        (root / "gadgets" / "g.hpp").write_text("#pragma once\n")
        found = list(violations(root))
        if len(found) != 2 or "higher level" not in " ".join(found) or "no level" not in " ".join(found):
            print("self-test: expected one upward include and one unplaced folder, got", found)
            return 1
    print("self-test: upward include and unplaced folder detected")
    return 0


def doc_matches(design_md: pathlib.Path) -> int:
    """docs/design.md shows the table: its level rows must name these folders in this order."""
    rows = re.findall(r"^\| (\d+) \| `([^`]+)` \|", design_md.read_text(), re.M)
    shown = [folder.rstrip("/") for _, folder in rows]
    wanted = [name if name else "ctattn/*.hpp" for name, _ in LEVELS]
    if shown != wanted:
        print(f"{design_md}: its level table lists {shown}, check_levels.py has {wanted}")
        return 1
    print(f"{design_md}: the level table matches ({len(wanted)} levels)")
    return 0


def main() -> int:
    if sys.argv[1] == "--self-test":
        return self_test()
    if sys.argv[1] == "--doc":
        return doc_matches(pathlib.Path(sys.argv[2]))
    root = pathlib.Path(sys.argv[1]) / "ctattn"
    found = list(violations(root))
    for line in found:
        print(line)
    print(f"{len(found)} upward includes" if found else "every include goes to the same or a lower level")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
