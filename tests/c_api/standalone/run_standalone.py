#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The generated package outside this tree: copies generated/stories260k into a temporary folder,
builds examples/c_firmware/main.c (C11) against it and runs it, by one route per call:

  run_standalone.py SOURCE_DIR cmake host   add_subdirectory(package) with CTATTN_SOURCE_DIR (a path);
                                            the package's build step writes the weights header
  run_standalone.py SOURCE_DIR cmake m4     Cortex-M4F firmware (examples/boards/, mps2-an386): ctattn
                                            by find_package after `cmake --install`, the weights
                                            header written beforehand (no ctattn checkout in sight)
  run_standalone.py SOURCE_DIR make host    the plain Makefile beside this file
  run_standalone.py SOURCE_DIR make m4      the same Makefile with BOARD=mps2-an386
  run_standalone.py SOURCE_DIR meson host   a meson project that subdir()s the package, with ctattn a
                                            subproject and ctattn_source_dir the checkout (its tools/
                                            write the weights header): the package's meson.build
                                            must not assume it sits in ctattn's tree

Host programs compare their ids with examples/c_firmware/expected_ids.txt themselves; firmware
runs under qemu-system-arm and examples/c_firmware/check_ids.py compares what it prints. The
exit status is the verdict (77: a tool is missing)."""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
M4_FLAGS = "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
QEMU = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
        "-semihosting-config", "enable=on,target=native", "-kernel"]


def run(cmd, **kwargs):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def check_program(source, program, target):
    expected = source / "examples" / "c_firmware" / "expected_ids.txt"
    if target == "host":
        run([program, expected])
    else:
        run(["arm-none-eabi-size", program])
        run([sys.executable, source / "examples" / "c_firmware" / "check_ids.py", expected, "--"] + QEMU + [program])


def main():
    source = pathlib.Path(sys.argv[1]).resolve()
    build_tool, target = sys.argv[2], sys.argv[3]
    checkpoint = source.parent / "shared" / "models" / "stories260K.bin"
    tools = {"cmake": ["cmake", "ninja"], "meson": ["meson", "ninja"]}.get(build_tool, ["make"])
    if target == "m4":
        tools += ["arm-none-eabi-gcc", "qemu-system-arm"]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing or not checkpoint.exists():
        print("SKIP: not available: " + ", ".join(missing + ([] if checkpoint.exists() else [str(checkpoint)])))
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="ctattn-standalone-") as tmp:
        work = pathlib.Path(tmp)
        package = work / "ctattn_stories260k"
        shutil.copytree(source / "generated" / "stories260k", package)
        app = work / "main.c"
        shutil.copy(source / "examples" / "c_firmware" / "main.c", app)
        # Header-only packages a cross build may see, each alone (never the rest of /usr/include).
        packages = work / "packages"
        packages.mkdir()
        (packages / "boost").symlink_to("/usr/include/boost")

        if build_tool == "cmake":
            build = work / "build"
            args = ["-G", "Ninja", f"-DCTATTN_PACKAGE_DIR={package}", f"-DCTATTN_APP={app}"]
            if target == "host":
                args += ["-DCMAKE_BUILD_TYPE=Release", f"-DCTATTN_SOURCE_DIR={source}",
                         f"-DCTATTN_STORIES260K_CHECKPOINT={checkpoint}"]
            else:
                prefix = work / "prefix"
                run(["cmake", "-S", source, "-B", work / "ctattn-build", "-G", "Ninja", f"-DCMAKE_INSTALL_PREFIX={prefix}"],
                    stdout=subprocess.DEVNULL)
                run(["cmake", "--install", work / "ctattn-build"], stdout=subprocess.DEVNULL)
                weights = work / "ctattn_stories260k_weights.h"
                run([sys.executable, source / "tools" / "ctattn_gen.py", source / "configs" / "stories260k.json",
                     "--checkpoint", checkpoint, "--weights-header", weights])
                args += ["-DCMAKE_BUILD_TYPE=MinSizeRel", f"-DCMAKE_PREFIX_PATH={prefix}",
                         f"-DCMAKE_TOOLCHAIN_FILE={source / 'examples' / 'boards' / 'cmake' / 'arm-none-eabi-cortex-m4f.cmake'}",
                         f"-DCTATTN_BOARDS_CMAKE={source / 'examples' / 'boards' / 'cmake' / 'board.cmake'}",
                         "-DCTATTN_HEADER_PACKAGES=/usr/include/boost", f"-DCTATTN_STORIES260K_WEIGHTS_HEADER={weights}"]
            run(["cmake", "-S", HERE, "-B", build] + args)
            run(["cmake", "--build", build, "-j", "1", "-v"])
            program = build / ("c_example.elf" if target == "m4" else "c_example")
        elif build_tool == "meson":
            project = work / "app"
            project.mkdir()
            shutil.move(str(package), project / "ctattn_stories260k")
            (project / "subprojects").mkdir()
            (project / "subprojects" / "ctattn").symlink_to(source)
            (project / "meson.build").write_text(f"""project('ctattn_c_consumer', 'c', 'cpp', default_options : ['c_std=c11', 'cpp_std=c++20'])
ctattn_dep = dependency('ctattn', fallback : ['ctattn', 'ctattn_dep'])
ctattn_source_dir = '{source}'
ctattn_stories260k_checkpoint = '{checkpoint}'
subdir('ctattn_stories260k')
executable('c_example', '{app}', dependencies : ctattn_stories260k_dep)
""")
            build = work / "build"
            run(["meson", "setup", build, project, "--buildtype=release"])
            run(["meson", "compile", "-C", build, "-j", "1", "c_example"])
            program = build / "c_example"
        else:
            build = work / "build"
            args = ["make", "-f", HERE / "Makefile", f"CTATTN={source}", f"PACKAGE={package}", f"APP={app}",
                    f"BUILD={build}", f"CHECKPOINT={checkpoint}"]
            if target == "m4":
                args += ["BOARD=mps2-an386", f"CPU_FLAGS={M4_FLAGS}", f"HEADER_PACKAGES={packages}"]
            run(args, cwd=work)
            program = build / ("c_example.elf" if target == "m4" else "c_example")
        check_program(source, program, target)
        print(f"run_standalone.py: {build_tool} {target}: the C program over the copied package printed the expected ids")


if __name__ == "__main__":
    main()
