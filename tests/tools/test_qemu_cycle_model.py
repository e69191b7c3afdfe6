#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""tools/qemu_insn_count.c against hand counts: the Cortex-M4F cycle estimate, the flash and RAM
bytes and the flash bus accesses of the hand-timed loops in cycle_model_loops.S, segment by
segment, must equal the counts worked out by hand from the Cortex-M4 TRM's tables (the rule the
plugin states; the model is deterministic, so the check is exact). Also: the default path (no
mem=, no cycles=) prints no memory counters, and the instruction count is the same either way;
and tools/emulated_counts.py's MEMORY_RANGES cover each board's linker-script regions (the
regions REGION_ALIAS names VECTORS and FLASH as flash, RAM as RAM).

Builds the plugin with the host's C compiler and the loops with arm-none-eabi-gcc, runs them on
qemu-system-arm -M mps2-an386; exits 77 (skipped) when one of the three is missing.
Usage: test_qemu_cycle_model.py [--plugin qemu_insn_count.so] [--keep DIR]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
P = 2  # the TRM's pipeline refill P (1 to 3), as the plugin takes it

# Each segment between two marks, by hand (cycle_model_loops.S writes each instruction's cost
# beside it). Every segment also pays the marks' own cost: P to return from the previous mark,
# bl 1 + P to call the next one, and its bx lr 1.
MARKS = 1 + P + 1 + P
EXPECTED = {
    "empty": {"cycles": MARKS},
    # movw, movt, movs; 25 x (vldmia 1+4, 4 x vfma 3, subs 1, bne 1); 24 taken branches.
    "vfma": {"cycles": MARKS + 3 + 25 * (5 + 4 * 3 + 1 + 1) + 24 * P,
             "flash_read_bytes": 25 * 16, "flash_read_accesses": 25 * 4,
             "ram_read_bytes": 0, "ram_write_bytes": 0},
    # movs; 100 x (mla, mla, smlad, smlabb, subs, bne: 1 each); 99 taken; sdiv 12.
    "mac": {"cycles": MARKS + 1 + 100 * 6 + 99 * P + 12,
            "flash_read_bytes": 0, "ram_read_bytes": 0, "ram_write_bytes": 0},
    # 5 moves; 25 x (ldr 2, ldr 1 pipelined, ldr 2 dependent, str 1, str 1, ldrd 3, str reg 2,
    # ldr 2, str reg 1 pipelined, subs 1, bne 1); 24 taken. Flash: 4 + 4 + 8 + 4 bytes, 5 bus
    # reads per iteration; RAM: one 4-byte read and four 4-byte writes.
    "loads": {"cycles": MARKS + 5 + 25 * (2 + 1 + 2 + 1 + 1 + 3 + 2 + 2 + 1 + 1 + 1) + 24 * P,
              "flash_read_bytes": 25 * 20, "flash_read_accesses": 25 * 5,
              "ram_read_bytes": 25 * 4, "ram_write_bytes": 25 * 16},
    # movw, movt, vldr.32 2, vldr.64 3, vdiv 14, vsqrt 14, vmov 1, vmov 1, vmov (two core) 2,
    # vadd 1, vmla 3, vcvt 1, vstr 2, push 6, pop 6, vpush 5, vpop 5.
    "fpu": {"cycles": MARKS + 1 + 1 + 2 + 3 + 14 + 14 + 1 + 1 + 2 + 1 + 3 + 1 + 2 + 6 + 6 + 5 + 5,
            "flash_read_bytes": 4 + 8, "flash_read_accesses": 1 + 2,
            "ram_read_bytes": 20 + 16, "ram_write_bytes": 4 + 20 + 16},
    # movs 1, cbnz not taken 1, bl 1 + P, push 3, pop {r4, pc} 3 + P.
    "calls": {"cycles": MARKS + 1 + 1 + (1 + P) + 3 + (3 + P),
              "flash_read_bytes": 0, "ram_read_bytes": 8, "ram_write_bytes": 8},
}
SEGMENTS = ["empty", "vfma", "mac", "loads", "fpu", "calls"]

LINKER_SCRIPT = """MEMORY { FLASH (rx) : ORIGIN = 0, LENGTH = 4M
         RAM (rw) : ORIGIN = 0x20000000, LENGTH = 4M }
SECTIONS { .text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } > FLASH
           .bss (NOLOAD) : { *(.bss*) } > RAM }
"""
PLUGIN_RANGES = "flash=0:0x400000,ram=0x20000000:0x400000"


def linker_regions(path):
    """{alias: (origin, length)} for VECTORS, FLASH and RAM of a board's linker script."""
    text = open(path).read()
    units = {"": 1, "K": 1 << 10, "M": 1 << 20}
    regions = {name: (int(origin, 0), int(length) * units[unit]) for name, origin, length, unit in
               re.findall(r"(\w+)\s*\([rwx]+\)\s*:\s*ORIGIN\s*=\s*(\w+),\s*LENGTH\s*=\s*(\d+)([KM]?)", text)}
    return {alias: regions[name] for alias, name in re.findall(r'REGION_ALIAS\("(\w+)",\s*(\w+)\)', text)}


def memory_range_problems():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import emulated_counts
    # The board template of each machine (virt's is named for the RV32 cores it hosts), and the
    # M55 count images' own script.
    board_scripts = {"virt": "virt-rv32.ld"}
    scripts = [(machine, os.path.join(ROOT, "examples", "boards", board_scripts.get(machine, machine + ".ld")))
               for machine in emulated_counts.MEMORY_RANGES]
    scripts.append(("mps3-an547", os.path.join(ROOT, "tests", "embedded", "boards", "mps3-an547-counts.ld")))
    found = []
    for machine, script in scripts:
        if not os.path.exists(script):
            print("%s: no such linker script, MEMORY_RANGES not checked for it" % script)
            continue
        ranges = emulated_counts.MEMORY_RANGES[machine]
        for alias, region in linker_regions(script).items():
            if alias not in ("VECTORS", "FLASH", "RAM"):
                continue
            kind = "ram" if alias == "RAM" else "flash"
            inside = any(start <= region[0] and region[0] + region[1] <= start + size for start, size in ranges[kind])
            print("%-22s %-7s 0x%08x + 0x%06x in MEMORY_RANGES %-5s %s" % (
                os.path.basename(script), alias, region[0], region[1], kind, "ok" if inside else "MISSING"))
            if not inside:
                found.append("%s: %s region 0x%x + 0x%x is in no %s range of MEMORY_RANGES[%r]" % (
                    script, alias, region[0], region[1], kind, machine))
    return found


def run(qemu, plugin, image, arguments):
    cmd = [qemu, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
           "-semihosting-config", "enable=on,target=native", "-plugin", plugin + arguments, "-d", "plugin",
           "-kernel", image]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    text = proc.stdout + proc.stderr
    marks = {name: [int(v) for v in values.split()]
             for name, values in re.findall(r"ctattn-marks-(\w+):([ \d]*)", text)}
    insns = re.search(r"ctattn-marks:([ \d]*)", text)
    marks["insns"] = [int(v) for v in insns.group(1).split()] if insns else []
    unclassified = re.findall(r"ctattn-unclassified: \d+ (\S+)", text)
    return proc.returncode, marks, unclassified, text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plugin", help="a built qemu_insn_count.so (default: build tools/qemu_insn_count.c)")
    ap.add_argument("--keep", help="folder for the built files (default: a temporary one)")
    args = ap.parse_args()
    range_problems = memory_range_problems()
    qemu, gcc, cc = shutil.which("qemu-system-arm"), shutil.which("arm-none-eabi-gcc"), shutil.which("cc")
    if not qemu or not gcc or (not args.plugin and not cc):
        print("skipped: needs qemu-system-arm, arm-none-eabi-gcc and a host C compiler")
        return 77
    work = args.keep or tempfile.mkdtemp(prefix="cycle_model_")
    os.makedirs(work, exist_ok=True)
    plugin = args.plugin
    if not plugin:
        plugin = os.path.join(work, "qemu_insn_count.so")
        subprocess.run([cc, "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-o", plugin,
                        os.path.join(ROOT, "tools", "qemu_insn_count.c")], check=True)
    script = os.path.join(work, "loops.ld")
    with open(script, "w") as f:
        f.write(LINKER_SCRIPT)
    image = os.path.join(work, "cycle_model_loops.elf")
    subprocess.run([gcc, "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-nostdlib",
                    "-nostartfiles", "-T", script, "-o", image, os.path.join(HERE, "cycle_model_loops.S")], check=True)
    symbols = {}
    nm = subprocess.run([gcc.replace("gcc", "nm"), image], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 3:
            symbols[parts[2]] = int(parts[0], 16)

    failures = range_problems
    status, fast, _, text = run(qemu, plugin, image, "")
    if status != 0 or len(fast["insns"]) != len(SEGMENTS) + 1:
        failures.append("default path: exit %d, %d marks (want %d)\n%s" % (status, len(fast["insns"]),
                                                                          len(SEGMENTS) + 1, text))
    if set(fast) != {"insns"}:
        failures.append("default path prints memory counters: %s" % sorted(set(fast) - {"insns"}))

    status, marks, unclassified, text = run(qemu, plugin, image, ",cycles=on," + PLUGIN_RANGES)
    if status != 0 or len(marks.get("cycles", [])) != len(SEGMENTS) + 1:
        failures.append("cycles=on: exit %d, marks %s\n%s" % (status, marks.get("cycles"), text))
        print("\n".join(failures))
        return 1
    if unclassified:
        failures.append("mnemonics the model does not classify: %s" % unclassified)
    if marks["insns"] != fast["insns"]:
        failures.append("instruction marks differ with cycles=on: %s vs %s" % (marks["insns"], fast["insns"]))
    for i, segment in enumerate(SEGMENTS):
        for counter, want in EXPECTED[segment].items():
            got = marks[counter][i + 1] - marks[counter][i]
            ok = got == want
            print("%-6s %-20s hand %6d  plugin %6d  %s" % (segment, counter, want, got, "ok" if ok else "DIFFERENT"))
            if not ok:
                failures.append("%s: %s is %d, the hand count %d" % (segment, counter, got, want))

    # Instruction fetch from flash: one 32-bit word per word of code an executed block spans.
    # The vfma segment's blocks: vfma_start..vfma_bl once, vfma_loop..vfma_bl 24 more times, the
    # bl (4 bytes) once, the mark's bx lr (2 bytes) once.
    def words(start, end):
        return (end - 1) // 4 - start // 4 + 1
    s = symbols
    want = (words(s["vfma_start"], s["vfma_bl"]) + 24 * words(s["vfma_loop"], s["vfma_bl"])
            + words(s["vfma_bl"], s["vfma_bl"] + 4) + words(s["ctattn_count_mark"], s["ctattn_count_mark"] + 2))
    got = marks["fetch_words"][2] - marks["fetch_words"][1]
    print("%-6s %-20s hand %6d  plugin %6d  %s" % ("vfma", "fetch_words", want, got, "ok" if got == want else "DIFFERENT"))
    if got != want:
        failures.append("vfma: fetch_words is %d, the hand count %d" % (got, want))

    for failure in failures:
        print("FAIL: " + failure)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
