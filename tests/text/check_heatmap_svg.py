#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs the SVG case writer (argv[1]) into a temporary folder and checks every SVG it lists:
well-formed XML (xml.etree parses it), one <g class="panel"> per head with the right title,
rows x cols cells of which exactly the ones the mask hides are class "masked" (counted here from
the mask kind, independently of the writer), one label per row and per column, labels escaped
and restored, and darker fills for larger weights within a panel."""
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def hidden(mask, q, k):
    if mask == "causal":
        return k > q
    if mask.startswith("window"):
        return k > q or q - k >= int(mask[6:])
    return False


def darkness(fill):
    r, g, b = (int(fill[i:i + 2], 16) for i in (1, 3, 5))
    return 765 - (r + g + b)


def check_example(argv):
    """--example EXE STEPS MASKS [ARGS...]: runs EXE TMP ARGS..., expects layer<L>_head<H>.svg and
    layer<L>.svg for every layer of MASKS (comma-separated: causal, window8, ...), each panel
    STEPS x STEPS with exactly the layer's masked cells hatched."""
    exe, steps, masks, args = argv[0], int(argv[1]), argv[2].split(","), argv[3:]
    failures = []
    with tempfile.TemporaryDirectory() as folder:
        print(subprocess.run([exe, folder] + args, check=True, capture_output=True, text=True).stdout)
        for layer, mask in enumerate(masks):
            grid = ET.parse(f"{folder}/layer{layer}.svg").getroot()
            heads = len([g for g in grid.iter(NS + "g") if g.get("class") == "panel"])
            if heads < 1:
                failures.append(f"layer{layer}.svg: no panels")
            files = [f"layer{layer}.svg"] + [f"layer{layer}_head{h}.svg" for h in range(heads)]
            expected_masked = sum(hidden(mask, i, j) for i in range(steps) for j in range(steps))
            for name in files:
                root = ET.parse(f"{folder}/{name}").getroot()
                for panel in (g for g in root.iter(NS + "g") if g.get("class") == "panel"):
                    rects = [r for r in panel.iter(NS + "rect") if r.get("class") in ("cell", "masked")]
                    masked = sum(r.get("class") == "masked" for r in rects)
                    if len(rects) != steps * steps or masked != expected_masked:
                        failures.append(f"{name}: {len(rects)} cells, {masked} masked; expected "
                                        f"{steps * steps}, {expected_masked}")
            print(f"layer {layer}: {heads} heads, {len(files)} files, {steps}x{steps} cells, {expected_masked} masked")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def main():
    if sys.argv[1] == "--example":
        return check_example(sys.argv[2:])
    failures = []
    with tempfile.TemporaryDirectory() as folder:
        listing = subprocess.run([sys.argv[1], folder], check=True, capture_output=True, text=True).stdout
        cases = [line.split() for line in listing.strip().splitlines()]
        if len(cases) != 6:
            failures.append(f"expected 6 cases, got {len(cases)}")
        for name, heads, rows, cols, pos0, mask, columns in cases:
            heads, rows, cols, pos0 = int(heads), int(rows), int(cols), int(pos0)
            root = ET.parse(f"{folder}/{name}").getroot()  # raises on malformed XML
            if root.tag != NS + "svg":
                failures.append(f"{name}: root is {root.tag}")
            panels = [g for g in root.iter(NS + "g") if g.get("class") == "panel"]
            if len(panels) != heads:
                failures.append(f"{name}: {len(panels)} panels, expected {heads}")
            expected_masked = sum(hidden(mask, pos0 + i, j) for i in range(rows) for j in range(cols))
            for h, panel in enumerate(panels):
                rects = [r for r in panel.iter(NS + "rect") if r.get("class") in ("cell", "masked")]
                cells = [r for r in rects if r.get("class") == "cell"]
                masked = [r for r in rects if r.get("class") == "masked"]
                if len(rects) != rows * cols:
                    failures.append(f"{name} panel {h}: {len(rects)} cells, expected {rows * cols}")
                if len(masked) != expected_masked:
                    failures.append(f"{name} panel {h}: {len(masked)} masked, expected {expected_masked}")
                title = "".join(t.text or "" for t in panel.iter(NS + "text") if t.get("class") == "panel-title")
                if title != f"layer 0 head {h}":
                    failures.append(f"{name} panel {h}: title {title!r}")
                keys = [t.text for t in panel.iter(NS + "text") if t.get("class") == "key-label"]
                queries = [t.text for t in panel.iter(NS + "text") if t.get("class") == "query-label"]
                if len(keys) != cols or len(queries) != rows:
                    failures.append(f"{name} panel {h}: {len(keys)} key and {len(queries)} query labels")
                if name.startswith("four_heads_words") and keys != ["the", "<cat>", "sat & 'ran'", "on", '"the"', "mat"]:
                    failures.append(f"{name}: labels {keys}")
                if name.startswith("byte_labels") and keys != ["\ufffd\ufffd", "\ufffd", "caf\u00e9",
                                                               "\ufffd\ufffd\ufffd", "\ufffd\ufffd", "\U0001F600"]:
                    failures.append(f"{name}: labels {keys}")
                if name.startswith("decode_slice") and (queries[0] != "#0" or keys[1] != "#403"):
                    failures.append(f"{name}: id labels {queries[0]}, {keys[1]}")
                # Darker = more attention: sorting shown cells by weight sorts them by darkness.
                pairs = sorted((float(c.find(NS + "title").text.rsplit(": ", 1)[1]), darkness(c.get("fill"))) for c in cells)
                for (w0, d0), (w1, d1) in zip(pairs, pairs[1:]):
                    if w1 > w0 + 1e-3 and d1 < d0:
                        failures.append(f"{name} panel {h}: weight {w1} lighter than {w0}")
                        break
                # Rows of weights sum to 1 over the shown cells (4-decimal titles: 13 x 5e-5).
                for i in range(rows):
                    row = [r for r in rects[i * cols:(i + 1) * cols] if r.get("class") == "cell"]
                    total = sum(float(c.find(NS + "title").text.rsplit(": ", 1)[1]) for c in row)
                    if row and abs(total - 1.0) > 1e-3:
                        failures.append(f"{name} panel {h} row {i}: weights sum to {total}")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(cases)} SVG files checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
