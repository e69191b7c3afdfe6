#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Instructions per decode token on an emulated Cortex-M core, exactly, for ctattn and the plain
llama2.c-style loops (bench/embedded/decode_count_fw.cpp), position by position.

Each image bench_decode_<impl>_<steps>.elf decodes <steps> stories260K tokens greedily from BOS
with a 512-position KV cache and calls ctattn_count_mark() before every step and after the last;
QEMU runs it with tools/qemu_insn_count.c loaded, which records the running instruction count at
every mark. Step i (position i) costs mark[i+1] - mark[i], exactly; the table gives the mean over
all positions ((count(512) - count(0)) / 512 for the full-context images) and over the slices
0-31, 224-255 and 480-511. The images also print how many of their ids equal the host's
(bench/embedded/stories260k_greedy_ids.hpp). ctattn's image comes in three KV storage types
(base/kv_storage.hpp): bench_decode_ctattn_512 (float32), bench_decode_ctattn-kvfloat16_512 and
bench_decode_ctattn-kvint8_512 (CTATTN_DECODE_KV; rows "ctattn-kvfloat16", "ctattn-kvint8", whose ids
are their own and not checked against the host's float32 ones).

  emulated_counts.py --setup m4f,m7,m55 --opt 2,s [--doc docs/performance.md]
        meson folders build-counts/<core>-O<opt> (cross/cortex-<core>.ini, -Doptimization=<opt>),
        the full-context images compiled in each, every image run, one table
  emulated_counts.py --build build-m7 [--build ...]    the same for existing firmware folders
  emulated_counts.py --qemu qemu-system-arm --machine mps2-an500 --plugin qemu_insn_count.so IMAGE...
  emulated_counts.py --host-ids                       rebuild the host's ids (SIMD and scalar), compare
Options: --check fails (exit 1) unless every count is present, every image exits 0 and every
implementation's ids equal the host's; --json prints the results as JSON; --profile prints, per
image, the instructions spent in each function (the plugin's profile=on); --doc FILE rewrites
the section between the emulated-counts markers in FILE with the table.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORES = {"m3": ("cortex-m3.ini", "Cortex-M3, soft float"), "m4f": ("cortex-m4f.ini", "Cortex-M4F"),
         "m7": ("cortex-m7.ini", "Cortex-M7"), "m55": ("cortex-m55.ini", "Cortex-M55")}
MACHINES = {"mps2-an385": "Cortex-M3, soft float", "mps2-an386": "Cortex-M4F", "mps2-an500": "Cortex-M7",
            "mps3-an547": "Cortex-M55"}
SLICES = [(0, 32), (224, 256), (480, 512)]
DOC_BEGIN = "<!-- emulated-counts: begin (tools/emulated_counts.py --doc) -->"
DOC_END = "<!-- emulated-counts: end -->"


def run_image(qemu, machine, plugin, image, profile=False):
    cmd = [qemu, "-M", machine, "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-plugin", plugin + (",profile=on" if profile else ""),
           "-d", "plugin", "-kernel", image]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    text = proc.stdout + proc.stderr
    count = re.search(r"ctattn-insns: (\d+)", text)
    marks = re.search(r"ctattn-marks:([ \d]*)", text)
    tokens = re.search(r"tokens:([ \d]*)", text)
    host = re.search(r"host ids: (\d+) of (\d+) equal", text)
    return {"exit": proc.returncode, "insns": int(count.group(1)) if count else None,
            "marks": [int(m) for m in marks.group(1).split()] if marks else [],
            "tokens": tokens.group(1).split() if tokens else None,
            "host_equal": [int(host.group(1)), int(host.group(2))] if host else None,
            "profile": [(int(n), s) for n, s in re.findall(r"ctattn-profile: (\d+) (\S+)", text)]}


def summarise(run):
    marks = run["marks"]
    steps = [b - a for a, b in zip(marks, marks[1:])]
    out = {"steps": len(steps), "per_token": sum(steps) / len(steps) if steps else None, "slices": {},
           "per_step": steps, "tokens": run["tokens"], "host_equal": run["host_equal"], "exit": run["exit"],
           "insns": run["insns"], "profile": run["profile"]}
    for lo, hi in SLICES:
        if hi <= len(steps):
            out["slices"]["%d-%d" % (lo, hi - 1)] = sum(steps[lo:hi]) / (hi - lo)
    return out


def measure(qemu, machine, plugin, images, optimization="?", jobs=1, profile=False):
    named = []
    for image in images:
        m = re.match(r"bench_decode_([a-z]+(?:-kv[a-z0-9]+)?)_(\d+)(_O\w+)?\.elf$", os.path.basename(image))
        if m:
            named.append((m.group(1), image))
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = list(pool.map(lambda job: run_image(qemu, machine, plugin, job[1], profile), named))
    return {"machine": machine, "core": MACHINES.get(machine, "?"), "optimization": optimization,
            "impls": {impl: summarise(run) for (impl, _), run in zip(named, runs)}}


def problems(result):
    found = []
    where = "%s -O%s" % (result["machine"], result["optimization"])
    for impl, r in result["impls"].items():
        if r["per_token"] is None:
            found.append("%s %s: no instruction counts (plugin not loaded, or the image failed)" % (where, impl))
        if r["exit"] != 0:
            found.append("%s %s: the image exited with %s" % (where, impl, r["exit"]))
        # A float16 or int8 KV cache (ctattn-kv<type>) decodes its own ids: only float32's must match.
        if "-kv" not in impl and (r["host_equal"] is None or r["host_equal"][0] != r["host_equal"][1]):
            found.append("%s %s: ids differ from the host's (%s equal)" % (where, impl, r["host_equal"]))
    toks = [r["tokens"] for impl, r in result["impls"].items() if "-kv" not in impl]
    if len(toks) < 2 or any(t is None for t in toks) or any(t != toks[0] for t in toks):
        found.append("%s: the implementations generated different ids" % where)
    return found


def fmt_m(x):
    return "-" if x is None else ("%.3f M" % (x / 1e6))


def table(results):
    slice_names = ["%d-%d" % (lo, hi - 1) for lo, hi in SLICES]
    lines = ["| core | flags | implementation | mean over positions | "
             + " | ".join("positions " + s for s in slice_names)
             + " | plain / ctattn (mean) | ids equal the host's |",
             "|" + " --- |" * (6 + len(slice_names))]
    for r in results:
        plain = r["impls"].get("plain", {}).get("per_token")
        for impl in sorted(r["impls"], key=lambda i: (i != "ctattn", i == "plain", i)):
            v = r["impls"][impl]
            ratio = "%.2fx" % (plain / v["per_token"]) if impl != "plain" and plain and v["per_token"] else "-"
            mean = fmt_m(v["per_token"]) + (" (%d)" % v["steps"] if v["steps"] != 512 else "")
            host = "%d of %d" % tuple(v["host_equal"]) if v["host_equal"] else "-"
            lines.append("| %s | -O%s | %s | %s | %s | %s | %s |" % (
                r["core"], r["optimization"], impl, mean,
                " | ".join(fmt_m(v["slices"].get(s)) for s in slice_names), ratio, host))
    return lines


def setup_folder(core, opt):
    cross, _ = CORES[core]
    root = os.path.join(ROOT, "build-counts")
    folder = os.path.join(root, "%s-O%s" % (core, opt))
    # The level as a third machine file, layered last: meson re-reads machine files when it
    # regenerates a folder, and then arm-none-eabi.ini's optimization = 's' would win over a -D.
    os.makedirs(root, exist_ok=True)
    level_file = os.path.join(root, "optimization-%s.ini" % opt)
    with open(level_file, "w") as f:
        f.write("[built-in options]\noptimization = '%s'\n" % opt)
    if not os.path.exists(os.path.join(folder, "build.ninja")):
        subprocess.run(["meson", "setup", folder, "--cross-file", os.path.join(ROOT, "cross", cross),
                        "--cross-file", os.path.join(ROOT, "cross", "arm-none-eabi.ini"), "--cross-file", level_file],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return folder, opt


def load_build(folder, compile_images, jobs):
    path = os.path.join(folder, "tests", "embedded", "emulated_counts.json")
    if not os.path.exists(path):
        sys.exit("emulated_counts: %s has no emulated_counts.json (an MPS2 firmware folder with the model?)" % folder)
    conf = json.load(open(path))
    if compile_images:
        subprocess.run(["meson", "compile", "-C", folder, "-j", str(jobs)] + conf["targets"], check=True,
                       stdout=subprocess.DEVNULL)
        conf = json.load(open(path))  # as the compile may have regenerated the folder
    return conf


def host_ids(shared_dir):
    """Builds the host reference twice (SIMD -march=native, scalar) and compares with the header."""
    model = os.path.join(shared_dir, "models", "stories260K.bin")
    header = os.path.join(ROOT, "bench", "embedded", "stories260k_greedy_ids.hpp")
    source = os.path.join(ROOT, "bench", "embedded", "host_greedy_ids.cpp")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "ids")
        subprocess.run(["g++", "-std=c++20", "-O2", "-march=native", "-I" + os.path.join(ROOT, "include"), source,
                        "-o", exe], check=True)
        for arch in ["simd", "scalar"]:
            proc = subprocess.run([exe, model] + (["scalar"] if arch == "scalar" else []), capture_output=True,
                                  text=True, check=True)
            same = proc.stdout == open(header).read()
            ok = ok and same
            print("host %s: %s; %s" % (arch, "equal to " + os.path.relpath(header, ROOT) if same else "DIFFERENT",
                                       proc.stderr.strip()))
    return 0 if ok else 1


TARGETS = [  # the stated Cortex-M7 targets: (flags, what, limit in instructions per token)
    ("2", "mean", 1.1e6), ("s", "mean", 1.3e6), ("2", "480-511", 1.6e6), ("s", "480-511", 1.6e6)]


def target_lines(results):
    lines = []
    for flags, what, limit in TARGETS:
        for r in results:
            if r["machine"] != "mps2-an500" or r["optimization"] != flags or "ctattn" not in r["impls"]:
                continue
            v = r["impls"]["ctattn"]
            got = v["per_token"] if what == "mean" else v["slices"].get(what)
            if got is None:
                continue
            lines.append("- Cortex-M7 -O%s, %s: %s instructions per token, target <= %s: **%s**." % (
                flags, "mean over 512 positions" if what == "mean" else "positions " + what, fmt_m(got),
                fmt_m(limit), "met" if got <= limit else "missed"))
            plain = r["impls"].get("plain", {}).get("per_token")
            if what == "mean" and flags == "2" and plain and got:
                lines.append("- Cortex-M7 -O2: %.2fx fewer instructions than the plain loops, target >= 2.8x: "
                             "**%s**." % (
                    plain / got, "met" if plain / got >= 2.8 else "missed"))
    return lines


def doc_lines(results, command):
    lines = [DOC_BEGIN, "## Decode on emulated Cortex-M cores (exact instruction counts)", "",
             "`%s` (the doc section: add `--doc docs/performance.md`). The real stories260K checkpoint decodes "
             "greedily from BOS over its whole 512-position context in firmware (bench/embedded/decode_count_fw.cpp), "
             "through ctattn's decoder (the scalar path every Cortex-M build uses) and through the plain "
             "llama2.c-style loops (bench/plain_loops_impl.hpp) built for the same core with the same flags, under "
             "qemu-system-arm with tools/qemu_insn_count.c counting every guest instruction and recording the count "
             "before each step: a step's cost is exact, position by position. The mean is (count(512) - count(0)) / "
             "512; the slices average 32 positions. Every image's 512 ids are checked against the host's "
             "(bench/embedded/stories260k_greedy_ids.hpp, from bench/embedded/host_greedy_ids.cpp; SIMD and scalar "
             "host builds agree, smallest top-1/top-2 logit margin 7.3e-4). QEMU is not cycle-accurate: these are "
             "instruction counts, not cycles." % command, ""]
    lines += table(results) + [""]
    lines += ["Where the memory is: both implementations read the weights in place from flash and keep only "
              "their KV cache (512 positions, 640 KiB as floats) and one token's rows in RAM; ctattn through a "
              "model_weights_view over the constant array tools/ctattn_gen.py writes in the kernels' layout "
              "(generated/stories260k), the plain loops over the checkpoint's own floats linked in with .incbin. "
              "On the MPS2 boards (Cortex-M4F mps2-an386, Cortex-M7 mps2-an500) the images use the boards' "
              "linker scripts (4 MiB of RAM). On Cortex-M55 (mps3-an547) the 640 KiB KV cache does not fit the "
              "512 KiB DTCM, so its count images, ctattn's and the plain loops' alike, link with "
              "tests/embedded/boards/mps3-an547-counts.ld, a measurement setup: code and constants (the "
              "weights) in the 2 MiB SRAM at 0x01000000, data, KV cache and stack in the 4 MiB ISRAM at "
              "0x21000000 (the firmware tests keep mps3-an547.ld and a 368-position cache in DTCM). Placement "
              "changes no instruction count.", ""]
    targets = target_lines(results)
    if targets:
        lines += ["Targets:", ""] + targets + [""]
    lines += [
        "What ctattn's scalar decode does on these cores (`--profile` prints where each image spends its "
        "instructions):", "",
        "- **Attention** (kernels/decode/attention.hpp walks the heads, kernels/decode/scalar_heads.hpp runs each pair, "
        "simd/arm_vfp.hpp holds the assembly): the two query heads of each KV head go together, in three "
        "passes over the visible keys: scores and their max (both heads' q in s16-s31, one VLDM per key row, VMAXNM "
        "on FPv5), weights 2^(s' - m) and their sum, then P V with both heads' accumulators in s16-s31 (one VLDM per "
        "value row). Scores are in base 2 (log2 e is folded into q), so the max key's weight is exactly 1. Rows with "
        "a NaN or an infinite max go to the general one-row core (the numeric contract's rules).",
        "- **exp** (simd/math.hpp): 2^x by rounding with 1.5 x 2^23 and a degree-5 minimax polynomial, about 16 "
        "instructions and no call; within 2.04 ulp of 2^x for normal results, denormal results within 1.5 x 2^-149, "
        "exactly 1 at 0, exactly 0 at -inf, NaN at NaN (tests/kernels/test_decode_attention.cpp: 3.4 million arguments "
        "against double). Used in the scalar decode attention only; prefill, the vector arches, SiLU and sampling "
        "keep std::exp / xsimd::exp.",
        "- **KV cache** head by head, (kv_heads, seq_capacity, head_dim): a KV head's keys are one contiguous run "
        "(its values another), read front to back with write-back VLDMs.",
        "- **Projections** (kernels/projection.hpp, the strips' assembly in simd/arm_vfp.hpp): one token's row in 16-column strips of the row-major (in, out) "
        "weights (the generated flash array's layout; no other packing). The inner loop, per two steps of k: one VLDM of two x, "
        "four VLDMs of 8 weights, 32 VFMAs, two pointer adds, SUBS, BNE: 41 instructions for 32 multiply-adds (C "
        "gets one VLDR per weight). Leftover columns (172 = 10 x 16 + 12) run the C tile; results are bit-identical "
        "to it (same fma order).", ""]
    return lines + [DOC_END]


def write_doc(path, results, command):
    lines = doc_lines(results, command)
    text = open(path).read() if os.path.exists(path) else ""
    if DOC_BEGIN in text and DOC_END in text:
        text = text[:text.index(DOC_BEGIN)] + "\n".join(lines) + text[text.index(DOC_END) + len(DOC_END):]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    open(path, "w").write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", action="append", default=[], help="firmware build folder (repeatable)")
    ap.add_argument("--setup", help="cores, comma-separated: m3, m4f, m7, m55 (folders build-counts/<core>-O<opt>)")
    ap.add_argument("--opt", default="2,s", help="optimisation levels for --setup, comma-separated (default 2,s)")
    ap.add_argument("--no-compile", action="store_true", help="run the images as built")
    ap.add_argument("--qemu")
    ap.add_argument("--machine")
    ap.add_argument("--plugin")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="QEMU runs and compile jobs at once (default 2)")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--doc", help="markdown file whose emulated-counts section gets the table")
    ap.add_argument("--host-ids", action="store_true")
    ap.add_argument("--shared-dir", default=os.environ.get("CTATTN_SHARED_DIR", os.path.join(ROOT, "..", "shared")),
                    help="folder holding models/stories260K.bin (meson's shared_dir; default $CTATTN_SHARED_DIR or ../shared)")
    ap.add_argument("images", nargs="*")
    args = ap.parse_args()
    if args.host_ids:
        return host_ids(args.shared_dir)

    folders = [(folder, None) for folder in args.build]
    if args.setup:
        for core in args.setup.split(","):
            for opt in args.opt.split(","):
                folders.append(setup_folder(core, opt))
    results = []
    if args.images:
        results.append(measure(args.qemu, args.machine, args.plugin, args.images, "?", args.jobs, args.profile))
    for folder, opt in folders:
        conf = load_build(folder, not args.no_compile, args.jobs)
        if opt is not None and conf.get("optimization") != opt:
            sys.exit("emulated_counts: %s is configured with -O%s, not -O%s" % (folder, conf.get("optimization"), opt))
        results.append(measure(conf["qemu"], conf["machine"], conf["plugin"], conf["images"],
                               conf.get("optimization", "?"), args.jobs, args.profile))
    failed = [p for r in results for p in problems(r)]
    if args.json:
        print(json.dumps(results))
    else:
        print("\n".join(table(results)))
    if args.profile:
        for r in results:
            for impl, v in r["impls"].items():
                total = sum(n for n, _ in v["profile"]) or 1
                print("\nprofile %s -O%s %s (share of all instructions the image ran):" % (
                    r["machine"], r["optimization"], impl))
                for n, name in v["profile"][:25]:
                    print("  %5.1f%%  %12d  %s" % (100.0 * n / total, n, name))
    if args.doc:
        write_doc(args.doc, results, "python3 tools/emulated_counts.py " + " ".join(
            a for a in sys.argv[1:] if not a.startswith("--doc") and a != args.doc))
    for p in failed:
        print("emulated_counts: " + p, file=sys.stderr)
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
