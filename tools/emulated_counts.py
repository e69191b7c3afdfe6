#!/usr/bin/env python3
"""Instructions per decode token on an emulated Cortex-M core, exactly, for ctattn and the plain
llama2.c-style loops (bench/embedded/decode_count_fw.cpp).

Each image bench_decode_<impl>_<steps>.elf decodes <steps> stories260K tokens; QEMU runs it with
tools/qemu_insn_count.c loaded, which prints the guest instructions executed. Two step counts per
implementation: (count(hi) - count(lo)) / (hi - lo) is the cost of one decode step, averaged over
positions lo..hi-1, with loading, start-up and printing cancelled out.

  emulated_counts.py --qemu qemu-system-arm --machine mps2-an386 --plugin qemu_insn_count.so IMAGE...
  emulated_counts.py --build build-m4        (the arguments meson wrote to emulated_counts.json)
Options: --check fails (exit 1) unless every count is present and both implementations generate
the same tokens; --json prints the figures as one JSON object instead of a table.
"""
import argparse
import json
import os
import re
import subprocess
import sys


def run_image(qemu, machine, plugin, image):
    cmd = [qemu, "-M", machine, "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-plugin", plugin, "-d", "plugin", "-kernel", image]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    count = re.search(r"ctattn-insns: (\d+)", text)
    tokens = re.search(r"tokens:([ \d]*)", text)
    return {"exit": proc.returncode, "insns": int(count.group(1)) if count else None,
            "tokens": tokens.group(1).split() if tokens else None}


def measure(qemu, machine, plugin, images):
    runs = {}
    for image in images:
        m = re.match(r"bench_decode_(\w+?)_(\d+)\.elf$", os.path.basename(image))
        if not m:
            continue
        runs[(m.group(1), int(m.group(2)))] = run_image(qemu, machine, plugin, image)
    result = {"machine": machine, "impls": {}}
    for impl in sorted({k[0] for k in runs}):
        steps = sorted(s for i, s in runs if i == impl)
        lo, hi = steps[0], steps[-1]
        a, b = runs[(impl, lo)], runs[(impl, hi)]
        per_token = (b["insns"] - a["insns"]) / (hi - lo) if a["insns"] and b["insns"] and hi > lo else None
        result["impls"][impl] = {"steps": [lo, hi], "insns": [a["insns"], b["insns"]], "per_token": per_token,
                                 "tokens": b["tokens"], "exit": [a["exit"], b["exit"]]}
    return result


def problems(result):
    found = []
    impls = result["impls"]
    for impl, r in impls.items():
        if r["per_token"] is None:
            found.append("%s: no instruction count (plugin not loaded, or the image failed)" % impl)
        if any(e != 0 for e in r["exit"]):
            found.append("%s: an image exited with %s" % (impl, r["exit"]))
    toks = [r["tokens"] for r in impls.values()]
    if len(toks) < 2 or any(t is None for t in toks) or any(t != toks[0] for t in toks):
        found.append("the implementations generated different tokens: %s" % {i: r["tokens"] for i, r in impls.items()})
    return found


def table(results):
    lines = ["| core (QEMU board) | implementation | instructions per token | plain / this |",
             "| --- | --- | --- | --- |"]
    for r in results:
        plain = r["impls"].get("plain", {}).get("per_token")
        for impl, v in r["impls"].items():
            pt = v["per_token"]
            lines.append("| %s | %s | %s | %s |" % (
                r["machine"], impl, "-" if pt is None else "{:,.0f}".format(pt),
                "%.2fx" % (plain / pt) if plain and pt else "-"))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", default=[], help="firmware build folder (repeatable)")
    ap.add_argument("--qemu")
    ap.add_argument("--machine")
    ap.add_argument("--plugin")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("images", nargs="*")
    args = ap.parse_args()

    jobs = []
    if args.images:
        jobs.append((args.qemu, args.machine, args.plugin, args.images))
    for build in args.build:
        conf = json.load(open(os.path.join(build, "tests", "embedded", "emulated_counts.json")))
        jobs.append((conf["qemu"], conf["machine"], conf["plugin"], conf["images"]))
    results = [measure(*job) for job in jobs]
    failed = [p for r in results for p in problems(r)]
    if args.json:
        print(json.dumps(results))
    else:
        print("\n".join(table(results)))
    for p in failed:
        print("emulated_counts: " + p, file=sys.stderr)
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
