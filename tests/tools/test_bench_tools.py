#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Unit tests of tools/bench_report.py's arch sweep, floors and prompt-processing sections
and of tools/asm_loop.py's loop finding, on fabricated results and disassembly: each test states
what a wrong parser would print instead. Run: python3 tests/tools/test_bench_tools.py."""
import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.dom.minidom

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import asm_loop  # noqa: E402
import bench_report  # noqa: E402


def bench(name, **counters):
    entry = {"name": name, "run_name": name, "run_type": "iteration"}
    entry.update(counters)
    return entry


def sweep_json():
    rows = []
    for arch, scale, lanes in [("scalar", 1, "W1_mul_add"), ("sse2", 3, "W4_mul_add"), ("avx512", 12, "W16_fma")]:
        rows += [bench("sweep/fma_peak/%s/%s" % (lanes, arch), GFLOPs=12.0 * scale),
                 bench("sweep/projection/S64/D256/%s" % arch, GFLOPs=10.0 * scale),
                 bench("sweep/aggregate/S64/D64/H8/causal/%s" % arch, GFLOPs=20.0 if arch != "avx512" else 9.0),
                 bench("sweep/softmax/S64/D64/H8/causal/%s" % arch, Gelem_s=0.2 * scale),
                 bench("sweep/decode/stories260K/%s" % arch, tokens_s=13000.0 * scale)]
    # A slower repetition of the same case: the best one must be reported.
    rows.append(bench("sweep/projection/S64/D256/avx512", GFLOPs=50.0))
    return {"context": {"sweep_archs_run": "scalar,sse2,avx512", "sweep_archs_skipped": "avx"}, "benchmarks": rows}


def main_json():
    return {"context": {"ctattn_arch": "avx512bw"}, "benchmarks": [
        bench("ceiling/fma_peak", GFLOPs=160.0),
        bench("projection/S16/D64/ctattn", GFLOPs=150.0), bench("projection/S16/D64/ctattn_packed", GFLOPs=90.0),
        bench("projection/S16/D64/ctattn_scalar", GFLOPs=10.0), bench("projection/S16/D64/eigen_dynamic", GFLOPs=100.0),
        bench("aggregate/S64/D64/H8/causal/ctattn", GFLOPs=7.6),
        bench("aggregate/S64/D64/H8/causal/ctattn_onerow", GFLOPs=1.0),  # informational: never a floor
        bench("aggregate/S64/D64/H8/causal/ctattn_scalar", GFLOPs=8.7),
        bench("aggregate/S64/D64/H8/causal/eigen_dynamic", GFLOPs=29.0),
        bench("decode/stories260K/ctattn", tokens_s=24000.0), bench("decode/stories260K/ctattn_scalar", tokens_s=5700.0),
        bench("decode/stories15M/ctattn", tokens_s=370.0),
        bench("prefill/stories15M/P64/ctattn", tokens_per_second=3000.0),
        bench("prefill/stories15M/P64/ctattn_token_by_token", tokens_per_second=375.0),
        bench("prefill/stories15M/P64/plain", tokens_per_second=57.0),
        bench("prefill/stories15M/P64/plain_fastmath", tokens_per_second=600.0),
        bench("prefill/stories260K/P256/ctattn", tokens_per_second=90000.0),
    ], "callgrind": [], "emulated": []}


class SweepTest(unittest.TestCase):
    def test_the_table_has_a_row_per_kernel_shape_and_each_arch_against_scalar(self):
        text = "\n".join(bench_report.sweep_lines(sweep_json(), "chart.svg"))
        # Best repetition (120 = 10 x 12, not the slower 50), and 120 / 10 = 12x scalar.
        self.assertIn("| projection/S64/D256 | GFLOP/s | 10.00 | 30.00 | 120.00 | 3.00x | 12.00x |", text)
        self.assertIn("| decode/stories260K | tokens/s | 13000 | 39000 | 156000 | 3.00x | 12.00x |", text)
        self.assertIn("skipped (the CPU lacks them, never executed): avx", text)
        self.assertIn("![", text)
        self.assertIn("(chart.svg)", text)
        self.assertTrue(text.index("projection/") < text.index("softmax/") < text.index("aggregate/")
                        < text.index("decode/"), "rows in kernel order")

    def test_the_chart_is_valid_svg_with_a_bar_per_gflops_case_and_a_line_per_peak(self):
        svg = bench_report.sweep_svg(sweep_json())
        doc = xml.dom.minidom.parseString(svg)
        bars = [r for r in doc.getElementsByTagName("rect") if r.getElementsByTagName("title")]
        self.assertEqual(len(bars), 6)  # projection and aggregate x 3 archs; softmax and decode are not GFLOP/s
        dashed = [l for l in doc.getElementsByTagName("line") if l.getAttribute("stroke-dasharray")]
        self.assertEqual(len(dashed), 3)
        self.assertIsNone(bench_report.sweep_svg({"benchmarks": []}))


class FloorsTest(unittest.TestCase):
    def test_every_pair_below_one_is_listed_and_onerow_is_not_judged(self):
        results = bench_report.index_results(main_json())
        lines, below = bench_report.floors_lines(results, sweep_json())
        got = sorted((t, s, i, b) for t, s, i, b, _ in below)
        self.assertEqual(got, [
            ("aggregate", "S64/D64/H8/causal", "ctattn", "ctattn_scalar"),
            ("aggregate", "S64/D64/H8/causal", "ctattn", "eigen_dynamic"),
            ("projection", "S16/D64", "ctattn_packed", "eigen_dynamic"),
            ("sweep", "aggregate/S64/D64/H8/causal", "avx512", "scalar module"),
        ])
        text = "\n".join(lines)
        self.assertIn("| aggregate | 2 | 0.26x | S64/D64/H8/causal ctattn vs eigen_dynamic | 2 |", text)
        self.assertIn("| decode | 1 | 4.21x | stories260K ctattn vs ctattn_scalar | 0 |", text)
        self.assertNotIn("ctattn_onerow |", text.split("Below 1.0")[1])

    def test_no_shape_below_one_says_so(self):
        results = bench_report.index_results({"benchmarks": [bench("mha/S64/D256/H8/causal/ctattn", GFLOPs=150.0),
                                                             bench("mha/S64/D256/H8/causal/ctattn_scalar", GFLOPs=10.0)]})
        lines, below = bench_report.floors_lines(results)
        self.assertEqual(below, [])
        self.assertIn("No shape below 1.0.", lines)


class PrefillTest(unittest.TestCase):
    def test_tokens_per_second_and_the_ratios(self):
        text = "\n".join(bench_report.prefill_lines(bench_report.index_results(main_json())))
        self.assertIn("| stories15M | 64 | 3000.0 | 375.0 | 57.0 | 600.0 | 370.0 | 5.00x | 8.00x |", text)
        self.assertIn("| stories260K | 256 | 90000.0 | - | - | - | 24000.0 | - | - |", text)

    def test_absent_means_no_section(self):
        self.assertEqual(bench_report.prefill_lines(bench_report.index_results({"benchmarks": []})), [])


class ReportScriptTest(unittest.TestCase):
    def test_check_exits_one_below_the_floor_and_writes_every_section(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = main_json()
            data["sweep"] = sweep_json()
            saved = os.path.join(tmp, "saved.json")
            with open(saved, "w") as f:
                json.dump(data, f)
            out, svg = os.path.join(tmp, "performance.md"), os.path.join(tmp, "perf_arch_sweep.svg")
            cmd = [sys.executable, os.path.join(ROOT, "tools", "bench_report.py"), "--json", saved, "--out", out,
                   "--svg", svg, "--no-asm"]
            proc = subprocess.run(cmd + ["--check"], capture_output=True, text=True)
            self.assertEqual(proc.returncode, 1, proc.stderr)
            with open(out) as f:
                text = f.read()
            for section in ["## Arch sweep", "## Floors", "## Prompt processing", "## Projection"]:
                self.assertIn(section, text)
            self.assertIn("](perf_arch_sweep.svg)", text)
            xml.dom.minidom.parse(svg)
            self.assertEqual(subprocess.run(cmd, capture_output=True, text=True).returncode, 0)  # no --check: 0


# objdump -d --no-show-raw-insn lines as disassemble() stores them: (address, mnemonic, operands, callee).
LOOP_OK = [(0x10, "vmovups", "(%rdx),%zmm3", None), (0x16, "vbroadcastss", "(%rax),%zmm4", None),
           (0x1c, "add", "$0x400,%rdx", None), (0x23, "vfmadd231ps", "%zmm3,%zmm4,%zmm8", None),
           (0x29, "vfmadd231ps", "0x40(%rdx),%zmm4,%zmm7", None), (0x30, "cmp", "%rdx,%rsi", None),
           (0x33, "jne", "10 <f+0x10>", None)]


class AsmLoopTest(unittest.TestCase):
    def test_instruction_classes(self):
        classes = [asm_loop.classify(m, o, True) for _, m, o, _ in LOOP_OK]
        self.assertEqual(classes, ["load", "load", "loop", "fma", "fma+load", "loop", "loop"])
        self.assertEqual(asm_loop.classify("vmovups", "%zmm0,(%rdi)", True), "store")
        self.assertEqual(asm_loop.classify("vpermt2ps", "%zmm1,%zmm2,%zmm3", True), "other")
        self.assertEqual(asm_loop.classify("vmulps", "%ymm1,%ymm2,%ymm3", True), "mul")
        self.assertEqual(asm_loop.classify("fmla", "v0.4s, v1.4s, v2.s[0]", False), "fma")
        self.assertEqual(asm_loop.classify("ldp", "q0, q1, [x1], #32", False), "load")

    def test_the_innermost_loop_is_the_one_with_no_loop_inside(self):
        outer = [(0x0, "xor", "%eax,%eax", None)] + LOOP_OK + [(0x35, "add", "$0x4,%rcx", None),
                                                               (0x39, "jne", "0 <f>", None)]
        self.assertEqual(asm_loop.innermost_loops(outer), [(1, 7)])
        self.assertEqual(asm_loop.innermost_loops(LOOP_OK[:-1]), [])  # no backward branch, no loop


if __name__ == "__main__":
    unittest.main()
