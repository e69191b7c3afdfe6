#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Release hygiene, one check per call (tests/packaging/meson.build runs each as a test):

  check_release.py SOURCE_DIR versions BUILD_DIR   every mention of ctattn's version agrees with VERSION
  check_release.py SOURCE_DIR licence BUILD_DIR    LICENSE is Apache-2.0 and installed by meson and CMake

versions: VERSION is X.Y.Z; meson's project version (meson introspect) is it and meson.build takes
it from the file; CMakeLists.txt reads the file; the generated C API states it; CHANGELOG.md's
newest entry is it; the packaging manifests (idf_component.yml, library.json, library.properties)
state it (the Zephyr module has no version field: its CMake reads VERSION, check_manifests.py); every find_package(ctattn X.Y) in docs asks for a compatible version;
every pinned git revision in docs is `main`, a commit id or a tag that exists.
licence: LICENSE is the Apache License 2.0; `meson introspect --installed` installs it to
share/doc/ctattn/LICENSE; `cmake --install` of the top-level CMakeLists.txt does too.
Exit status 0 when all hold; each failure is printed by name."""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

failures = []


def check(ok, what):
    print(("pass " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def versions(source, build):
    version = (source / "VERSION").read_text().strip()
    check(re.fullmatch(r"\d+\.\d+\.\d+", version) is not None, f"VERSION holds X.Y.Z ({version!r})")
    major_minor = ".".join(version.split(".")[:2])

    meson_build = (source / "meson.build").read_text()
    check("version : files('VERSION')" in meson_build, "meson.build's project() takes its version from VERSION")
    info = json.loads(subprocess.run(["meson", "introspect", "--projectinfo", str(build)], check=True,
                                     capture_output=True, text=True).stdout)
    check(info["version"] == version, f"meson's project version {info['version']} == {version}")
    cmake = (source / "CMakeLists.txt").read_text()
    check('file(READ "${CMAKE_CURRENT_LIST_DIR}/VERSION" CTATTN_VERSION)' in cmake, "CMakeLists.txt reads VERSION")
    project_call = re.sub(r"#.*", "", meson_build.split("project(", 1)[1].split("default_options", 1)[0])
    check(re.search(r"\bversion\s*:\s*'", project_call) is None, "meson.build's project() names no version literal")

    for header in sorted((source / "generated").glob("*/ctattn_*.h")):
        found = re.findall(r'#define CTATTN_\w+_CTATTN_VERSION "([^"]+)"', header.read_text())
        check(found == [version], f"{header.relative_to(source)} states version {found} == {version}")
    for cmakelists in sorted((source / "generated").glob("*/CMakeLists.txt")):
        found = re.findall(r"find_package\(ctattn ([0-9.]+) CONFIG", cmakelists.read_text())
        check(found == [version], f"{cmakelists.relative_to(source)} asks find_package for {found} == {version}")

    changelog = (source / "CHANGELOG.md").read_text()
    entries = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    check(bool(entries) and entries[0] == version, f"CHANGELOG.md's newest entry {entries[:1]} == {version}")

    manifests = {
        "idf_component.yml": r"^version:\s*\"?([0-9.]+)\"?\s*$",
        "library.json": r"\"version\":\s*\"([^\"]+)\"",
        "library.properties": r"^version=(\S+)$",
    }
    for name, pattern in manifests.items():
        path = source / name
        if path.exists():
            found = re.findall(pattern, path.read_text(), re.M)
            check(found == [version], f"{name} states version {found} == {version}")

    tags = set(subprocess.run(["git", "-C", str(source), "tag", "-l"], capture_output=True, text=True).stdout.split())
    for doc in sorted(list((source / "docs").glob("*.md")) + [source / "README.md"]):
        text = doc.read_text()
        for asked in re.findall(r"find_package\(ctattn ([0-9.]+)", text):
            ok = asked == major_minor or asked == version or (asked.startswith(major_minor + ".") and asked <= version)
            check(ok, f"{doc.name}: find_package(ctattn {asked}) accepts {version}")
        for pinned in re.findall(r"(?:\bGIT_TAG\s+|^revision = )([\w.\-]+)", text, re.M):
            ok = pinned == "main" or re.fullmatch(r"[0-9a-f]{40}", pinned) or pinned in tags
            check(bool(ok), f"{doc.name}: pinned revision {pinned} is main, a commit id or an existing tag")


def licence(source, build):
    text = (source / "LICENSE").read_text()
    check("Apache License" in text and "Version 2.0, January 2004" in text, "LICENSE is the Apache License 2.0")
    installed = json.loads(subprocess.run(["meson", "introspect", "--installed", str(build)], check=True,
                                          capture_output=True, text=True).stdout)
    meson_dest = [dest for src, dest in installed.items() if pathlib.Path(src).resolve() == (source / "LICENSE").resolve()]
    check(len(meson_dest) == 1 and meson_dest[0].endswith("share/doc/ctattn/LICENSE"),
          f"meson install puts LICENSE in share/doc/ctattn ({meson_dest})")
    with tempfile.TemporaryDirectory(prefix="ctattn-licence-") as tmp:
        work = pathlib.Path(tmp)
        subprocess.run(["cmake", "-S", str(source), "-B", str(work / "build"), f"-DCMAKE_INSTALL_PREFIX={work / 'prefix'}"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--install", str(work / "build")], check=True, stdout=subprocess.DEVNULL)
        installed_licence = work / "prefix" / "share" / "doc" / "ctattn" / "LICENSE"
        check(installed_licence.is_file() and installed_licence.read_text() == text,
              "cmake --install puts LICENSE in share/doc/ctattn beside include/ctattn")
        check((work / "prefix" / "include" / "ctattn" / "ctattn.hpp").is_file(), "cmake --install installs the headers")


def main():
    source, mode, build = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2], pathlib.Path(sys.argv[3]).resolve()
    {"versions": versions, "licence": licence}[mode](source, build)
    if failures:
        print(f"{len(failures)} failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
