#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Runs ctattn's benchmarks and writes docs/performance.md.

Every figure in the document comes from one run of bench/ctattn_bench (all implementations of a
computation run in the same process, so their ratios see the same machine load), one run of
bench/sweep/ctattn_sweep (every kernel on every arch the CPU has; table and docs/perf_arch_sweep.svg),
bench/bench_decode_q8 (int8 decode beside float and runq.c-style int8 loops, with the read bandwidth
at the int8 weights' size), tools/asm_loop.py's listing of one hot loop, callgrind
instruction counts of the decode step (bench/decode_count under valgrind: stable on a noisy
machine), and, with --build-times, from timing fresh builds of the test suite and the benchmarks.

Usage (from the source root, after `meson setup BUILD -Dbench=enabled && meson compile -C BUILD`):
  python3 tools/bench_report.py --build BUILD [--min-time 0.2] [--filter REGEX] [--build-times]
                                [--json saved.json] [--out docs/performance.md] [--check]
  --check exits 1 when a shape is below 1.0x ctattn's scalar path or Eigen dynamic (the Floors
  section lists them); --no-sweep / --no-asm leave those sections out.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMPLS = ["ctattn", "ctattn_scalar", "plain", "plain_fastmath", "eigen_fixed", "eigen_dynamic"]
BASELINES = ["ctattn_scalar", "plain", "plain_fastmath", "eigen_fixed", "eigen_dynamic"]
# ctattn's other variants of a kernel, shown as figures beside the main one (not baselines).
VARIANTS = ["ctattn_packed", "ctattn_onerow"]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def machine_info():
    info = {"cpu": platform.processor() or "?", "flags": "", "cores": os.cpu_count()}
    try:
        for line in sh(["lscpu"]).splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "Model name":
                info["cpu"] = value.strip()
            if key.strip() == "Flags":
                flags = value.split()
                info["flags"] = " ".join(f for f in ["sse4_2", "avx", "avx2", "fma", "avx512f", "neon", "asimd"]
                                         if f in flags)
            if key.strip() in ("L1d cache", "L2 cache", "L3 cache"):
                info[key.strip()] = value.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        info["compiler"] = sh(["c++", "--version"]).splitlines()[0]
    except (OSError, subprocess.CalledProcessError):
        info["compiler"] = "?"
    return info


def compile_flags(build, source_suffix):
    """The compiler command line meson used for one source file, minus paths and dependency noise."""
    try:
        commands = json.load(open(os.path.join(build, "compile_commands.json")))
    except OSError:
        return "?"
    for c in commands:
        if c["file"].endswith(source_suffix):
            keep = [a for a in shlex.split(c["command"])[1:]
                    if a.startswith(("-O", "-m", "-f", "-std", "-D", "-W")) and not a.startswith(("-MD", "-MQ", "-MF"))
                    and "diagnostics-color" not in a and "FILE_OFFSET" not in a]
            return " ".join(keep)
    return "?"


def run_benchmarks(build, min_time, bench_filter, repetitions):
    binary = os.path.join(build, "bench", "ctattn_bench")
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    # Repetitions in random order across all benchmarks: a slow spell of the shared machine hits
    # every implementation alike, and each benchmark's best repetition is reported.
    cmd = [binary, "--benchmark_out=" + path, "--benchmark_out_format=json",
           "--benchmark_min_time=%g" % min_time, "--benchmark_repetitions=%d" % repetitions,
           "--benchmark_enable_random_interleaving=true"]
    if bench_filter:
        cmd.append("--benchmark_filter=" + bench_filter)
    print("running:", " ".join(cmd), file=sys.stderr)
    status = subprocess.run(cmd, stdout=sys.stderr).returncode
    data = json.load(open(path))
    os.unlink(path)
    if status != 0:
        print("ctattn_bench exited %d: some benchmark disagreed with its reference" % status, file=sys.stderr)
    data["exit_status"] = status
    data["command"] = " ".join(cmd)
    return data


RATE_KEYS = ("GFLOPs", "Gelem_s", "tokens_s", "tokens_per_second", "bytes_per_second")


def index_results(data):
    """name -> result dict; names are family/shape.../implementation. With repetitions, each
    benchmark's fastest repetition: the machine only ever adds time (other VMs, frequency dips), so
    the best of several interleaved runs is the closest to what the code costs, for every
    implementation alike."""
    results = {}
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = b.get("run_name", b["name"])
        if b.get("error_occurred"):
            results[name] = b
            continue
        have = results.get(name)
        if have is None or (not have.get("error_occurred") and
                            any(b.get(k, 0) > have.get(k, 0) for k in RATE_KEYS if k in b)):
            results[name] = b
    return results


Q8_IMPLS = ["ctattn_q8", "ctattn", "plain_q8", "plain_q8_fastmath"]


def run_q8_decode(build, min_time, repetitions):
    """bench/bench_decode_q8: int8 decode at stories15M's shape beside ctattn float and the
    runq.c-style plain int8 loops, with the read bandwidth at the weights' sizes, in one process
    (repetitions interleaved at random). None when the binary was not built."""
    binary = os.path.join(build, "bench", "bench_decode_q8")
    if not os.path.exists(binary):
        return None
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    cmd = [binary, "--benchmark_out=" + path, "--benchmark_out_format=json",
           "--benchmark_filter=^(decode|ceiling)/", "--benchmark_min_time=%g" % max(min_time, 0.5),
           "--benchmark_repetitions=%d" % max(repetitions, 3), "--benchmark_enable_random_interleaving=true"]
    print("running:", " ".join(cmd), file=sys.stderr)
    status = subprocess.run(cmd, stdout=sys.stderr).returncode
    data = json.load(open(path))
    os.unlink(path)
    data["exit_status"] = status
    data["command"] = " ".join(cmd)
    return data


def median_results(data):
    """name -> the median aggregate of its repetitions (or its only run). The int8 decode figures
    are medians, not bests: the int8 weights live on the edge of the L3 here, where the shared
    machine's other work moves single runs a lot in both directions."""
    results = {}
    for b in data.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median":
            results[name] = b
        elif b.get("run_type", "iteration") == "iteration" and name not in results:
            results[name] = b
        if b.get("error_occurred"):
            results[name] = b
    return results


def split_name(name):
    parts = name.split("/")
    return parts[0], "/".join(parts[1:-1]), parts[-1]


def callgrind_counts(build, cases):
    """(impl, model, steps) -> instructions per decode step, from callgrind's totals."""
    binary = os.path.join(build, "bench", "decode_count")
    if not shutil.which("valgrind") or not os.path.exists(binary):
        return {}
    counts = {}
    for impl, model, steps in cases:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "callgrind.out")
            cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                   "--toggle-collect=*decode_sequence_*", binary, impl, model, str(steps)]
            print("running:", " ".join(cmd), file=sys.stderr)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            total = None
            if proc.returncode == 0 and os.path.exists(out):
                for line in open(out):
                    m = re.match(r"(?:summary|totals):\s+(\d+)", line)
                    if m:
                        total = int(m.group(1))
            counts[(impl, model, steps)] = total / steps if total else None
    return counts


def time_builds(jobs=2):
    """Fresh builds of the test suite and of the benchmarks, each timed on its own."""
    times = {}
    for label, options, targets in [
        ("test suite (simd=auto, -Dbench=disabled)", ["-Dbench=disabled"], []),
        ("benchmarks (bench/ctattn_bench and decode_count)", ["-Dbench=enabled", "-Dtests=disabled", "-Dexamples=disabled"],
         ["bench/ctattn_bench", "bench/decode_count"]),
        # What the arch sweep adds to the benchmark build: its harness and one module per arch.
        ("arch sweep (bench/sweep: ctattn_sweep and its per-arch modules)",
         ["-Dbench=enabled", "-Dtests=disabled", "-Dexamples=disabled"], ["ctattn_sweep_all"]),
    ]:
        tmp = tempfile.mkdtemp(prefix="ctattn-buildtime-")
        try:
            sh(["meson", "setup", tmp] + options, cwd=ROOT)
            t0 = time.time()
            proc = subprocess.run(["meson", "compile", "-C", tmp, "-j", str(jobs)] + targets, capture_output=True,
                                  text=True)
            times[label] = (time.time() - t0, proc.returncode == 0)
        except subprocess.CalledProcessError as e:
            times[label] = (None, False)
            print(e.stdout, e.stderr, file=sys.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return times


def fmt(x, digits=1):
    return "-" if x is None else ("%.*f" % (digits, x))


def ratio(a, b):
    return None if (a is None or b is None or b == 0) else a / b


def metric(result, key):
    if result is None or result.get("error_occurred"):
        return None
    if key == "bytes_per_second":
        return result.get(key)
    return result.get(key)


def kernel_tables(results, peak, family, key, unit):
    """One table per family: a row per shape, ctattn's figure, % of peak, ratio to each baseline."""
    shapes = []
    for name in results:
        fam, shape, impl = split_name(name)
        if fam == family and shape not in shapes:
            shapes.append(shape)
    if not shapes:
        return []

    def shape_order(shape):  # S16/D64/H1/causal: by the numbers, then the words (results arrive shuffled)
        return [(0, int(t[1:]), "") if t[1:].isdigit() else (1, 0, t) for t in shape.split("/")]
    shapes.sort(key=shape_order)
    present = [b for b in BASELINES if any(results.get("%s/%s/%s" % (family, s, b)) for s in shapes)]
    variants = [v for v in VARIANTS if any(results.get("%s/%s/%s" % (family, s, v)) for s in shapes)]
    head = "| shape | ctattn %s |" % unit + (" % of FMA peak |" if key == "GFLOPs" else "") + \
        "".join(" %s %s |" % (v, unit) for v in variants) + "".join(" vs %s |" % b for b in present)
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for shape in shapes:
        ours = metric(results.get("%s/%s/ctattn" % (family, shape)), key)
        row = "| %s | %s |" % (shape, fmt(ours, 2))
        if key == "GFLOPs":
            row += " %s |" % fmt(100.0 * ours / peak if ours and peak else None, 0)
        for v in variants:
            row += " %s |" % fmt(metric(results.get("%s/%s/%s" % (family, shape, v)), key), 2)
        for b in present:
            theirs = metric(results.get("%s/%s/%s" % (family, shape, b)), key)
            r = ratio(ours, theirs)
            row += " %s |" % ("%.2fx" % r if r else "-")
        lines.append(row)
    return lines


# ---- the arch sweep, the floors check, prompt processing ----------------------------

# Archs in the order the sweep's table and chart show them (narrowest first); names as
# bench/sweep/meson.build builds them.
SWEEP_ARCHS = ["scalar", "sse2", "sse4_2", "avx", "avx2_fma", "avx512", "neon64"]
SWEEP_KERNELS = ["projection", "scores", "softmax", "aggregate", "mha", "decode"]
SWEEP_COLOURS = {"scalar": "#7f7f7f", "sse2": "#9ecae1", "sse4_2": "#4292c6", "avx": "#a1d99b",
                 "avx2_fma": "#31a354", "avx512": "#e6550d", "neon64": "#756bb1"}
SWEEP_UNITS = {"GFLOPs": "GFLOP/s", "Gelem_s": "Gelem/s", "tokens_s": "tokens/s"}


def run_sweep(build, min_time, repetitions):
    """Runs bench/sweep/ctattn_sweep (every arch this CPU has); its JSON, or None if not built."""
    binary = os.path.join(build, "bench", "sweep", "ctattn_sweep")
    if not os.path.exists(binary):
        print("no %s: the arch sweep section is left out" % binary, file=sys.stderr)
        return None
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = out.name
    cmd = [binary, "--benchmark_out=" + path, "--benchmark_out_format=json", "--benchmark_min_time=%g" % min_time,
           "--benchmark_repetitions=%d" % repetitions, "--benchmark_enable_random_interleaving=true"]
    print("running:", " ".join(cmd), file=sys.stderr)
    status = subprocess.run(cmd, stdout=sys.stderr).returncode
    data = json.load(open(path))
    os.unlink(path)
    data["exit_status"] = status
    data["command"] = " ".join(cmd)
    return data


def sweep_rates(sweep):
    """{(kernel, shape): {arch: (rate, unit key)}} and {arch: (lanes label, peak GFLOP/s)}."""
    cases, peaks = {}, {}
    for name, r in index_results(sweep).items():
        parts = name.split("/")
        if len(parts) < 4 or parts[0] != "sweep":
            continue
        kernel, shape, arch = parts[1], "/".join(parts[2:-1]), parts[-1]
        key = next((k for k in ("GFLOPs", "Gelem_s", "tokens_s") if k in r), None)
        rate = metric(r, key) if key else None
        if kernel == "fma_peak":
            peaks[arch] = (shape, rate)
        else:
            cases.setdefault((kernel, shape), {})[arch] = (rate, key)
    return cases, peaks


def sweep_order(item):
    (kernel, shape) = item
    k = SWEEP_KERNELS.index(kernel) if kernel in SWEEP_KERNELS else len(SWEEP_KERNELS)
    return (k, [(0, int(t[1:]), "") if t[1:].isdigit() else (1, 0, t) for t in shape.split("/")])


def sweep_lines(sweep, svg_name=None):
    """The per-arch table (rows kernel/shape, a column of figures per arch, then each arch vs
    scalar) and, if svg_name, the chart's image link."""
    cases, peaks = sweep_rates(sweep)
    if not cases:
        return []
    archs = [a for a in SWEEP_ARCHS if any(a in v for v in cases.values())]
    archs += sorted({a for v in cases.values() for a in v} - set(archs))
    context = sweep.get("context", {})
    out = ["## Arch sweep: every kernel on every arch this CPU has", ""]
    out.append("`%s` (exit status %s). bench/sweep/ctattn_sweep builds bench/sweep/sweep_module.cpp once per arch, "
               "each with only that arch's flags (scalar: `-DCTATTN_SIMD_SCALAR` on baseline x86-64; sse2: baseline "
               "x86-64; sse4_2: `-msse4.2`; avx: `-mavx`; avx2_fma: `-mavx2 -mfma`; avx512: `-mavx512f -mavx512cd "
               "-mavx512dq -mavx512bw`; aarch64: scalar and neon64), no -march=native, as a shared "
               "module exporting one symbol; it loads only the modules for archs the CPU reports (xsimd's "
               "available_architectures, cross-checked with `__builtin_cpu_supports`). Archs run: %s; skipped "
               "(the CPU lacks them, never executed): %s. Every case's first result is checked against a double "
               "reference (decode: every step's logits against the plain model) before it is timed." % (
                   sweep.get("command", "(saved json)"), sweep.get("exit_status", "?"),
                   context.get("sweep_archs_run", "?"), context.get("sweep_archs_skipped", "?")))
    out.append("")
    out.append("Scores and P V here are the one-row kernels (the same code on every arch, decode's kernels); the "
               "layer (`mha`) runs what it runs on that arch (packed weights, the blocked core on vector arches). "
               "Softmax in Gelem/s, decode in tokens/s (stories260K shape, 512 steps from an empty cache), the "
               "rest in GFLOP/s. \"x scalar\" is the arch's figure over the scalar module's.")
    out.append("")
    head = "| kernel/shape | unit |" + "".join(" %s |" % a for a in archs) + \
        "".join(" %s x scalar |" % a for a in archs if a != "scalar")
    out += [head, "|" + " --- |" * (head.count("|") - 1)]
    for (kernel, shape) in sorted(cases, key=sweep_order):
        row = cases[(kernel, shape)]
        unit = next((SWEEP_UNITS.get(k) for _, k in row.values() if k), "?")
        base = row.get("scalar", (None, None))[0]
        digits = 0 if kernel == "decode" else 2
        line = "| %s/%s | %s |" % (kernel, shape, unit) + "".join(
            " %s |" % fmt(row.get(a, (None, None))[0], digits) for a in archs)
        line += "".join(" %s |" % (("%.2fx" % ratio(row[a][0], base)) if a in row and ratio(row[a][0], base) else "-")
                        for a in archs if a != "scalar")
        out.append(line)
    if peaks:
        line = "| multiply-add peak | GFLOP/s |" + "".join(
            " %s |" % (fmt(peaks[a][1], 1) + " (%s)" % peaks[a][0] if a in peaks else "-") for a in archs)
        base = peaks.get("scalar", (None, None))[1]
        line += "".join(" %s |" % (("%.2fx" % ratio(peaks[a][1], base)) if a in peaks and ratio(peaks[a][1], base) else "-")
                        for a in archs if a != "scalar")
        out.append(line)
    out.append("")
    out.append("The peak row: independent multiply-add chains on that arch's vector (W = floats per vector), fused "
               "where the arch has FMA (`_fma`), else a multiply and an add (`_mul_add`, counted as 2 FLOPs per "
               "lane like an FMA).")
    gflops = [k for k in sorted(cases, key=sweep_order) if any(key == "GFLOPs" for _, key in cases[k].values())]
    if peaks and gflops:
        out += ["", "The same GFLOP/s as a share of each arch's own peak (%). The scalar module is ctattn's scalar "
                "path as GCC builds it for baseline x86-64 at -O3: where its loops auto-vectorise (SSE2) it passes "
                "the scalar peak, which counts one float per instruction.", ""]
        head = "| kernel/shape |" + "".join(" %s |" % a for a in archs)
        out += [head, "|" + " --- |" * (head.count("|") - 1)]
        for (kernel, shape) in gflops:
            row = cases[(kernel, shape)]
            out.append("| %s/%s |" % (kernel, shape) + "".join(
                " %s |" % fmt(100 * ratio(row[a][0], peaks[a][1]) if a in row and a in peaks and
                              ratio(row[a][0], peaks[a][1]) else None, 0) for a in archs))
    if svg_name:
        out += ["", "![GFLOP/s per arch, by kernel and shape; dashed lines: each width's multiply-add peak](%s)" % svg_name]
    out.append("")
    return out


def sweep_svg(sweep, title="ctattn arch sweep: GFLOP/s per arch, causal masks (dashed: each arch's multiply-add peak)"):
    """A grouped bar chart, hand-written SVG: a group per GFLOP/s kernel/shape, a bar per arch, and
    a dashed horizontal line per arch at its peak."""
    cases, peaks = sweep_rates(sweep)
    groups = [k for k in sorted(cases, key=sweep_order)
              if any(key == "GFLOPs" for _, key in cases[k].values())]
    if not groups:
        return None
    archs = [a for a in SWEEP_ARCHS if any(a in cases[g] for g in groups)]
    top = max([r for g in groups for r, _ in cases[g].values() if r] + [p for _, p in peaks.values() if p] + [1.0])
    step = 10 ** math.floor(math.log10(top))
    step = step / 2 if top / step < 4 else step
    top = math.ceil(top * 1.05 / step) * step
    left, right, upper, lower = 60, 215, 60, 45
    bar, gap = 13, 22
    group_w = bar * len(archs) + gap
    width = left + group_w * len(groups) + right
    height = 400
    plot_h = height - upper - lower

    def y(v):
        return upper + plot_h * (1 - v / top)

    e = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="sans-serif" font-size="11">' % (width, height, width, height),
         '<rect x="0" y="0" width="%d" height="%d" fill="white"/>' % (width, height),
         '<text x="%d" y="20" font-size="13" font-weight="bold">%s</text>' % (left, escape(title))]
    tick = 0.0
    while tick <= top + 1e-9:
        e.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>' % (left, y(tick), width - right, y(tick)))
        e.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (left - 6, y(tick) + 4, tick))
        tick += step
    e.append('<text x="14" y="%.1f" transform="rotate(-90 14 %.1f)" text-anchor="middle">GFLOP/s</text>' % (
        upper + plot_h / 2, upper + plot_h / 2))
    for gi, g in enumerate(groups):
        x0 = left + gap / 2 + gi * group_w
        for ai, a in enumerate(archs):
            rate = cases[g].get(a, (None, None))[0]
            if rate:
                e.append('<rect x="%.1f" y="%.1f" width="%d" height="%.1f" fill="%s"><title>%s %s/%s: %.1f GFLOP/s'
                         '</title></rect>' % (x0 + ai * bar, y(rate), bar - 1, y(0) - y(rate), SWEEP_COLOURS.get(a, "#333"),
                                              a, g[0], g[1], rate))
        cx = x0 + bar * len(archs) / 2
        # Two centred lines under the group: the kernel, then its shape (the mask is always causal here).
        e.append('<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>' % (cx, y(0) + 15, escape(g[0])))
        e.append('<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>' % (cx, y(0) + 29, escape(g[1].replace("/causal", ""))))
    e.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>' % (left, y(0), width - right, y(0)))
    # Peak lines, one per arch (archs of one width share a line's height when both fuse or both don't).
    labelled = []
    for a in archs:
        if a not in peaks or not peaks[a][1]:
            continue
        shape, p = peaks[a]
        e.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"/>' % (
            left, y(p), width - right, y(p), SWEEP_COLOURS.get(a, "#333")))
        ly = y(p) + 4
        while any(abs(ly - l) < 12 for l in labelled):
            ly += 12
        labelled.append(ly)
        e.append('<text x="%d" y="%.1f" fill="%s">%s peak %.0f (%s)</text>' % (
            width - right + 6, ly, SWEEP_COLOURS.get(a, "#333"), a, p, shape))
    for ai, a in enumerate(archs):  # legend, under the title
        lx = left + ai * 95
        e.append('<rect x="%d" y="30" width="10" height="10" fill="%s"/>' % (lx, SWEEP_COLOURS.get(a, "#333")))
        e.append('<text x="%d" y="39">%s</text>' % (lx + 14, a))
    e.append("</svg>")
    return "\n".join(e) + "\n"


def escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# The tables the floors apply to, and the figure each is judged by.
FLOOR_TABLES = [("projection", "GFLOPs"), ("scores", "GFLOPs"), ("softmax", "Gelem_s"), ("aggregate", "GFLOPs"),
                ("mha", "GFLOPs"), ("block", "GFLOPs"), ("decode", "tokens_s")]
FLOOR_IMPLS = ["ctattn", "ctattn_packed"]
FLOOR_BASES = ["ctattn_scalar", "eigen_dynamic"]


def floor_ratios(results, sweep=None):
    """[(table, shape, impl, baseline, ratio)] for every pair measured: ctattn and ctattn_packed
    against ctattn's scalar path and Eigen dynamic in each table; in the sweep, each arch against
    the scalar module."""
    out = []
    for family, key in FLOOR_TABLES:
        shapes = sorted({split_name(n)[1] for n in results if split_name(n)[0] == family})
        for shape in shapes:
            for impl in FLOOR_IMPLS:
                ours = metric(results.get("%s/%s/%s" % (family, shape, impl)), key)
                for base in FLOOR_BASES:
                    theirs = metric(results.get("%s/%s/%s" % (family, shape, base)), key)
                    if ours is not None and theirs:
                        out.append((family, shape, impl, base, ours / theirs))
    if sweep:
        cases, _ = sweep_rates(sweep)
        for (kernel, shape), row in sorted(cases.items(), key=lambda kv: sweep_order(kv[0])):
            base = row.get("scalar", (None, None))[0]
            for arch, (rate, _) in row.items():
                if arch != "scalar" and rate is not None and base:
                    out.append(("sweep", kernel + "/" + shape, arch, "scalar module", rate / base))
    return out


def floors_lines(results, sweep=None):
    """The "Floors" section and the list of (table, shape, impl, baseline, ratio) below 1.0."""
    ratios = floor_ratios(results, sweep)
    if not ratios:
        return [], []
    below = [r for r in ratios if r[4] < 1.0]
    out = ["## Floors: ctattn >= 1.0x its scalar path and >= 1.0x Eigen dynamic at every shape", ""]
    out.append("For every shape of every table above, `ctattn` (and `ctattn_packed` where measured) divided by "
               "`ctattn_scalar` and by `eigen_dynamic` (where measured); in the arch sweep, every arch divided by the "
               "scalar module. `ctattn_onerow` is the decode kernel, shown in the tables for information and not "
               "held to these floors. `python3 tools/bench_report.py --check` exits 1 if any ratio is below 1.0.")
    out.append("")
    out += ["| table | pairs checked | lowest ratio | at | below 1.0 |", "| --- | --- | --- | --- | --- |"]
    tables = []
    for r in ratios:
        if r[0] not in tables:
            tables.append(r[0])
    for t in tables:
        rs = [r for r in ratios if r[0] == t]
        low = min(rs, key=lambda r: r[4])
        out.append("| %s | %d | %.2fx | %s %s vs %s | %d |" % (t, len(rs), low[4], low[1], low[2], low[3],
                                                            sum(1 for r in rs if r[4] < 1.0)))
    out.append("")
    if below:
        out.append("Below 1.0 (%d):" % len(below))
        out.append("")
        out += ["| table | shape | implementation | vs | ratio |", "| --- | --- | --- | --- | --- |"]
        for t, shape, impl, base, r in sorted(below, key=lambda r: r[4]):
            out.append("| %s | %s | %s | %s | %.2fx |" % (t, shape, impl, base, r))
    else:
        out.append("No shape below 1.0.")
    out.append("")
    return out, below


PREFILL_IMPLS = ["ctattn", "ctattn_token_by_token", "plain", "plain_fastmath"]


def prefill_lines(results):
    """The "Prompt processing" table from prefill/<model>/P<n>/<impl> (tokens_per_second), with
    each model's decode figure beside it; nothing if no prefill benchmark ran."""
    rows = {}
    for name, r in results.items():
        parts = name.split("/")
        if len(parts) == 4 and parts[0] == "prefill" and parts[2].startswith("P") and parts[2][1:].isdigit():
            rows.setdefault((parts[1], int(parts[2][1:])), {})[parts[3]] = metric(r, "tokens_per_second")
    if not rows:
        return []
    out = ["## Prompt processing (tokens/s over a prompt of P tokens, fp32, one thread, random weights)", ""]
    out.append("`ctattn`: the decoder's prefill (its default compile-time chunk); `ctattn_token_by_token`: the same "
               "decoder fed one token at a time; `plain` / `plain_fastmath`: llama2.c-style loops, token by token as "
               "run.c prefills. Decode: ctattn's decode throughput over a full sequence (the decode table), for "
               "comparison.")
    out.append("")
    head = "| model | prompt | " + " | ".join(PREFILL_IMPLS) + " | decode (ctattn) | vs plain_fastmath | vs token by token |"
    out += [head, "|" + " --- |" * (head.count("|") - 1)]
    for (model, prompt) in sorted(rows, key=lambda k: (k[0], k[1])):
        r = rows[(model, prompt)]
        decode = metric(results.get("decode/%s/ctattn" % model), "tokens_s")
        ours = r.get("ctattn")
        vs_fast, vs_tbt = ratio(ours, r.get("plain_fastmath")), ratio(ours, r.get("ctattn_token_by_token"))
        out.append("| %s | %d | %s | %s | %s | %s |" % (
            model, prompt, " | ".join(fmt(r.get(i)) for i in PREFILL_IMPLS), fmt(decode),
            ("%.2fx" % vs_fast) if vs_fast else "-", ("%.2fx" % vs_tbt) if vs_tbt else "-"))
    out.append("")
    return out


def asm_listing_lines(build, kernel="projection", arch="avx512", shape="S64/D256"):
    """One hot loop as tools/asm_loop.py prints it (compiled now, with this machine's compiler)."""
    cmd = [sys.executable, os.path.join(ROOT, "tools", "asm_loop.py"), "--kernel", kernel, "--arch", arch,
           "--shape", shape]
    print("running:", " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        print(proc.stderr, file=sys.stderr)
        return []
    shown = "python3 tools/asm_loop.py --kernel %s --arch %s --shape %s" % (kernel, arch, shape)
    out = ["## The hot loop in assembly", ""]
    out.append("`%s` compiles the kernel in a wrapper between two asm markers with this machine's compiler "
               "(the arch's flags, as the sweep module), disassembles it and what it calls (objdump -d) and prints "
               "the innermost loop (a backward branch with no other loop inside) with the most multiply-adds, with "
               "a count per instruction class; `--check` (a meson test) fails unless that loop is loads and FMAs "
               "besides its counter, pointer and branch instructions:" % shown)
    out.append("")
    out.append("```")
    out += proc.stdout.rstrip("\n").split("\n")
    out.append("```")
    out.append("")
    return out


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-bench", help="meson build folder configured with -Dbench=enabled")
    ap.add_argument("--min-time", type=float, default=0.05, help="--benchmark_min_time per repetition (seconds)")
    ap.add_argument("--repetitions", type=int, default=5, help="repetitions per benchmark, interleaved at random")
    ap.add_argument("--filter", default="", help="--benchmark_filter regex (default: everything)")
    ap.add_argument("--json", default="", help="reuse a saved result file instead of running the benchmarks")
    ap.add_argument("--save-json", default="", help="also save the raw results here")
    ap.add_argument("--build-times", action="store_true", help="time fresh builds of tests and benchmarks (slow)")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--firmware-builds", default="build-m3,build-m4,build-m7",
                    help="comma-separated Cortex-M build folders for the emulated-core instruction counts "
                         "(those that exist; '' for none)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "performance.md"))
    ap.add_argument("--no-sweep", action="store_true", help="leave out the arch sweep (bench/sweep/ctattn_sweep)")
    ap.add_argument("--svg", default=os.path.join(ROOT, "docs", "perf_arch_sweep.svg"),
                    help="where the arch sweep's chart goes (linked from --out by its path relative to it)")
    ap.add_argument("--no-asm", action="store_true", help="leave out the hot-loop listing (tools/asm_loop.py)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 if any shape is below 1.0x ctattn's scalar path or Eigen dynamic (the Floors section)")
    return ap.parse_args(argv)


def measurement_options(args):
    """The options that choose what a run measures: the report's configuration input."""
    return {"min_time": args.min_time, "repetitions": args.repetitions, "filter": args.filter,
            "build_times": args.build_times, "callgrind": not args.no_callgrind,
            "firmware_builds": args.firmware_builds, "sweep": not args.no_sweep, "asm": not args.no_asm}


def banner_line(args, argv, when):
    """The report's opening: when, the exact command (run from the source root) and the SHA-256
    (first 16 hex digits) of its configuration, measurement_options as sorted JSON."""
    digest = hashlib.sha256(json.dumps(measurement_options(args), sort_keys=True).encode()).hexdigest()[:16]
    command = " ".join(["python3", "tools/bench_report.py"] + [shlex.quote(a) for a in argv])
    return ("Generated by tools/bench_report.py on %s UTC. Do not edit; regenerate with `%s` from the source root "
            "(configuration SHA-256 %s)." % (when, command, digest))


def gather(args, build):
    """The results the report is written from: the benchmark run (or --json), the sweep, the
    callgrind and emulated-core counts (saved with it), and the build times."""
    data = json.load(open(args.json)) if args.json else run_benchmarks(build, args.min_time, args.filter, args.repetitions)
    # The arch sweep: its own binary, run right after the main one (or saved with it).
    if "sweep" not in data:
        data["sweep"] = None if (args.no_sweep or args.json) else run_sweep(build, args.min_time, args.repetitions)
    if "callgrind" in data:  # saved with the results: reuse (valgrind takes minutes)
        counts = {tuple(c["case"]): c["per_token"] for c in data["callgrind"]}
    else:
        counts = {} if args.no_callgrind else callgrind_counts(build, [
            ("ctattn", "stories260K", 64), ("plain", "stories260K", 64), ("plain_fastmath", "stories260K", 64),
            ("ctattn_scalar", "stories260K", 64),
            ("ctattn", "stories15M", 2), ("plain", "stories15M", 2), ("plain_fastmath", "stories15M", 2)])
        data["callgrind"] = [{"case": list(k), "per_token": v} for k, v in counts.items()]
    if "q8_decode" not in data:  # int8 decode beside float and the plain int8 loops (bench_decode_q8)
        data["q8_decode"] = None if args.json else run_q8_decode(build, args.min_time, args.repetitions)
    if "emulated" not in data:  # instruction counts on emulated Cortex-M cores (tools/emulated_counts.py)
        builds = [b for b in args.firmware_builds.split(",") if b and
                  os.path.exists(os.path.join(ROOT, b, "tests", "embedded", "emulated_counts.json"))]
        data["emulated"] = []
        if builds:
            cmd = [sys.executable, os.path.join(ROOT, "tools", "emulated_counts.py"), "--check", "--json"]
            for b in builds:
                cmd += ["--build", os.path.join(ROOT, b)]
            print("running:", " ".join(cmd), file=sys.stderr)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            data["emulated"] = json.loads(proc.stdout) if proc.stdout.strip() else []
            data["emulated_status"] = proc.returncode
            data["emulated_builds"] = builds
    if args.save_json:
        json.dump(data, open(args.save_json, "w"), indent=1)
    # Build times: measured now with --build-times (and saved), else the last saved measurement.
    times_file = os.path.join(ROOT, "bench", "build_times.json")
    if args.build_times:
        build_times = {k: {"seconds": v[0], "ok": v[1], "when": datetime.datetime.utcnow().isoformat(timespec="minutes"),
                           "how": "fresh meson folder, meson compile -j 2"} for k, v in time_builds().items()}
        json.dump(build_times, open(times_file, "w"), indent=1)
    else:
        try:
            build_times = json.load(open(times_file))
        except (OSError, ValueError):
            build_times = {}

    return data, counts, build_times


def svg_with_banner(svg, banner):
    """The chart with the banner as its <desc>, the root element's first child."""
    root_end = svg.index(">", svg.index("<svg")) + 1
    return svg[:root_end] + "\n<desc>%s</desc>" % escape(banner) + svg[root_end:]


def header_lines(info, build, data, banner):
    out = []
    w = out.append
    w("# Performance")
    w("")
    w(banner)
    w("")
    w("## Machine, compiler, flags")
    w("")
    w("- CPU: %s, %s logical cores; vector ISA flags: %s; caches: L1d %s, L2 %s, L3 %s" % (
        info["cpu"], info["cores"], info["flags"], info.get("L1d cache", "?"), info.get("L2 cache", "?"),
        info.get("L3 cache", "?")))
    w("- Compiler: %s" % info["compiler"])
    w("- ctattn, its scalar path, Eigen and the `plain` loops: `%s`" % compile_flags(build, "bench/bench_mha.cpp"))
    w("- `plain_fastmath` loops: `%s`" % compile_flags(build, "bench/plain_loops_fast.cpp"))
    w("- ctattn's vector arch: `%s`; ctattn needs no -ffast-math (the same flags as the `plain` column)." %
      data.get("context", {}).get("ctattn_arch", "?"))
    w("- Benchmark run: `%s` (exit status %s: 0 means every result matched its reference before timing)." % (
        data.get("command", "(saved json)"), data.get("exit_status", "?")))
    w("- The machine is a shared 2-core VM: absolute times are noisy, so the figures that matter are")
    w("  ratios between implementations measured in the same run (each figure is the best of its")
    w("  repetitions, run in random order across all benchmarks), and the instruction counts below.")
    w("")
    w("Implementations: `ctattn` (xsimd, widest arch; for scores and aggregation the blocked kernels the")
    w("layer runs, for the layer packed weights), `ctattn_packed` (projection from packed weights),")
    w("`ctattn_onerow` (the one-query-row kernels decode runs), `ctattn_scalar` (ctattn's `scalar_arch` path),")
    w("`plain` (llama2.c-style loops, weights (out, in), one dot product per output, same flags as ctattn),")
    w("`plain_fastmath` (the same source with -O3 -march=native -ffast-math), `eigen_fixed` (Eigen 3.4")
    w("fixed-size matrices), `eigen_dynamic` (Eigen 3.4 dynamic matrices). GFLOP/s count useful work only")
    w("(masked scores are not credited). \"vs X\" is ctattn's throughput divided by X's (higher is better).")
    w("")
    return out


def ceilings_lines(results, peak, bandwidth):
    out = []
    w = out.append
    w("## Ceilings")
    w("")
    w("| ceiling | figure |")
    w("| --- | --- |")
    w("| FMA peak, one core (%s, independent FMA chains) | %s GFLOP/s |" % (
        (results.get("ceiling/fma_peak") or {}).get("label", "?"), fmt(peak)))
    for k, v in bandwidth.items():
        w("| read bandwidth, %s | %s GB/s |" % (k.replace("_", " "), fmt(v / 1e9 if v else None)))
    w("")
    return out


def kernel_lines(results, peak):
    out = []
    w = out.append
    for family, key, unit, title in [
        ("projection", "GFLOPs", "GFLOP/s", "Projection Y = X W (S rows, width x width weights)"),
        ("scores", "GFLOPs", "GFLOP/s", "Scores Q K^T / sqrt(head_dim), all heads"),
        ("softmax", "Gelem_s", "Gelem/s", "Masked softmax over each row's visible keys, all heads"),
        ("aggregate", "GFLOPs", "GFLOP/s", "Aggregation P V, all heads"),
        ("mha", "GFLOPs", "GFLOP/s", "Multi-head attention layer (4 projections + attention, no bias)"),
        ("block", "GFLOPs", "GFLOP/s", "Transformer block over a prompt (llama layer: RMSNorm, GQA + RoPE, SwiGLU; "
                                       "plain runs the prompt token by token as run.c does)"),
    ]:
        lines = kernel_tables(results, peak, family, key, unit)
        if lines:
            w("## " + title)
            w("")
            out.extend(lines)
            w("")

    return out


def decode_lines(results, info, weights_bw, dram):
    out = []
    w = out.append
    decode_rows = []
    for model in ["stories260K", "stories15M", "stories260K_16tokens_smoke"]:
        impls = {impl: metric(results.get("decode/%s/%s" % (model, impl)), "tokens_s") for impl in IMPLS}
        if impls.get("ctattn") is None and impls.get("plain") is None:
            continue
        decode_rows.append((model, impls))
    if decode_rows:
        w("## Decode throughput (tokens/s over a full sequence, fp32, one thread, random weights)")
        w("")
        w("| model | ctattn | ctattn_scalar | plain | plain_fastmath | ctattn vs plain | vs plain_fastmath |")
        w("| --- | --- | --- | --- | --- | --- | --- |")
        for model, impls in decode_rows:
            w("| %s | %s | %s | %s | %s | %s | %s |" % (
                model, fmt(impls["ctattn"]), fmt(impls["ctattn_scalar"]), fmt(impls["plain"]),
                fmt(impls["plain_fastmath"]),
                fmt(ratio(impls["ctattn"], impls["plain"]), 2) + "x",
                fmt(ratio(impls["ctattn"], impls["plain_fastmath"]), 2) + "x"))
        w("")
        r15 = results.get("decode/stories15M/ctattn")
        if r15 and weights_bw:
            weight_bytes = r15.get("weight_MB", 0) * 1e6
            bound = weights_bw / weight_bytes if weight_bytes else None
            got = metric(r15, "tokens_s")
            fast = metric(results.get("decode/stories15M/plain_fastmath"), "tokens_s")
            w("stories15M bandwidth bound: every weight is read once per token, %.1f MB; at the read bandwidth"
              " measured on a buffer of that size (%.1f GB/s) that is %s tokens/s. ctattn reaches %s tokens/s ="
              " %s%% of the bound (plain -ffast-math: %s%%). With DRAM's bandwidth (%s GB/s, 1 GiB buffer) the"
              " bound would be %s tokens/s: on this machine the weights stay in the L3 (%s)." % (
                  weight_bytes / 1e6, weights_bw / 1e9, fmt(bound), fmt(got),
                  fmt(100 * ratio(got, bound) if bound else None, 0), fmt(100 * ratio(fast, bound) if bound else None, 0),
                  fmt(dram / 1e9 if dram else None), fmt(dram / weight_bytes if dram and weight_bytes else None),
                  info.get("L3 cache", "?")))
            w("")
    return out


def q8_decode_lines(q8data):
    """The int8 decode table: ratios from one run of bench_decode_q8, and the int8 bandwidth bound."""
    out = []
    w = out.append
    if not q8data:
        return out
    r = median_results(q8data)
    tok = {impl: metric(r.get("decode/stories15M/" + impl), "tokens_s") for impl in Q8_IMPLS}
    if tok["ctattn_q8"] is None:
        return out
    w("## Decode throughput, int8 weights (Q8 w8a8, stories15M shape)")
    w("")
    w("`%s` (exit status %s; medians of the interleaved repetitions). `ctattn_q8`: the decoder on"
      " `with_weight_format<stories15M, q8_weights<>>` (G 32); `plain_q8`: llama2.c runq.c-style loops"
      " (Q8_0, groups of 32, activations quantized per matrix input, one integer dot per group; bench/plain_q8_loops.hpp)"
      " with ctattn's flags, `plain_q8_fastmath` the same source with -O3 -march=native -ffast-math." % (
          q8data.get("command", "?"), q8data.get("exit_status", "?")))
    w("")
    w("| implementation | tokens/s | ctattn int8 vs this |")
    w("| --- | --- | --- |")
    for impl in Q8_IMPLS:
        w("| %s | %s | %s |" % (impl, fmt(tok[impl]), fmt(ratio(tok["ctattn_q8"], tok[impl]), 2) + "x"))
    w("")
    q8_bytes = (r.get("decode/stories15M/ctattn_q8") or {}).get("weight_MB", 0) * 1e6
    f_bytes = (r.get("decode/stories15M/ctattn") or {}).get("weight_MB", 0) * 1e6
    q8_bw = metric(r.get("ceiling/read_bandwidth/q8_weights"), "bytes_per_second")
    f_bw = metric(r.get("ceiling/read_bandwidth/float_weights"), "bytes_per_second")
    if q8_bytes and q8_bw:
        bound = q8_bw / q8_bytes
        w("int8 bandwidth bound: %.1f MB of codes, scales and norms read per token; at the read bandwidth measured"
          " in the same run on a buffer of that size (%.1f GB/s) that is %s tokens/s; ctattn int8 reaches %s%%"
          " of it. (Float: %.1f MB at %s GB/s, bound %s tokens/s, ctattn float %s%%.)" % (
              q8_bytes / 1e6, q8_bw / 1e9, fmt(bound), fmt(100 * ratio(tok["ctattn_q8"], bound), 0),
              f_bytes / 1e6, fmt(f_bw / 1e9 if f_bw else None), fmt(ratio(f_bw, f_bytes)),
              fmt(100 * ratio(tok["ctattn"], ratio(f_bw, f_bytes)) if f_bw and f_bytes else None, 0)))
        w("")
    return out


def q8_decode_targets(q8data, lines, missed):
    """int8 decode at stories15M's shape: >= 2.5x ctattn float, >= 1.5x the runq.c-style loops,
    >= 85% of the int8 bandwidth bound."""
    if not q8data:
        return
    r = median_results(q8data)
    tok = {impl: metric(r.get("decode/stories15M/" + impl), "tokens_s") for impl in Q8_IMPLS}
    if tok["ctattn_q8"] is None:
        return
    q8_bytes = (r.get("decode/stories15M/ctattn_q8") or {}).get("weight_MB", 0) * 1e6
    q8_bw = metric(r.get("ceiling/read_bandwidth/q8_weights"), "bytes_per_second")
    vs_float = ratio(tok["ctattn_q8"], tok["ctattn"])
    vs_plain = ratio(tok["ctattn_q8"], tok["plain_q8"])
    share = 100 * ratio(tok["ctattn_q8"], q8_bw / q8_bytes) if q8_bytes and q8_bw else None
    lines.append("- stories15M-shape int8 decode: %s ctattn float (target >= 2.5x), %s the runq.c-style loops "
                 "(target >= 1.5x; %s their -ffast-math build), %s%% of the int8 bandwidth bound (target >= 85%%)." % (
                     fmt(vs_float, 2) + "x", fmt(vs_plain, 2) + "x",
                     fmt(ratio(tok["ctattn_q8"], tok["plain_q8_fastmath"]), 2) + "x", fmt(share, 0)))
    for name, value, target in [("int8 decode vs float", vs_float, 2.5), ("int8 decode vs plain int8", vs_plain, 1.5),
                                ("int8 decode bandwidth share", share, 85)]:
        if value is None or value < target:
            missed.append(name)


def sweep_section_lines(sweep, svg_path, out_path, banner):
    """The arch sweep's table, after writing its chart to svg_path (linked relative to out_path)
    with the report's banner as an XML comment."""
    out = []
    w = out.append
    if sweep:
        svg = sweep_svg(sweep)
        svg_link = None
        if svg:
            with open(svg_path, "w") as f:
                f.write(svg_with_banner(svg, banner))
            svg_link = os.path.relpath(svg_path, os.path.dirname(os.path.abspath(out_path)))
        out.extend(sweep_lines(sweep, svg_link))
    return out


def callgrind_lines(counts, build_arg):
    out = []
    w = out.append
    if counts:
        w("## Instruction counts of the decode step (callgrind)")
        w("")
        w("`valgrind --tool=callgrind --toggle-collect='*decode_sequence_*' %s/bench/decode_count IMPL MODEL STEPS`:"
          " instructions executed by STEPS decode steps from an empty cache, divided by STEPS. decode_count and"
          " its plain loops are built with -mno-avx512f (valgrind 3.19 cannot decode AVX-512), so on an AVX-512"
          " machine these are AVX2 + FMA counts for every implementation." % build_arg)
        w("")
        w("| model (steps) | implementation | instructions per token | plain / this |")
        w("| --- | --- | --- | --- |")
        for (impl, model, steps), per_token in counts.items():
            base = counts.get(("plain", model, steps))
            w("| %s (%d) | %s | %s | %s |" % (model, steps, impl, "-" if per_token is None else "{:,.0f}".format(per_token),
                                             fmt(ratio(base, per_token), 2) + "x"))
        w("")
    return out


def kept_cortex_m_sweep(path):
    """The per-kernel sweep on emulated Cortex-M cores (tools/emulated_counts.py --sweep --doc writes it:
    QEMU runs of four firmware builds), carried over as it is from the file being rewritten."""
    begin, end = "<!-- kernel-sweep: begin", "<!-- kernel-sweep: end -->"
    text = open(path).read() if os.path.exists(path) else ""
    if begin not in text or end not in text:
        return []
    return text[text.index(begin):text.index(end) + len(end)].split("\n") + [""]


def emulated_lines(data):
    out = []
    w = out.append
    if data.get("emulated"):  # the section tools/emulated_counts.py --doc writes, from the same results
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        import emulated_counts
        for line in emulated_counts.doc_lines(data["emulated"], "python3 tools/emulated_counts.py --build " +
                                              " --build ".join(data.get("emulated_builds", []))):
            w(line)
        w("")
    return out


def build_times_lines(build_times):
    out = []
    w = out.append
    if build_times:
        w("## Build times")
        w("")
        w("From bench/build_times.json (rewritten by `tools/bench_report.py --build-times`): fresh meson folders,")
        w("`meson compile -j 2` on this 2-core machine with nothing else running.")
        w("")
        w("| what | wall seconds | ok | when | how |")
        w("| --- | --- | --- | --- | --- |")
        for label, t in build_times.items():
            w("| %s | %s | %s | %s | %s |" % (label, fmt(t.get("seconds"), 0), "yes" if t.get("ok") else "FAILED",
                                           t.get("when", "?"), t.get("how", "?")))
        w("")

    return out


def grid_lines():
    out = []
    w = out.append
    w("## Grid kept")
    w("")
    w("- projection: S in {16, 64, 256} x width in {64, 128, 256, 512}, every implementation (row-major and packed")
    w("  weights for ctattn); Eigen fixed-size at S=64 for every width and at S=16/256 for width 256 (each fixed")
    w("  shape is its own instantiation of Eigen's product, the slowest thing in the bench to compile).")
    w("- scores, softmax, aggregation: S=64 for every width x heads in {1, 4, 8} x {causal, none}, plus S=16 and")
    w("  S=256 at width 256 / 8 heads; Eigen dynamic only (an Eigen user writes these with run-time blocks).")
    w("- multi-head layer: the full grid S x width x heads x mask for ctattn, its scalar path, both plain builds")
    w("  and Eigen dynamic (ctattn instantiates per width x heads x mask; S is a run-time length up to a capacity")
    w("  of 256); Eigen fixed-size at the target point (S=64, width 256, 8 heads, causal and none) and one axis")
    w("  at a time from it (S 16/256, width 64/128/512, heads 1/4), plus S=16/width 64/4 heads for bench_smoke.")
    w("- block: stories260K's and stories15M's layer shapes (one layer, random weights) over S in {16, 64, 256}.")
    w("- decode: stories260K (512 tokens, ctattn, its scalar path, plain, plain -ffast-math) and stories15M")
    w("  (256 tokens, without the scalar path: seconds per sequence, nothing new), plus a 16-token stories260K")
    w("  run for bench_smoke. kv_heads == heads in the layer grid; the decode shapes use the models' own.")
    w("")
    return out


def method_lines():
    out = []
    w = out.append
    w("## Method and correctness gate")
    w("")
    w("Before timing, every benchmark computes its result once and compares it with a double-precision")
    w("reference (tests/reference/forward_double.hpp; the block and decode benchmarks compare with the plain model")
    w("on the same checkpoint bytes, every step's logits for decode); a mismatch skips the benchmark with an")
    w("error and makes the binary exit 1 (`meson test bench_smoke` runs the small points this way). Rates use")
    w("CPU time (Google Benchmark's default for counters).")
    w("")
    w("What the kernels do (include/ctattn/kernels/): projection tiles of 6 rows x 4 vectors (AVX-512's 32")
    w("registers; 6 x 2 with 16) with the column panel as the outer loop; remainder row blocks and decode's")
    w("single row get their own wider tiles chosen at compile time; columns left over after whole vectors go")
    w("to the next narrower vector arch (AVX-512 -> AVX2 -> SSE) before scalar. Packed weights")
    w("(`kernels::packed_matrix`, `multi_head_attention::packed_weights_type`) store each tile's column panel")
    w("contiguously, packed once at load time, bit-identical results. The layer's attention core is blocked:")
    w("per KV head K is transposed once, then per block of 6 queries one register tile computes the scores")
    w("(Q rows x K^T columns, only the keys some row of the block sees), softmax folds the 1/sqrt(head_dim)")
    w("scale into its exponent and handles a row's tail as one masked vector, and a second tile computes P V")
    w("(every V vector serves all 6 rows). Decode's one-row core scores a vector's width of keys at once from")
    w("K as stored and reduces them with one transpose-and-add; kernels along head_dim use the widest vector")
    w("no wider than head_dim (stories260K's head_dim 8 runs 8-wide under AVX-512). No -ffast-math: every")
    w("reassociation is explicit in the code, and the tests' tolerances bound it.")
    w("")
    return out


def layer_target(results, peak, lines, missed):
    """The multi-head layer at S=64, width 256, 8 heads, causal against its issue-13 targets."""
    mha = "mha/S64/D256/H8/causal/"
    ours = metric(results.get(mha + "ctattn"), "GFLOPs")
    mha_peak = 100 * ours / peak if ours and peak else None
    vs_fixed = ratio(ours, metric(results.get(mha + "eigen_fixed"), "GFLOPs"))
    vs_fast = ratio(ours, metric(results.get(mha + "plain_fastmath"), "GFLOPs"))
    lines.append("- Multi-head layer, S=64, width 256, 8 heads, causal: ctattn %s GFLOP/s = %s%% of FMA peak "
                 "(target >= 85%%); %s Eigen fixed-size (target >= 1.5x); %s Eigen dynamic; "
                 "%s plain -ffast-math loops (target >= 2.5x); %s plain loops with ctattn's flags; %s ctattn's "
                 "scalar path." % (
                     fmt(ours), fmt(mha_peak, 1), fmt(vs_fixed, 2) + "x",
                     fmt(ratio(ours, metric(results.get(mha + "eigen_dynamic"), "GFLOPs")), 2) + "x",
                     fmt(vs_fast, 2) + "x",
                     fmt(ratio(ours, metric(results.get(mha + "plain"), "GFLOPs")), 2) + "x",
                     fmt(ratio(ours, metric(results.get(mha + "ctattn_scalar"), "GFLOPs")), 2) + "x"))
    if mha_peak is None or mha_peak < 85:
        missed.append("the layer's fraction of peak (85%)")
    if vs_fixed is None or vs_fixed < 1.5:
        missed.append("the layer vs Eigen fixed-size (1.5x)")
    if vs_fast is None or vs_fast < 2.5:
        missed.append("the layer vs plain -ffast-math")


def projection_target(results, peak, lines, missed):
    """Projection at width >= 128 against 75% of the FMA peak."""
    proj = []
    for name, r in results.items():
        fam, shape, impl = split_name(name)
        m = re.match(r"S(\d+)/D(\d+)$", shape)
        if fam == "projection" and impl == "ctattn" and m and int(m.group(2)) >= 128 and peak:
            best = max([g for g in (metric(r, "GFLOPs"), metric(results.get("projection/%s/ctattn_packed" % shape),
                                                                "GFLOPs")) if g] or [0])
            if best:
                proj.append((100 * best / peak, shape))
    if proj:
        below = [sh for p_, sh in proj if p_ < 75]
        lines.append("- Projection, width >= 128, weights in cache (the better of row-major and packed weights): %s%% .. "
                     "%s%% of FMA peak over %s (target >= 75%%; lowest at %s, highest at %s%s)." % (
                         fmt(min(proj)[0], 0), fmt(max(proj)[0], 0),
                         ", ".join(s_ for _, s_ in sorted(proj, key=lambda t: t[1])), min(proj)[1], max(proj)[1],
                         "; below 75%%: %s" % ", ".join(below) if below else ""))
        if below:
            missed.append("projection at " + ", ".join(below))


def decode_targets(results, weights_bw, lines, missed):
    """stories260K-shape decode against the plain loops, stories15M-shape against the bandwidth bound."""
    d260 = {impl: metric(results.get("decode/stories260K/" + impl), "tokens_s") for impl in IMPLS}
    if d260["ctattn"]:
        r = ratio(d260["ctattn"], d260["plain"])
        r_fast = ratio(d260["ctattn"], d260["plain_fastmath"])
        lines.append("- stories260K-shape decode: %s the plain-loops model (target >= 3x), %s the -ffast-math build "
                     "(target >= 3.5x)." % (fmt(r, 2) + "x", fmt(r_fast, 2) + "x"))
        if r is None or r < 3:
            missed.append("stories260K decode vs plain")
        if r_fast is None or r_fast < 3.5:
            missed.append("stories260K decode vs plain -ffast-math")
    r15 = results.get("decode/stories15M/ctattn")
    if r15 and weights_bw:
        bound = weights_bw / (r15.get("weight_MB", 0) * 1e6)
        got = metric(r15, "tokens_s")
        share = 100 * ratio(got, bound)
        lines.append("- stories15M-shape decode: %s%% of the bandwidth bound (target >= 90%%; the bound is the read "
                     "bandwidth measured in this run on a buffer the size of the %.0f MB of weights); %s the plain "
                     "model, %s its -ffast-math build, which streams each weight row once as well." % (
                         fmt(share, 0), r15.get("weight_MB", 0),
                         fmt(ratio(got, metric(results.get("decode/stories15M/plain"), "tokens_s")), 2) + "x",
                         fmt(ratio(got, metric(results.get("decode/stories15M/plain_fastmath"), "tokens_s")), 2) + "x"))
        if share < 90:
            missed.append("stories15M decode")


def onerow_note(results, lines):
    """Where the one-row scores kernel beats the blocked one (the layer picks at compile time)."""
    onerow_wins = []
    for name, r in results.items():
        fam, shape, impl = split_name(name)
        if fam == "scores" and impl == "ctattn":
            one = metric(results.get("scores/%s/ctattn_onerow" % shape), "GFLOPs")
            got = metric(r, "GFLOPs")
            if one and got and one > got:
                onerow_wins.append(shape)
    if onerow_wins:
        lines.append("- The scores table's one-row kernel beats the blocked kernel at %s; the layer picks its core at "
                     "compile time from head_dim and the mask (layers/attention_core_selector.hpp, "
                     "blocked_attention_min_queries), so the layer table is what a user gets." % ", ".join(sorted(onerow_wins)))


def targets_lines(results, peak, weights_bw, below_floor, q8data=None):
    """The closing note: the issues' targets, met or missed in this run."""
    out = []
    w = out.append
    w("## Targets")
    w("")
    lines = []
    missed = []
    layer_target(results, peak, lines, missed)
    projection_target(results, peak, lines, missed)
    decode_targets(results, weights_bw, lines, missed)
    q8_decode_targets(q8data, lines, missed)
    lines.append("- Floors: every shape >= 1.0x ctattn's scalar path and Eigen dynamic: %s." % (
        "%d shape(s) below (the Floors section)" % len(below_floor) if below_floor else "met"))
    if below_floor:
        missed.append("the floors")
    lines.append("- Targets missed in this run: %s." % (", ".join(missed) if missed else "none"))
    if any(t.startswith("the layer") for t in missed):
        lines.append("- Where the layer's time goes (`perf record` on `ctattn_bench --benchmark_filter='^mha/S64/D256/H8/"
                     "causal/ctattn$'`): the four projections' register tiles take about 85% of it and run at the "
                     "projection table's fraction of peak; the attention core (softmax_rows, the blocked score and "
                     "P V tiles, the K transposition) the rest. Above ~85% the projections' own efficiency is the limit.")
    onerow_note(results, lines)
    out.extend(lines)
    w("")
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    build = os.path.abspath(os.path.join(ROOT, args.build)) if not os.path.isabs(args.build) else args.build
    data, counts, build_times = gather(args, build)
    results = index_results(data)
    sweep = data.get("sweep")
    peak = metric(results.get("ceiling/fma_peak"), "GFLOPs")
    bandwidth = {k.split("/")[-1]: metric(v, "bytes_per_second") for k, v in results.items()
                 if k.startswith("ceiling/read_bandwidth/")}
    # Decode streams every weight once per token: the bound uses the read bandwidth measured on a
    # buffer the size of stories15M's weights, wherever such a buffer lives on this machine.
    weights_bw = bandwidth.get("weights_64MiB")
    dram = bandwidth.get("DRAM_1GiB")

    info = machine_info()
    banner = banner_line(args, argv, datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"))
    out = header_lines(info, build, data, banner)
    out += ceilings_lines(results, peak, bandwidth)
    out += kernel_lines(results, peak)
    out += decode_lines(results, info, weights_bw, dram)
    out += q8_decode_lines(data.get("q8_decode"))
    out += prefill_lines(results)
    if sweep:
        out += sweep_section_lines(sweep, args.svg, args.out, banner)
    out += kept_cortex_m_sweep(args.out)
    floor_section, below_floor = floors_lines(results, sweep)
    out += floor_section
    if not args.no_asm:
        out += asm_listing_lines(build)
    out += callgrind_lines(counts, args.build)
    out += emulated_lines(data)
    out += build_times_lines(build_times)
    out += grid_lines()
    out += method_lines()
    out += targets_lines(results, peak, weights_bw, below_floor, data.get("q8_decode"))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote", args.out, file=sys.stderr)
    if args.check and below_floor:
        print("floors: %d shape(s) below 1.0x (see the Floors section)" % len(below_floor), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
