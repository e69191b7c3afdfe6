#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds small consumer projects against ctattn the ways its users do (docs/integration.md) and
runs what they build. One route per call, so each is its own meson test:

  run_consumer.py SOURCE_DIR cmake {subdirectory,fetchcontent,package} {host,m4,rv32imafc}
  run_consumer.py SOURCE_DIR meson-subproject
  run_consumer.py SOURCE_DIR meson-install-pkgconfig
  run_consumer.py SOURCE_DIR bare-headers

host builds run the README example; m4 builds link the one-layer firmware (firmware/) for
Cortex-M4F and run it under qemu-system-arm (mps2-an386, verdict through semihosting); rv32imafc
builds link the same layer on the board templates (examples/boards: startup_riscv.c, virt-rv32.ld)
and run it under qemu-system-riscv32. Everything happens in a temporary folder; the exit status is
the verdict."""
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
FIRMWARE_FLAGS = ["-Os", "-fno-exceptions", "-fno-rtti", "-ffunction-sections", "-fdata-sections"]
FIRMWARE_LINK = ["-nostartfiles", "-Wl,--gc-sections", "-T", str(HERE / "firmware" / "mps2-an386.ld")]
QEMU = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
        "-semihosting-config", "enable=on,target=native", "-kernel"]
# RV32IMAFC on QEMU virt with the board templates (cross/riscv64-unknown-elf.ini has the same flags).
BOARDS = HERE.parent.parent / "examples" / "boards"
RV32_FLAGS = ["-march=rv32imafc", "-mabi=ilp32f", "--specs=picolibc.specs"]
RV32_CXX_FLAGS = ["-isystem", "/usr/include/newlib/c++/12.2.1",
                  "-isystem", "/usr/include/newlib/c++/12.2.1/arm-none-eabi/thumb/v7-m/nofp"]
RV32_LINK = ["-nostartfiles", "-nodefaultlibs", "-Wl,--gc-sections", "-T", str(BOARDS / "virt-rv32.ld"), f"-L{BOARDS}",
             "-Wl,--start-group", "-lc", "-lm", "-lsemihost", "-lgcc", "-Wl,--end-group"]
QEMU_RV32 = ["qemu-system-riscv32", "-M", "virt", "-cpu", "rv32,d=false", "-bios", "none", "-nographic", "-monitor",
             "none", "-serial", "none", "-semihosting-config", "enable=on,target=native", "-kernel"]
# Header-only packages a cross build may see, each alone (never the rest of /usr/include).
HEADER_PACKAGES = ["/usr/include/xsimd", "/usr/include/boost"]


def run(cmd, **kwargs):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def output(cmd, **kwargs):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kwargs).stdout


def run_firmware(elf, riscv=False):
    print(output(["riscv64-unknown-elf-size" if riscv else "arm-none-eabi-size", elf]), end="")
    run((QEMU_RV32 if riscv else QEMU) + [elf], timeout=60)
    print(f"{elf.name}: passed under " + ("qemu-system-riscv32 virt rv32imafc" if riscv else "qemu-system-arm mps2-an386"))


def check_no_build_machine_includes(compile_commands):
    """A cross compile line must not name /usr/include or /usr/local/include themselves."""
    for entry in json.loads(pathlib.Path(compile_commands).read_text()):
        words = entry["command"].split()
        for i, word in enumerate(words):
            path = word[2:] if word.startswith("-I") else (words[i + 1] if word == "-isystem" else None)
            if path is not None and path.rstrip("/") in ("/usr/include", "/usr/local/include"):
                sys.exit(f"FAIL: cross compile line includes {path}: {entry['command']}")


def cmake_route(source, route, target, work):
    consumer_args = ["-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
                     f"-DCTATTN_ROUTE={route}", f"-DCTATTN_README_EXAMPLE={source / 'examples' / 'readme_example.cpp'}"]
    if route == "subdirectory":
        consumer_args.append(f"-DCTATTN_SOURCE_DIR={source}")
    elif route == "fetchcontent":
        consumer_args.append(f"-DFETCHCONTENT_SOURCE_DIR_CTATTN={source}")
    else:
        # Installed once, by the build machine's CMake with its own compiler, as a user would.
        prefix = work / "prefix"
        run(["cmake", "-S", source, "-B", work / "ctattn-build", "-G", "Ninja", f"-DCMAKE_INSTALL_PREFIX={prefix}"],
            stdout=subprocess.DEVNULL)
        run(["cmake", "--install", work / "ctattn-build"], stdout=subprocess.DEVNULL)
        for installed in ["include/ctattn/ctattn.hpp", "share/cmake/ctattn/ctattnConfig.cmake",
                          "share/cmake/ctattn/ctattnConfigVersion.cmake"]:
            if not (prefix / installed).is_file():
                sys.exit(f"FAIL: cmake --install did not install {installed}")
        consumer_args.append(f"-DCMAKE_PREFIX_PATH={prefix}")
    toolchains = {"m4": "arm-none-eabi-cortex-m4f.cmake", "rv32imafc": "riscv64-unknown-elf-rv32imafc.cmake"}
    if target in toolchains:
        consumer_args += ["-DCMAKE_BUILD_TYPE=MinSizeRel", f"-DCMAKE_TOOLCHAIN_FILE={source / 'examples' / 'boards' / 'cmake' / toolchains[target]}",
                          "-DCTATTN_HEADER_PACKAGES=/usr/include/boost"]
    build = work / "consumer-build"
    run(["cmake", "-S", HERE / "cmake", "-B", build] + consumer_args)
    run(["cmake", "--build", build, "-j", "1"])
    if target in toolchains:
        check_no_build_machine_includes(build / "compile_commands.json")
        run_firmware(build / "attention_fw.elf", riscv=target == "rv32imafc")
    else:
        run([build / "readme_example"])


def meson_subproject(source, work):
    # A copy of the consumer with subprojects/ctattn linked to the source tree: the wrap file's
    # directory exists, so meson uses it instead of cloning.
    consumer = work / "consumer"
    shutil.copytree(HERE / "meson", consumer)
    (consumer / "subprojects" / "ctattn").symlink_to(source, target_is_directory=True)
    build = work / "build"
    run(["meson", "setup", build, consumer, f"-Dreadme_example={source / 'examples' / 'readme_example.cpp'}"])
    run(["meson", "compile", "-C", build, "-j", "1"])
    if object_files(build / "subprojects"):
        sys.exit("FAIL: the subproject compiled its own tests, benchmarks or examples")
    run([build / "readme_example"])


def object_files(build_dir):
    return [p for p in pathlib.Path(build_dir).rglob("*.o")]


def meson_install_pkgconfig(source, work):
    # 1. Defaults (tests, benchmarks, examples on for a top-level build): `meson install
    #    --no-rebuild` installs the headers, ctattn.pc and the CMake package without compiling.
    host_prefix = work / "host-prefix"
    run(["meson", "setup", work / "host-build", source, f"--prefix={host_prefix}"], stdout=subprocess.DEVNULL)
    run(["meson", "install", "-C", work / "host-build", "--no-rebuild"], stdout=subprocess.DEVNULL)
    if object_files(work / "host-build"):
        sys.exit("FAIL: meson install --no-rebuild compiled something")
    for installed in ["include/ctattn/ctattn.hpp", "include/ctattn/layers/footprint.hpp", "share/pkgconfig/ctattn.pc",
                      "share/cmake/ctattn/ctattnConfig.cmake", "share/cmake/ctattn/ctattnConfigVersion.cmake",
                      "share/cmake/ctattn/ctattnDependencies.cmake"]:
        if not (host_prefix / installed).is_file():
            sys.exit(f"FAIL: meson install did not install {installed}")
    pc = (host_prefix / "share/pkgconfig/ctattn.pc").read_text()
    print(pc)
    if "Requires: xsimd" not in pc:
        sys.exit("FAIL: the simd=auto ctattn.pc does not require xsimd")

    # Host consumer: the README example with `pkg-config --cflags ctattn` (xsimd's flags come
    # through Requires:; Boost is in the compiler's default path on the host).
    env = dict(os.environ, PKG_CONFIG_PATH=str(host_prefix / "share/pkgconfig"))
    cflags = output(["pkg-config", "--cflags", "ctattn"], env=env).split()
    if not any(flag.startswith("-I") and flag[2:].startswith(str(host_prefix)) for flag in cflags):
        sys.exit(f"FAIL: pkg-config --cflags ctattn does not point at the prefix: {cflags}")
    exe = work / "readme_example"
    run(["c++", "-O2"] + cflags + [source / "examples" / "readme_example.cpp", "-o", exe])
    run([exe])

    # 2. The installed CMake package works after `meson install` too.
    cmake_build = work / "cmake-after-meson"
    run(["cmake", "-S", HERE / "cmake", "-B", cmake_build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
         "-DCTATTN_ROUTE=package", f"-DCMAKE_PREFIX_PATH={host_prefix}",
         f"-DCTATTN_README_EXAMPLE={source / 'examples' / 'readme_example.cpp'}"], stdout=subprocess.DEVNULL)
    run(["cmake", "--build", cmake_build, "-j", "1", "--target", "readme_example"])
    run([cmake_build / "readme_example"])

    # 3. A scalar install (what a firmware build installs) with tests, benchmarks and examples off:
    #    plain `meson install` has nothing to compile. A cross pkg-config searches only its own
    #    tree, which PKG_CONFIG_LIBDIR stands for: share/pkgconfig is found, and the file needs no
    #    xsimd.pc.
    fw_prefix = work / "firmware-prefix"
    run(["meson", "setup", work / "scalar-build", source, f"--prefix={fw_prefix}", "-Dsimd=scalar",
         "-Dtests=disabled", "-Dbench=disabled", "-Dexamples=disabled"], stdout=subprocess.DEVNULL)
    run(["meson", "install", "-C", work / "scalar-build"], stdout=subprocess.DEVNULL)
    if object_files(work / "scalar-build"):
        sys.exit("FAIL: meson install with tests, benchmarks and examples disabled compiled something")
    env = dict(os.environ, PKG_CONFIG_LIBDIR=str(fw_prefix / "share/pkgconfig"), PKG_CONFIG_PATH="")
    pc = (fw_prefix / "share/pkgconfig/ctattn.pc").read_text()
    if "Requires" in pc:
        sys.exit("FAIL: the scalar ctattn.pc requires a package:\n" + pc)
    cflags = output(["pkg-config", "--cflags", "ctattn"], env=env).split()
    elf = work / "attention_fw.elf"
    run(["arm-none-eabi-g++"] + M4_FLAGS + FIRMWARE_FLAGS + cflags +
        [HERE / "firmware" / "attention_fw.cpp", "-o", elf] + FIRMWARE_LINK)
    run_firmware(elf)
    # The same flags for RV32IMAFC, with the board templates' start-up code and linker script.
    startup = work / "startup_riscv.o"
    run(["riscv64-unknown-elf-gcc"] + RV32_FLAGS + ["-Os", "-c", BOARDS / "startup_riscv.c", "-o", startup])
    elf = work / "attention_board_fw.elf"
    run(["riscv64-unknown-elf-g++"] + RV32_FLAGS + RV32_CXX_FLAGS + FIRMWARE_FLAGS + cflags +
        ["-I", BOARDS, HERE / "firmware" / "attention_board_fw.cpp", startup, "-o", elf] + RV32_LINK)
    run_firmware(elf, riscv=True)

    # 4. A header-only install (simd=auto, tests, benchmarks and examples off) on a machine where no
    #    package can be found (pkg-config and cmake replaced by `false`, so xsimd and Catch2 are
    #    invisible): setup and install succeed and ctattn.pc requires nothing. The control: the
    #    same machine with the tests on must fail, or the packages were not hidden at all.
    no_packages = work / "no-packages.ini"
    no_packages.write_text("[binaries]\npkgconfig = 'false'\ncmake = 'false'\n")
    control = subprocess.run(["meson", "setup", work / "control-build", source, f"--native-file={no_packages}",
                              "-Dsimd=scalar", "-Dbench=disabled", "-Dexamples=disabled"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if control.returncode == 0 or "catch2" not in control.stdout.lower():
        sys.exit("FAIL: the control setup (tests on) did not fail on Catch2; packages were not hidden:\n" + control.stdout[-2000:])
    bare_prefix = work / "headers-only-prefix"
    run(["meson", "setup", work / "headers-only-build", source, f"--prefix={bare_prefix}", f"--native-file={no_packages}",
         "-Dtests=disabled", "-Dbench=disabled", "-Dexamples=disabled"], stdout=subprocess.DEVNULL)
    run(["meson", "install", "-C", work / "headers-only-build"], stdout=subprocess.DEVNULL)
    if object_files(work / "headers-only-build"):
        sys.exit("FAIL: the header-only install compiled something")
    pc = (bare_prefix / "share/pkgconfig/ctattn.pc").read_text()
    if "Requires" in pc or not (bare_prefix / "include/ctattn/ctattn.hpp").is_file():
        sys.exit("FAIL: the header-only install without xsimd is incomplete or requires a package:\n" + pc)
    print("header-only setup and install need neither xsimd nor Catch2")


def bare_headers(source, work):
    # Only ctattn's include folder and the two package folders, linked alone into one folder the
    # way a vendor IDE project would copy them; never /usr/include.
    packages = work / "packages"
    packages.mkdir()
    for package in HEADER_PACKAGES:
        (packages / pathlib.Path(package).name).symlink_to(package)
    common = ["arm-none-eabi-g++"] + M4_FLAGS + ["-fno-exceptions", "-fno-rtti", "-Wall", "-Wextra", "-Wpedantic",
                                                  "-Werror", "-I", source / "include", "-isystem", packages]
    # The README example with xsimd's folder visible: the scalar path is chosen without any define.
    run(common + ["-std=c++20", "-Os", "-c", source / "examples" / "readme_example.cpp", "-o", work / "readme.o"])
    # The path simd.hpp picks by itself: scalar on Cortex-M4F (no xsimd arch), ctattn's Helium arch
    # on the Cortex-M55 (4 lanes; scalar with CTATTN_SIMD_SCALAR, and on an M55 without MVE floats),
    # NEON on a bare-metal Cortex-A9 (newlib, strict -std=c++20: xsimd needs posix_memalign, which
    # newlib hides there), and scalar again on the Cortex-A9 when CTATTN_SIMD_SCALAR is defined.
    arch_targets = [
        (M4_FLAGS, 1),
        (["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"], 4),
        (["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard", "-DCTATTN_SIMD_SCALAR"], 1),
        (["-mcpu=cortex-m55+nomve.fp", "-mthumb", "-mfloat-abi=hard"], 1),
        (["-mcpu=cortex-a9", "-mfpu=neon", "-mfloat-abi=hard"], 4),
        (["-mcpu=cortex-a9", "-mfpu=neon", "-mfloat-abi=hard", "-DCTATTN_SIMD_SCALAR"], 1),
    ]
    for flags, width in arch_targets:
        run(["arm-none-eabi-g++", "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-I", source / "include",
             "-isystem", packages, f"-DCTATTN_EXPECTED_WIDTH={width}"] + flags + [HERE / "arch_check.cpp"])
    # On an x86-64 host, what a consumer without -march gets (SSE2, 4 lanes: the README's warning)
    # and with -march=x86-64-v3 (AVX2, 8 lanes).
    if platform.machine() in ("x86_64", "AMD64"):
        for flags, width in [([], 4), (["-march=x86-64-v3"], 8)]:
            run(["c++", "-std=c++20", "-fsyntax-only", "-I", source / "include", f"-DCTATTN_EXPECTED_WIDTH={width}"]
                + flags + [HERE / "arch_check.cpp"])
    # The model headers with Boost's folder alone.
    run(common + ["-std=c++20", "-Os", "-c", HERE / "cmake" / "model_header.cpp", "-o", work / "model.o"])
    # Without it, the first error says what to add for a cross compiler (Boost's folder alone), and
    # does not send it to /usr/include (the build machine's libc).
    no_boost = subprocess.run(["arm-none-eabi-g++", "-std=c++20", "-fsyntax-only", "-I", str(source / "include")]
                              + M4_FLAGS + [str(HERE / "cmake" / "model_header.cpp")], capture_output=True, text=True)
    boost_errors = [line for line in no_boost.stderr.splitlines() if "error:" in line]
    if no_boost.returncode == 0 or not boost_errors or "needs Boost.Hana" not in boost_errors[0] \
            or "never -I/usr/include" not in boost_errors[0]:
        sys.exit("FAIL: without Boost the first error is not ctattn's cross-safe hint:\n" + "\n".join(boost_errors[:3]))
    # The attention-only headers with no package folder at all (no xsimd, no Boost), linked into
    # the firmware and run.
    elf = work / "attention_fw.elf"
    run(["arm-none-eabi-g++", "-std=c++20"] + M4_FLAGS + FIRMWARE_FLAGS + ["-Wall", "-Wextra", "-Werror", "-I", source / "include",
         HERE / "firmware" / "attention_fw.cpp", "-o", elf] + FIRMWARE_LINK)
    run_firmware(elf)

    # GCC 12 defaults to C++17. The README example's first error must name C++20, and so must every
    # public header's when it is included first (-Wfatal-errors: stop at that first error).
    def first_error(unit, extra):
        result = subprocess.run(["arm-none-eabi-g++", "-std=c++17", "-fsyntax-only", "-I", str(source / "include"),
                                 "-isystem", str(packages)] + M4_FLAGS + extra + [str(unit)], capture_output=True, text=True)
        errors = [line for line in result.stderr.splitlines() if "error:" in line]
        if result.returncode == 0 or not errors or "ctattn needs C++20" not in errors[0]:
            sys.exit(f"FAIL: {unit} under -std=c++17: the first error is not ctattn's C++20 check:\n" + "\n".join(errors[:3]))
        return len(errors)
    count = first_error(source / "examples" / "readme_example.cpp", [])
    print(f"README example under -std=c++17: {count} errors, the first names C++20")
    headers = sorted(p.relative_to(source / "include").as_posix() for p in (source / "include" / "ctattn").rglob("*.hpp"))
    for header in headers:
        unit = work / "one_header.cpp"
        unit.write_text(f"#include <{header}>\n")
        first_error(unit, ["-Wfatal-errors"])
    print(f"{len(headers)} headers included first under -std=c++17: the first error names C++20")


def main():
    source = pathlib.Path(sys.argv[1]).resolve()
    mode = sys.argv[2]
    tools = {"cmake": ["cmake", "ninja"], "meson-subproject": ["meson", "ninja"], "meson-install-pkgconfig": ["meson", "pkg-config", "cmake", "ninja"],
             "bare-headers": []}.get(mode, [])
    if mode == "bare-headers" or (mode == "cmake" and sys.argv[4] == "m4") or mode == "meson-install-pkgconfig":
        tools += ["arm-none-eabi-g++", "qemu-system-arm"]
    if (mode == "cmake" and sys.argv[4] == "rv32imafc") or mode == "meson-install-pkgconfig":
        tools += ["riscv64-unknown-elf-g++", "qemu-system-riscv32"]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        print("SKIP: not installed: " + ", ".join(missing) + " (tools/deps.sh lists them)")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="ctattn-consumer-") as tmp:
        work = pathlib.Path(tmp)
        if mode == "cmake":
            cmake_route(source, sys.argv[3], sys.argv[4], work)
        elif mode == "meson-subproject":
            meson_subproject(source, work)
        elif mode == "meson-install-pkgconfig":
            meson_install_pkgconfig(source, work)
        elif mode == "bare-headers":
            bare_headers(source, work)
        else:
            sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
