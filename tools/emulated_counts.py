#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Instructions per decode token on an emulated Cortex-M core, exactly, for ctattn and the plain
llama2.c-style loops (bench/embedded/decode_count_fw.cpp), position by position; with --memory also
the bytes read from flash and read and written in RAM per token, and with --wait-states an
estimate of Cortex-M4F cycles per token (tools/qemu_insn_count.c states the model).

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

  emulated_counts.py --setup m4f,m7,m55,m55s --opt 2,s [--doc docs/performance.md]
        meson folders build-counts/<core>-O<opt> (cross/cortex-<core>.ini, -Doptimization=<opt>;
        m55 is the Cortex-M55 with Helium, m55s the same core on the scalar arch),
        the full-context images compiled in each, every image run, one table
  emulated_counts.py --build build-m7 [--build ...]    the same for existing firmware folders
  emulated_counts.py --qemu qemu-system-arm --machine mps2-an500 --plugin qemu_insn_count.so IMAGE...
        (RISC-V: --machine virt --qemu-options '-cpu rv32,d=false -bios none' --core rv32imafc)
  emulated_counts.py --host-ids                       rebuild the host's ids (SIMD and scalar; int8: SIMD), compare
  emulated_counts.py --sweep --setup m4f,m7,m55s,m55 --opt 2 [--doc docs/performance.md]
        each kernel's instructions per call (bench/embedded/kernel_sweep_fw.cpp) on each core, one table
Implementations: ctattn (float weights), plain (llama2.c-style float loops) and ctattn_q8 (int8
weights, Q8 groups of 32: configs/stories260k_q8.json), teacher-forced on the host's int8 ids
(bench/embedded/stories260k_q8_greedy_ids.hpp; see Q8_AGREEMENT below for why not free running).
On the cores without an FPU (m3, rv32imac) also ctattn_q8-kvint8: int8 weights with an int8 KV cache,
whose attention runs in integers there (kernels/decode/integer_heads.hpp), teacher-forced on the host's
run of the same (bench/embedded/stories260k_q8_kvint8_greedy_ids.hpp); the no-FPU int8 targets are
taken on it.
Options: --check fails (exit 1) unless every count is present, every image exits 0 and every
float implementation's ids equal the host's (int8: Q8_EXACT_POSITIONS and Q8_AGREEMENT); --json
prints the results as JSON, --from-json FILE tabulates (and --doc writes) a saved --json run
instead of running anything; --profile prints, per
image, the instructions spent in each function (the plugin's profile=on); --doc FILE rewrites
the section between the emulated-counts markers in FILE with the table.
--memory: the plugin also counts bytes per address range (mem=on; the flash and RAM ranges of the
machine's board, MEMORY_RANGES), a second table gives them per token. --wait-states 0,5 (implies
--memory): on Cortex-M4F machines, the plugin's cycle model (cycles=on) too, and the table gives
estimated cycles per token at each number of flash wait states, once with code fetched at zero
wait (an instruction cache or ART-like accelerator) and once with every code word fetched from
flash. Both make QEMU several times slower, so the default runs without them.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORES = {"m3": ("cortex-m3.ini", "Cortex-M3, soft float"), "m4f": ("cortex-m4f.ini", "Cortex-M4F"),
         "m7": ("cortex-m7.ini", "Cortex-M7"), "m55": ("cortex-m55.ini", "Cortex-M55, Helium"),
         "m55s": ("cortex-m55-scalar.ini", "Cortex-M55, scalar"),
         "rv32imafc": ("riscv-rv32imafc.ini", "RV32IMAFC"), "rv32imac": ("riscv-rv32imac.ini", "RV32IMAC, soft float")}
# The toolchain layer each core's file goes under (cross/arm-none-eabi.ini unless named here). The
# RISC-V cores share QEMU's virt machine; their folders' emulated_counts.json name the core.
TOOLCHAINS = {"rv32imafc": "riscv64-unknown-elf.ini", "rv32imac": "riscv64-unknown-elf.ini"}
MACHINES = {"mps2-an385": "Cortex-M3, soft float", "mps2-an386": "Cortex-M4F", "mps2-an500": "Cortex-M7",
            "mps3-an547": "Cortex-M55"}
SLICES = [(0, 32), (224, 256), (480, 512)]
# Flash and RAM of each machine's board, as (start, size): examples/boards/<machine>.ld (MPS2: code
# and constants in SSRAM1 at 0, the part's "flash"; RAM in SSRAM2/3 at 0x20000000); on mps3-an547
# the ITCM at 0 and the 2 MiB SRAM the count images put code and weights in count as flash
# (tests/embedded/boards/mps3-an547-counts.ld), DTCM and ISRAM as RAM.
MEMORY_RANGES = {
    "mps2-an385": {"flash": [(0x0, 4 << 20)], "ram": [(0x20000000, 4 << 20)]},
    "mps2-an386": {"flash": [(0x0, 4 << 20)], "ram": [(0x20000000, 4 << 20)]},
    "mps2-an500": {"flash": [(0x0, 4 << 20)], "ram": [(0x20000000, 4 << 20)]},
    "mps3-an547": {"flash": [(0x0, 512 << 10), (0x01000000, 2 << 20)],
                   "ram": [(0x20000000, 512 << 10), (0x21000000, 4 << 20)]},
    # QEMU virt as an RV32 microcontroller (examples/boards/virt-rv32.ld): 4 MiB of code and
    # constants ("flash") at 0x80000000, 4 MiB of RAM after it.
    "virt": {"flash": [(0x80000000, 4 << 20)], "ram": [(0x80400000, 4 << 20)]},
}
# Machines whose core the plugin's cycle model describes (the Cortex-M4 TRM's timings).
CYCLE_MODEL_MACHINES = {"mps2-an386"}
# The per-token counters of a --memory run (plugin names), and how the tables name them.
MEMORY_COUNTERS = [("flash_read_bytes", "flash bytes read"), ("ram_read_bytes", "RAM bytes read"),
                   ("ram_write_bytes", "RAM bytes written")]
DOC_BEGIN = "<!-- emulated-counts: begin (tools/emulated_counts.py --doc) -->"
DOC_END = "<!-- emulated-counts: end -->"


def plugin_arguments(machine, profile=False, memory=False, cycles=False):
    """The plugin's arguments: profile=on, and for --memory the board's ranges (mem=on or cycles=on)."""
    arguments = [",profile=on"] if profile else []
    if memory or cycles:
        ranges = MEMORY_RANGES[machine]
        arguments.append(",cycles=on" if cycles else ",mem=on")
        for kind in ("flash", "ram"):
            arguments += [",%s=0x%x:0x%x" % (kind, start, size) for start, size in ranges[kind]]
    return "".join(arguments)


def run_image(qemu, machine, plugin, image, profile=False, memory=False, cycles=False, qemu_options=()):
    cmd = [qemu, "-M", machine] + list(qemu_options) + ["-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native",
           "-plugin", plugin + plugin_arguments(machine, profile, memory, cycles), "-d", "plugin", "-kernel", image]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - started
    text = proc.stdout + proc.stderr
    count = re.search(r"ctattn-insns: (\d+)", text)
    marks = re.search(r"ctattn-marks:([ \d]*)", text)
    tokens = re.search(r"tokens:([ \d]*)", text)
    host = re.search(r"host ids: (\d+) of (\d+) equal", text)
    return {"exit": proc.returncode, "insns": int(count.group(1)) if count else None,
            "marks": [int(m) for m in marks.group(1).split()] if marks else [],
            "tokens": tokens.group(1).split() if tokens else None,
            "host_equal": [int(host.group(1)), int(host.group(2))] if host else None,
            "profile": [(int(n), s) for n, s in re.findall(r"ctattn-profile: (\d+) (\S+)", text)],
            "counter_marks": {name: [int(v) for v in values.split()]
                              for name, values in re.findall(r"ctattn-marks-(\w+):([ \d]*)", text)},
            "profile_bytes": [(int(f), int(r), name) for f, r, name in
                              re.findall(r"ctattn-profile-bytes: (\d+) (\d+) (\S+)", text)],
            "cycle_classes": {name: [int(n), int(c)] for name, n, c in
                              re.findall(r"ctattn-cycle-class: (\S+) (\d+) (\d+)", text)},
            "unclassified": re.findall(r"ctattn-unclassified: \d+ (\S+)", text), "seconds": seconds}


def summarise(run, wait_states=()):
    marks = run["marks"]
    steps = [b - a for a, b in zip(marks, marks[1:])]
    out = {"steps": len(steps), "per_token": sum(steps) / len(steps) if steps else None, "slices": {},
           "per_step": steps, "tokens": run["tokens"], "host_equal": run["host_equal"], "exit": run["exit"],
           "insns": run["insns"], "profile": run["profile"], "profile_bytes": run["profile_bytes"],
           "seconds": run["seconds"]}
    for lo, hi in SLICES:
        if hi <= len(steps):
            out["slices"]["%d-%d" % (lo, hi - 1)] = sum(steps[lo:hi]) / (hi - lo)
    # Every other counter the plugin recorded at the marks, as a mean per token over all steps.
    counters = {name: (values[-1] - values[0]) / (len(values) - 1)
                for name, values in run["counter_marks"].items() if len(values) > 1}
    if counters:
        out["per_token_counters"] = counters
    if "cycles" in counters:
        # Cycles at W flash wait states: each flash data access pays W; with code fetched from
        # flash (no cache), each fetched code word pays W too.
        base, data = counters["cycles"], counters["flash_read_accesses"]
        out["estimated_cycles"] = {str(w): base + w * data for w in wait_states}
        out["estimated_cycles_uncached_fetch"] = {str(w): base + w * (data + counters["fetch_words"])
                                                  for w in wait_states}
        out["unclassified"] = run["unclassified"]
        out["cycle_classes"] = run["cycle_classes"]  # whole run: [instructions, cycles] by timing class
    return out


def core_of(folder, machine):
    """The table's core name: the board's, and for the Cortex-M55 the arch the folder builds
    (meson's simd option: auto takes Helium, scalar the FPU path)."""
    core = MACHINES.get(machine, "?")
    if machine == "mps3-an547":
        try:
            options = json.load(open(os.path.join(folder, "meson-info", "intro-buildoptions.json")))
            simd = next(o["value"] for o in options if o["name"] == "simd")
            core = CORES["m55s" if simd == "scalar" else "m55"][1]
        except (OSError, StopIteration, ValueError):
            pass
    return core


def core_key_of(folder, conf):
    """The CORES key of a firmware folder: its emulated_counts.json's core, or for the Cortex-M55 the
    arch the folder builds (m55: Helium, m55s: scalar)."""
    if conf.get("core"):
        return conf["core"]
    if conf["machine"] == "mps3-an547":
        label = core_of(folder, conf["machine"])
        return "m55s" if label == CORES["m55s"][1] else "m55"
    return ""


def measure(qemu, machine, plugin, images, optimization="?", jobs=1, profile=False, memory=False,
            wait_states=(), qemu_options=(), core=""):
    # bench_decode_<impl>_<steps>[_O2].elf; <impl> may hold digits and underscores (ctattn_int8).
    named = []
    for image in images:
        m = re.match(r"bench_decode_([a-z][a-z0-9_]*?(?:-kv[a-z0-9]+)?)_(\d+)(_O\w+)?\.elf$", os.path.basename(image))
        if m:
            named.append((m.group(1), image))
    if memory and machine not in MEMORY_RANGES:
        print("emulated_counts: no flash and RAM ranges for machine %s (MEMORY_RANGES): instruction counts only"
              % machine, file=sys.stderr)
        memory = False
    cycles = memory and bool(wait_states) and machine in CYCLE_MODEL_MACHINES
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = list(pool.map(lambda job: run_image(qemu, machine, plugin, job[1], profile, memory, cycles,
                                                   qemu_options), named))
    label = CORES[core][1] if core in CORES else MACHINES.get(machine, "?")
    return {"machine": machine, "core": label, "optimization": optimization,
            "memory": memory, "wait_states": list(wait_states) if cycles else [],
            "impls": {impl: summarise(run, wait_states if cycles else ()) for (impl, _), run in zip(named, runs)}}


# The int8 images (bench_decode_<impl>_q8_<steps>.elf) are teacher-forced on the host's int8 ids
# (bench/embedded/stories260k_q8_greedy_ids.hpp): float rounding differences between cores move an
# int8 logit by up to 0.4 (an activation code rounds the other way), so two correct builds agree at
# most but not all positions (x86-64 AVX-512 VNNI and scalar hosts: 96-97.5% of 512; int8 against the
# float model: 89%). Required: the first Q8_EXACT_POSITIONS all equal, Q8_AGREEMENT of all.
Q8_HOST_IDS = os.path.join(ROOT, "bench", "embedded", "stories260k_q8_greedy_ids.hpp")
# int8 weights with an int8 KV cache (ctattn_q8-kvint8): the host's run attending in integers, as the
# no-FPU cores do (bench/embedded/host_greedy_ids.cpp q8 kvint8, -DCTATTN_KV_INT8_INTEGER_ATTENTION).
Q8_KVINT8_HOST_IDS = os.path.join(ROOT, "bench", "embedded", "stories260k_q8_kvint8_greedy_ids.hpp")
Q8_EXACT_POSITIONS = 32
Q8_AGREEMENT = 0.95


def is_q8(impl):
    """int8 weights: ctattn_q8, and ctattn_q8-kvint8 (int8 weights and an int8 KV cache)."""
    return impl.split("-kv")[0].endswith("_q8")


def q8_host_ids(impl="ctattn_q8"):
    kv_int8 = impl.endswith("-kvint8")
    text = open(Q8_KVINT8_HOST_IDS if kv_int8 else Q8_HOST_IDS).read()
    body = text[text.index("host_q8_kvint8_greedy_ids[] = {" if kv_int8 else "host_q8_greedy_ids[] = {"):]
    return [int(v) for v in re.findall(r"\d+", body[body.index("{") + 1:body.index("}")])]


def q8_agreement(tokens, impl="ctattn_q8"):
    """(positions equal to the host's int8 ids, positions, whether the first ones all are)."""
    host = q8_host_ids(impl)
    got = [int(t) for t in tokens]
    equal = [a == b for a, b in zip(got, host)]
    return sum(equal), len(got), all(equal[:Q8_EXACT_POSITIONS])


def problems(result):
    found = []
    where = "%s (%s) -O%s" % (result["machine"], result["core"], result["optimization"])
    for impl, r in result["impls"].items():
        if r["per_token"] is None:
            found.append("%s %s: no instruction counts (plugin not loaded, or the image failed)" % (where, impl))
        if r["exit"] != 0:
            found.append("%s %s: the image exited with %s" % (where, impl, r["exit"]))
        # A float16 or int8 KV cache (ctattn-kv<type>) decodes its own ids: only float32's must match.
        if is_q8(impl):
            equal, total, first = q8_agreement(r["tokens"] or [], impl) if r["tokens"] else (0, 0, False)
            if not total or not first or equal < Q8_AGREEMENT * total:
                found.append("%s %s: teacher-forced ids agree with the host's int8 ids at %d of %d positions "
                             "(need the first %d and %.0f%%)" % (where, impl, equal, total, Q8_EXACT_POSITIONS,
                                                                 100 * Q8_AGREEMENT))
        elif "-kv" not in impl and (r["host_equal"] is None or r["host_equal"][0] != r["host_equal"][1]):
            found.append("%s %s: ids differ from the host's (%s equal)" % (where, impl, r["host_equal"]))
        if result.get("memory") and "per_token_counters" not in r:
            found.append("%s %s: no byte counts (the plugin's mem=on gave no marks)" % (where, impl))
        if result.get("wait_states") and "estimated_cycles" not in r:
            found.append("%s %s: no cycle estimate (the plugin's cycles=on gave no marks)" % (where, impl))
        if r.get("unclassified"):
            found.append("%s %s: the cycle model does not classify %s" % (where, impl, " ".join(r["unclassified"])))
    toks = [r["tokens"] for impl, r in result["impls"].items() if not is_q8(impl) and "-kv" not in impl]
    if len(toks) < 2 or any(t is None for t in toks) or any(t != toks[0] for t in toks):
        found.append("%s: the implementations generated different ids" % where)
    return found


def fmt_m(x):
    return "-" if x is None else ("%.3f M" % (x / 1e6))


def table(results):
    slice_names = ["%d-%d" % (lo, hi - 1) for lo, hi in SLICES]
    lines = ["| core | flags | implementation | mean over positions | "
             + " | ".join("positions " + s for s in slice_names)
             + " | plain / this (mean) | ctattn float / this (mean) | ids equal the host's |",
             "|" + " --- |" * (7 + len(slice_names))]
    for r in results:
        plain = r["impls"].get("plain", {}).get("per_token")
        ctattn = r["impls"].get("ctattn", {}).get("per_token")
        for impl in sorted(r["impls"], key=impl_order):
            v = r["impls"][impl]
            ratio = "%.2fx" % (plain / v["per_token"]) if impl != "plain" and plain and v["per_token"] else "-"
            vs_float = "%.2fx" % (ctattn / v["per_token"]) if is_q8(impl) and ctattn and v["per_token"] else "-"
            mean = fmt_m(v["per_token"]) + (" (%d)" % v["steps"] if v["steps"] != 512 else "")
            if is_q8(impl):
                equal, total, _ = q8_agreement(v["tokens"], impl) if v["tokens"] else (0, 0, False)
                host = "%d of %d (int8 host, teacher-forced)" % (equal, total) if total else "-"
            else:
                host = "%d of %d" % tuple(v["host_equal"]) if v["host_equal"] else "-"
            lines.append("| %s | -O%s | %s | %s | %s | %s | %s | %s |" % (
                r["core"], r["optimization"], impl_name(impl), mean,
                " | ".join(fmt_m(v["slices"].get(s)) for s in slice_names), ratio, vs_float, host))
    return lines


def impl_order(impl):
    return {"ctattn": 0, "ctattn_q8": 1, "ctattn_q8-kvint8": 1.5, "plain": 3}.get(impl, 2), impl


def impl_name(impl):
    return {"ctattn": "ctattn float", "ctattn_q8": "ctattn int8", "ctattn_q8-kvint8": "ctattn int8, int8 KV",
            "plain": "plain float loops"}.get(impl, impl)


def fmt_k(x):
    return "-" if x is None else ("%.1f kB" % (x / 1e3))


def memory_table(results):
    """Per token, per image: instructions, bytes by range and, on Cortex-M4F, estimated cycles."""
    wait_states = sorted({w for r in results for w in r.get("wait_states", [])})
    head = ["core", "flags", "implementation", "instructions"] + [name for _, name in MEMORY_COUNTERS]
    head += ["flash read / ctattn float's"]
    head += ["cycles, %d wait states" % w if w == 0 else "cycles, %d wait states (code cached / uncached)" % w
             for w in wait_states]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in results:
        if not r.get("memory"):
            continue
        float_flash = r["impls"].get("ctattn", {}).get("per_token_counters", {}).get("flash_read_bytes")
        for impl in sorted(r["impls"], key=impl_order):
            v = r["impls"][impl]
            counters = v.get("per_token_counters", {})
            row = [r["core"], "-O" + r["optimization"], impl_name(impl), fmt_m(v["per_token"])]
            row += [fmt_k(counters.get(name)) if name in counters else "-" for name, _ in MEMORY_COUNTERS]
            flash = counters.get("flash_read_bytes")
            row.append("%.2fx" % (flash / float_flash) if flash and float_flash else "-")
            for w in wait_states:
                cached = v.get("estimated_cycles", {}).get(str(w))
                uncached = v.get("estimated_cycles_uncached_fetch", {}).get(str(w))
                row.append(fmt_m(cached) if w == 0 or cached is None else "%s / %s" % (fmt_m(cached), fmt_m(uncached)))
            lines.append("| " + " | ".join(row) + " |")
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
                        "--cross-file", os.path.join(ROOT, "cross", TOOLCHAINS.get(core, "arm-none-eabi.ini")),
                        "--cross-file", level_file],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    elif core in ("m55", "m55s"):
        # A folder set up before Helium has simd=scalar from arm-none-eabi.ini: the arch is set here.
        subprocess.run(["meson", "configure", folder, "-Dsimd=" + ("scalar" if core == "m55s" else "auto")],
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


SWEEP_BEGIN = "<!-- kernel-sweep: begin (tools/emulated_counts.py --sweep --doc) -->"
SWEEP_END = "<!-- kernel-sweep: end -->"


def sweep(folder, jobs):
    """Each kernel's instructions per call (bench/embedded/kernel_sweep_fw.cpp) in one firmware folder."""
    conf = load_build(folder, False, jobs)
    subprocess.run(["ninja", "-C", folder, "build.ninja"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["meson", "compile", "-C", folder, "-j", str(jobs), "bench_kernel_sweep", "qemu_insn_count"],
                   check=True, stdout=subprocess.DEVNULL)
    image = os.path.join(folder, "tests", "embedded", "bench_kernel_sweep.elf")
    cmd = [conf["qemu"], "-M", conf["machine"], "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-plugin", conf["plugin"], "-d", "plugin", "-kernel", image]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    names = re.findall(r"sweep: (.*)", text)
    marks = [int(m) for m in re.search(r"ctattn-marks:([ \d]*)", text).group(1).split()]
    if proc.returncode != 0 or len(marks) != 2 * len(names):
        sys.exit("emulated_counts: the sweep image in %s failed (exit %s, %d marks for %d kernels)" % (
            folder, proc.returncode, len(marks), len(names)))
    calls = [b - a for a, b in zip(marks[0::2], marks[1::2])]
    empty = calls[names.index("empty")]
    return {"core": core_of(folder, conf["machine"]), "optimization": conf.get("optimization", "?"),
            "kernels": {n: c - empty for n, c in zip(names, calls) if n != "empty"}}


def sweep_lines(sweeps, command):
    names = list(sweeps[0]["kernels"])
    # (Helium, scalar) M55 results at the same optimisation level: one ratio column each.
    pairs = [(h, sc) for h in sweeps if h["core"] == CORES["m55"][1]
             for sc in sweeps if sc["core"] == CORES["m55s"][1] and sc["optimization"] == h["optimization"]]
    lines = [SWEEP_BEGIN, "## Arch sweep on emulated Cortex-M cores (instructions per call)", "",
             "`%s`: bench/embedded/kernel_sweep_fw.cpp calls each kernel once between two count marks on the "
             "build's default arch (the scalar path on Cortex-M4F, M7 and cross/cortex-m55-scalar.ini, Helium on "
             "cross/cortex-m55.ini), after a warm-up call, with the marks' own cost subtracted; QEMU with "
             "tools/qemu_insn_count.c counts every instruction. Decode attention is the kernel the decoder takes on "
             "the arch (one KV head, two query heads of head_dim 8). The last columns: M55 scalar / M55 Helium at "
             "the same flags." % command, "",
             "| kernel | " + " | ".join("%s -O%s" % (r["core"], r["optimization"]) for r in sweeps)
             + "".join(" | scalar / Helium -O%s" % h["optimization"] for h, _ in pairs) + " |",
             "|" + " --- |" * (1 + len(sweeps) + len(pairs))]
    for n in names:
        lines.append("| %s | " % n + " | ".join("{:,}".format(r["kernels"][n]) for r in sweeps)
                     + "".join(" | %.2fx" % (sc["kernels"][n] / h["kernels"][n]) for h, sc in pairs) + " |")
    if pairs:
        slower = ["%s (-O%s)" % (n, h["optimization"]) for h, sc in pairs for n in names
                  if h["kernels"][n] > sc["kernels"][n]]
        lines += ["", "Target: no kernel takes more instructions with Helium than on the M55's scalar path, at any "
                  "shape and flags here: **%s**%s." % ("met" if not slower else "missed",
                                                        "" if not slower else " (" + ", ".join(slower) + ")")]
    return lines + ["", SWEEP_END]


def write_sweep_doc(path, lines):
    text = open(path).read() if os.path.exists(path) else ""
    if SWEEP_BEGIN in text and SWEEP_END in text:
        text = text[:text.index(SWEEP_BEGIN)] + "\n".join(lines) + text[text.index(SWEEP_END) + len(SWEEP_END):]
    elif DOC_END in text:
        at = text.index(DOC_END) + len(DOC_END)
        text = text[:at] + "\n\n" + "\n".join(lines) + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    open(path, "w").write(text)


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
        # The int8 model's free-running ids depend on the host's int8 body (near ties: the header
        # says which CPU wrote it), so only the SIMD build is compared, and a difference is reported.
        proc = subprocess.run([exe, model, "q8"], capture_output=True, text=True, check=True)
        same = proc.stdout == open(Q8_HOST_IDS).read()
        ok = ok and same
        print("host simd, int8: %s; %s" % ("equal to " + os.path.relpath(Q8_HOST_IDS, ROOT) if same else
                                            "DIFFERENT (a CPU with another int8 body?)", proc.stderr.strip()))
        # int8 weights and an int8 KV cache attending in integers (the no-FPU cores' path).
        exe_kv = os.path.join(tmp, "ids_kvint8")
        subprocess.run(["g++", "-std=c++20", "-O2", "-march=native", "-DCTATTN_KV_INT8_INTEGER_ATTENTION",
                        "-I" + os.path.join(ROOT, "include"), source, "-o", exe_kv], check=True)
        proc = subprocess.run([exe_kv, model, "q8", "kvint8"], capture_output=True, text=True, check=True)
        same = proc.stdout == open(Q8_KVINT8_HOST_IDS).read()
        ok = ok and same
        print("host simd, int8 weights and KV (integer attention): %s; %s" % (
            "equal to " + os.path.relpath(Q8_KVINT8_HOST_IDS, ROOT) if same else
            "DIFFERENT (a CPU with another int8 body?)", proc.stderr.strip()))
    return 0 if ok else 1


TARGETS = [  # the stated Cortex-M7 targets: (flags, what, limit in instructions per token)
    ("2", "mean", 1.1e6), ("s", "mean", 1.3e6), ("2", "480-511", 1.6e6), ("s", "480-511", 1.6e6)]
HELIUM_TARGET = 0.35e6  # Cortex-M55 with Helium, -O2, mean over 512 positions


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
    helium = [r for r in results if r["core"] == CORES["m55"][1] and r["optimization"] == "2" and "ctattn" in r["impls"]]
    scalar = {r["optimization"]: r["impls"]["ctattn"]["per_token"] for r in results
              if r["core"] == CORES["m55s"][1] and "ctattn" in r["impls"]}
    for r in helium:
        got = r["impls"]["ctattn"]["per_token"]
        if got is None:
            continue
        versus = " (the scalar path: %s, %.2fx)" % (fmt_m(scalar["2"]), scalar["2"] / got) if scalar.get("2") else ""
        lines.append("- Cortex-M55 with Helium -O2, mean over 512 positions: %s instructions per token%s, target <= %s: "
                     "**%s**." % (fmt_m(got), versus, fmt_m(HELIUM_TARGET), "met" if got <= HELIUM_TARGET else "missed"))
    return lines


def q8_target_lines(results):
    """issue 22's int8 targets, each where the run has the images it needs."""
    lines = []

    def impls(r):
        return r["impls"].get("ctattn", {}), r["impls"].get("ctattn_q8", {}), r["impls"].get("plain", {})

    for r in results:
        flt, q8, plain = impls(r)
        # Without an FPU the int8 figure is int8 weights with an int8 KV cache, whose attention runs
        # in integers there (kernels/decode/integer_heads.hpp): ctattn_q8-kvint8 where it was run.
        no_fpu = r["machine"] == "mps2-an385" or r["core"].startswith("RV32IMAC")
        q8_kv = r["impls"].get("ctattn_q8-kvint8", {})
        if no_fpu and q8_kv.get("per_token"):
            q8 = q8_kv
        if not q8.get("per_token"):
            continue
        where = "%s -O%s" % (r["core"], r["optimization"])
        what = "int8 weights and KV" if q8 is q8_kv else "int8"
        if r["machine"] == "mps2-an386" and "5" in q8.get("estimated_cycles", {}) and flt.get("estimated_cycles"):
            got, base = q8["estimated_cycles"]["5"], flt["estimated_cycles"]["5"]
            lines.append("- %s, estimated cycles per token at 5 flash wait states (code cached): int8 %s, float %s, "
                         "%.2fx, target <= 0.5x: **%s**." % (where, fmt_m(got), fmt_m(base), got / base,
                                                              "met" if got <= 0.5 * base else "missed"))
        if r["machine"] == "mps2-an500" and r["optimization"] == "2" and flt.get("per_token"):
            got, base = q8["per_token"], flt["per_token"]
            lines.append("- %s, instructions per token: int8 %s, float %s, target int8 <= float: **%s**." % (
                where, fmt_m(got), fmt_m(base), "met" if got <= base else "missed"))
            qf = q8.get("per_token_counters", {}).get("flash_read_bytes")
            ff = flt.get("per_token_counters", {}).get("flash_read_bytes")
            if qf and ff:
                lines.append("- %s, flash bytes read per token: int8 %s, float %s, %.2fx, target <= 0.35x: **%s**." % (
                    where, fmt_k(qf), fmt_k(ff), qf / ff, "met" if qf <= 0.35 * ff else "missed"))
        if r["machine"] == "mps2-an385" and flt.get("per_token"):
            ratio = flt["per_token"] / q8["per_token"]
            lines.append("- %s (no FPU), instructions per token: %s %s, float %s, %.2fx fewer, target >= 3x: **%s**." % (
                where, what, fmt_m(q8["per_token"]), fmt_m(flt["per_token"]), ratio, "met" if ratio >= 3 else "missed"))
        if r["core"].startswith("RV32IMAC") and plain.get("per_token"):
            ratio = plain["per_token"] / q8["per_token"]
            lines.append("- %s (no FPU), instructions per token: %s %s, plain float loops %s, %.2fx fewer, target "
                         ">= 5x: **%s**." % (where, what, fmt_m(q8["per_token"]), fmt_m(plain["per_token"]), ratio,
                                             "met" if ratio >= 5 else "missed"))
    return lines


def doc_lines(results, command):
    lines = [DOC_BEGIN, "## Decode on emulated Cortex-M cores (exact instruction counts)", "",
             "`%s` (the doc section: add `--doc docs/performance.md`). The real stories260K checkpoint decodes "
             "greedily from BOS over its whole 512-position context in firmware (bench/embedded/decode_count_fw.cpp), "
             "through ctattn's decoder (the scalar path on Cortex-M4F and M7; on the Cortex-M55 both Helium, "
             "simd::mve_arch, and the scalar path, cross/cortex-m55.ini and cross/cortex-m55-scalar.ini) and through the plain "
             "llama2.c-style loops (bench/plain_loops_impl.hpp) built for the same core with the same flags, under "
             "qemu-system-arm with tools/qemu_insn_count.c counting every guest instruction and recording the count "
             "before each step: a step's cost is exact, position by position. The mean is (count(512) - count(0)) / "
             "512; the slices average 32 positions. Every image's 512 ids are checked against the host's "
             "(bench/embedded/stories260k_greedy_ids.hpp, from bench/embedded/host_greedy_ids.cpp; SIMD and scalar "
             "host builds agree, smallest top-1/top-2 logit margin 7.3e-4). QEMU is not cycle-accurate: these are "
             "instruction counts, not cycles." % command, "",
             "**int8 weights** (ctattn int8, bench/embedded/decode_count_fw.cpp CTATTN_DECODE_IMPL 2): the same "
             "decoder over stories260K quantized to Q8 (configs/stories260k_q8.json: int8 codes, one float scale per "
             "group of 32, w8a8; docs/quantization.md), read in place from the two constant arrays tools/ctattn_gen.py "
             "writes (302 KB instead of 1.04 MB). The projections run simd/q8.hpp's bodies: SXTB16 + SMLAD on the "
             "cores with the DSP extension (Cortex-M4F, M7, M55), integer multiply-adds in C elsewhere (Cortex-M3, "
             "RV32), several output rows per call sharing the activations' loads (q8_rows_dot); the attention, norms, "
             "RoPE and SiLU are the float model's. Its ids are checked teacher-forced against the host's int8 run "
             "(bench/embedded/stories260k_q8_greedy_ids.hpp: position i is fed the host's id i - 1; the same work as "
             "free running): rounding activations to int8 codes turns float rounding differences between cores into "
             "logit differences of up to 0.4, so two correct builds (x86-64 AVX-512 VNNI and scalar) agree at 96-97.5% of "
             "the 512 positions, not all; the check wants the first 32 and 95%.", ""]
    lines += table(results) + [""]
    if any(r.get("memory") for r in results):
        lines += memory_doc_lines(results)
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
    targets = target_lines(results) + q8_target_lines(results)
    if targets:
        lines += ["Targets:", ""] + targets + [""]
    if any("ctattn_q8" in r["impls"] for r in results):
        lines += [
            "Where int8 stands (docs/quantization.md, \"Speed on Cortex-M and RISC-V\", has the profiles). "
            "Without an FPU (Cortex-M3, RV32IMAC) the int8 figure is int8 weights with an int8 KV cache: the "
            "attention over the cache runs in integers (kernels/decode/integer_heads.hpp) and the Q8 scales, the "
            "activations' codes and SiLU avoid soft float (simd/q8_soft_float.hpp, simd/fixed_point.hpp), so no "
            "library call grows with the position; int8 weights over a float32 cache still pay soft float in the "
            "attention (the ctattn int8 rows). On the DSP cores (Cortex-M4F, M7) the projections run "
            "activations quantized once per input into SXTB16's int16 pairs through an assembly loop (1.19 "
            "instructions per multiply-add against the float strip's 1.28); the float attention over the KV "
            "cache, the same work in both builds, is what keeps Cortex-M4F's estimated cycles near 0.6x "
            "float's rather than 0.5x.", ""]
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
        "to it (same fma order).", "",
        "What the Cortex-M55 does with Helium (simd::mve_arch, simd/mve.hpp; 4-float q registers, only 8 of them):", "",
        "- **Projections**: one token's row in strips of 24 columns (6 accumulators in q0-q5, the weights through q6 "
        "and q7) and 16 columns (4), in assembly: per two steps of k one LDRD of x[k], x[k + 1], one VLDRW per 4 "
        "weights at immediate offsets, one VFMA by scalar per 4 multiply-adds, the row steps and LE (the low-overhead "
        "loop): 28 instructions for 48 multiply-adds; a last strip of whole vectors in C, tail lanes under VCTP.",
        "- **Attention**, two query heads per KV head, head_dim 8, three passes: scores with the 4 keys of a chunk "
        "across lanes, gathered by VLDRW with a vector of the rows' addresses as base (write-back steps it to the next "
        "chunk), each gather feeding both heads (their 16 scaled query elements come into core registers by two LDMs "
        "per chunk, for VFMA by scalar), 33 instructions per 4 keys; weights 2^(s - m) on 4 lanes by the scalar "
        "path's polynomial and rounding trick (VMAXNM clamp, the arguments' sum as the NaN probe), ~19 per 4 keys "
        "and head; P V with both heads' accumulators in q0-q3, one LDRD of two weights per head per two keys, 7.5 "
        "instructions per key.",
        "- **Prefill** runs one token at a time as on the scalar path (default_prefill_rows is 1 on Helium: the "
        "blocked chunk's 150 KiB of scratch would not fit beside the KV cache in the M55's DTCM).", ""]
    return lines + [DOC_END]


def memory_doc_lines(results):
    wait_states = sorted({w for r in results for w in r.get("wait_states", [])})
    lines = ["### What instruction counts hide: bytes and estimated Cortex-M4F cycles", "",
             "Per token, mean over the same runs' positions: the plugin's memory callbacks (mem=on) split every "
             "load and store by address range, the board's flash (code and constants: the weights) and RAM "
             "(KV cache, rows, stack), as examples/boards/<machine>.ld lay them out (tools/emulated_counts.py "
             "MEMORY_RANGES). Flash bytes read include literal-pool loads; instruction fetches are not data reads "
             "and are not in these columns (kB = 1000 bytes). Both implementations read stories260K's 1.04 MB of "
             "float weights once per token; the plain loops' extra flash bytes are newlib's expf reading its "
             "constants (about 0.6 MB per token at 512 positions: `--memory --profile` gives the bytes by "
             "function).", ""]
    lines += memory_table(results) + [""]
    if wait_states:
        lines += [
            "Cycles are an estimate for Cortex-M4F (mps2-an386 images only), not a measurement: each executed "
            "instruction costs what the Cortex-M4 Technical Reference Manual (ARM DDI 0439B) gives it in Table 3-1 "
            "(instruction set summary, zero wait states), section 3.3.2 (load/store timings) and Table 7-1 (FPU "
            "instruction set): data processing and every multiply or multiply-accumulate (MUL, MLA, SMLAD, "
            "SMLA<x><y>, SMULL) 1; SDIV/UDIV 12 (the TRM's bound of 2 to 12); LDR 2, a load or store straight "
            "after a load whose destination is not in its address 1 less; STR with an immediate offset 1, with a "
            "register offset 2; LDRD/STRD 3; LDM/STM/PUSH/POP and VLDM/VSTM/VPUSH/VPOP 1 + N (N registers, "
            "words for VFP); VLDR/VSTR 2 (single) or 3 (double); VADD/VSUB/VMUL/VCMP/VCVT/VMOV 1 (2 for two core "
            "registers); VMLA/VFMA and their negated forms 3; VDIV/VSQRT 14; branches 1, TBB/TBH 2, plus P = 2 "
            "refill cycles whenever control does not fall through (a taken branch, a return, a POP or load to "
            "the PC). Not modelled: operand-dependency stalls (an address computed by the instruction before, "
            "VFP result latencies), VDIV overlapping later integer work, unaligned accesses, bus contention; an "
            "instruction an IT block skips costs as if it ran. "
            "Flash wait states W: every 32-bit flash data access pays W (an LDRD or a VLDM of N words is 2 or N "
            "accesses). Instruction fetches are one 32-bit read per word of code each executed block spans "
            "(no prefetch buffer, no cache); the first figure assumes they hit an instruction cache or an "
            "ART-like accelerator (zero wait, as an STM32F4's 1 KiB ART does for loops), the second that every "
            "fetch waits W. tests/tools/test_qemu_cycle_model.py checks the estimate, the bytes and the bus "
            "accesses against hand counts of timed loops (VLDM + 100 VFMAs from flash, an MLA/SMLAD loop with a "
            "divide, a load/store loop with pipelining, one of each FPU class, a call and return); they agree "
            "exactly.", ""]
    shares = []
    for r in results:
        for impl in sorted(r["impls"], key=impl_order):
            classes = r["impls"][impl].get("cycle_classes")
            if not classes:
                continue
            total = sum(c for _, c in classes.values()) or 1
            top = sorted(classes.items(), key=lambda kv: -kv[1][1])[:5]
            shares.append("- %s -O%s %s: %s." % (r["core"], r["optimization"], impl_name(impl), ", ".join(
                "%s %.0f%%" % (name, 100.0 * c / total) for name, (_, c) in top)))
    if shares:
        lines += ["Where the estimated cycles go at zero wait states (whole run, by the plugin's timing classes: "
                  "fp-mac is VFMA/VMLA at 3 cycles, vldm/vstm 1 + N, refill the P cycles of taken branches and "
                  "returns; `--wait-states 0,5 --profile` prints all):", ""] + shares + [""]
    lines += ["Cost of measuring: the default run (instruction counts only) keeps one inline add per translated "
              "block and no callback but the marks, as before. A memory callback on every load and store "
              "(--memory) made the Cortex-M4F -O2 512-position images about 1.7x (ctattn) and 2.2x (plain loops) slower in "
              "QEMU (CPU time; 2.6 s and 3.6 s without), with the cycle model's per-block callback 1.7x and 2.3x: the "
              "plain loops make more memory accesses per instruction (`--json` records each run's seconds).", ""]
    return lines


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
    ap.add_argument("--setup", help="cores, comma-separated: m3, m4f, m7, m55 (Helium), m55s (Cortex-M55 on the "
                                     "scalar arch), rv32imafc, rv32imac (folders build-counts/<core>-O<opt>)")
    ap.add_argument("--opt", default="2,s", help="optimisation levels for --setup, comma-separated (default 2,s)")
    ap.add_argument("--no-compile", action="store_true", help="run the images as built")
    ap.add_argument("--qemu")
    ap.add_argument("--machine")
    ap.add_argument("--plugin")
    ap.add_argument("--qemu-options", default="", help="QEMU options after -M MACHINE, space-separated "
                                                        "(RISC-V: the CPU, -bios none)")
    ap.add_argument("--core", default="", help="the core the images are for, where the machine does not say "
                                               "(rv32imafc, rv32imac)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="QEMU runs and compile jobs at once (default 2)")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--memory", action="store_true",
                    help="also count flash and RAM bytes per token (QEMU memory callbacks: slower)")
    ap.add_argument("--wait-states", default="",
                    help="flash wait states, comma-separated (e.g. 0,5): estimated Cortex-M4F cycles per token "
                         "(implies --memory)")
    ap.add_argument("--doc", help="markdown file whose emulated-counts section gets the table")
    ap.add_argument("--from-json", help="a saved --json run: tabulate it (with --doc, write it) instead of running")
    ap.add_argument("--host-ids", action="store_true")
    ap.add_argument("--sweep", action="store_true",
                    help="each kernel's instructions per call in the --setup/--build folders (with --doc: its own section)")
    ap.add_argument("--shared-dir", default=os.environ.get("CTATTN_SHARED_DIR", os.path.join(ROOT, "..", "shared")),
                    help="folder holding models/stories260K.bin (meson's shared_dir; default $CTATTN_SHARED_DIR or ../shared)")
    ap.add_argument("images", nargs="*")
    args = ap.parse_args()
    wait_states = [int(w) for w in args.wait_states.split(",") if w.strip()]
    memory = args.memory or bool(wait_states)
    if args.host_ids:
        return host_ids(args.shared_dir)

    folders = [(folder, None) for folder in args.build]
    if args.setup and not args.from_json:
        for core in args.setup.split(","):
            for opt in args.opt.split(","):
                folders.append(setup_folder(core, opt))
    if args.sweep:
        command = "python3 tools/emulated_counts.py " + " ".join(
            a for a in sys.argv[1:] if not a.startswith("--doc") and a != args.doc)
        lines = sweep_lines([sweep(folder, args.jobs) for folder, _ in folders], command)
        print("\n".join(lines[2:-2]))
        if args.doc:
            write_sweep_doc(args.doc, lines)
        return 0
    results = []
    if args.from_json:
        results = json.load(open(args.from_json))
        folders = []
    if args.images:
        results.append(measure(args.qemu, args.machine, args.plugin, args.images, "?", args.jobs, args.profile,
                               memory, wait_states, args.qemu_options.split(), args.core))
    for folder, opt in folders:
        conf = load_build(folder, not args.no_compile, args.jobs)
        if opt is not None and conf.get("optimization") != opt:
            sys.exit("emulated_counts: %s is configured with -O%s, not -O%s" % (folder, conf.get("optimization"), opt))
        results.append(measure(conf["qemu"], conf["machine"], conf["plugin"], conf["images"],
                               conf.get("optimization", "?"), args.jobs, args.profile, memory, wait_states,
                               conf.get("qemu_options", []), core_key_of(folder, conf)))
    failed = [p for r in results for p in problems(r)]
    if args.json:
        print(json.dumps(results))
    else:
        print("\n".join(table(results)))
        if memory:
            print("\n" + "\n".join(memory_table(results)))
    targets = target_lines(results) + q8_target_lines(results)
    if targets and not args.json:
        print("\n" + "\n".join(targets))
    if args.profile:
        for r in results:
            for impl, v in r["impls"].items():
                total = sum(n for n, _ in v["profile"]) or 1
                print("\nprofile %s -O%s %s (share of all instructions the image ran):" % (
                    r["machine"], r["optimization"], impl))
                for n, name in v["profile"][:25]:
                    print("  %5.1f%%  %12d  %s" % (100.0 * n / total, n, name))
                classes = v.get("cycle_classes")
                if classes:
                    total_cycles = sum(c for _, c in classes.values()) or 1
                    print("\nestimated cycles by timing class, %s -O%s %s (whole run, per token):" % (
                        r["machine"], r["optimization"], impl))
                    for name, (n, c) in sorted(classes.items(), key=lambda kv: -kv[1][1]):
                        print("  %5.1f%%  %12.0f cycles  %12.0f instructions  %s" % (
                            100.0 * c / total_cycles, c / max(v["steps"], 1), n / max(v["steps"], 1), name))
                if v["profile_bytes"]:
                    steps = max(v["steps"], 1)
                    print("\nbytes per token by function, %s -O%s %s (flash read, RAM read and written):" % (
                        r["machine"], r["optimization"], impl))
                    for flash, ram, name in sorted(v["profile_bytes"], reverse=True)[:15]:
                        print("  %10.1f kB  %10.1f kB  %s" % (flash / steps / 1e3, ram / steps / 1e3, name))
    if args.doc:
        write_doc(args.doc, results, "python3 tools/emulated_counts.py " + " ".join(
            a for a in sys.argv[1:] if not a.startswith(("--doc", "--from-json")) and a not in (args.doc, args.from_json)))
    for p in failed:
        print("emulated_counts: " + p, file=sys.stderr)
    return 1 if (args.check and failed) else 0


if __name__ == "__main__":
    sys.exit(main())
