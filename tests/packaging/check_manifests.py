#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The ecosystem manifests, checked without the ecosystems' own tools (which cannot be installed
here): each parses, every path it names exists, and its version is VERSION's.

  check_manifests.py SOURCE_DIR {zephyr,esp-idf,platformio,arduino}

zephyr:     zephyr/module.yml (YAML): build.cmake is a folder with a CMakeLists.txt, build.kconfig a
            file; every `config` in the Kconfig has a type and help; every CONFIG_CTATTN* symbol the
            module's CMake uses is defined there; the CMake reads VERSION and names folders that exist.
esp-idf:    idf_component.yml (YAML): version, licence, each `files.include` pattern matches a file;
            CMakeLists.txt registers through cmake/esp-idf.cmake under ESP_PLATFORM, whose
            INCLUDE_DIRS exist.
platformio: library.json (JSON): version, licence, includeDir, headers and exported paths exist.
arduino:    library.properties (key=value): the fields the Arduino specification requires, version,
            a category from its list, `includes` headers in src/, which compile as C++20.
Exit status 0 when all hold (77: PyYAML missing)."""
import json
import pathlib
import re
import shutil
import subprocess
import sys

failures = []


def check(ok, what):
    print(("pass " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def load_yaml(path):
    try:
        import yaml
    except ImportError:
        print("SKIP: PyYAML (python3-yaml) is not installed")
        sys.exit(77)
    return yaml.safe_load(path.read_text())


def zephyr(source, version):
    module = load_yaml(source / "zephyr" / "module.yml")
    check(module.get("name") == "ctattn", "module.yml names the module ctattn")
    build = module.get("build", {})
    cmake_dir = source / build.get("cmake", "<missing>")
    check((cmake_dir / "CMakeLists.txt").is_file(), f"build.cmake ({build.get('cmake')}) holds a CMakeLists.txt")
    kconfig_path = source / build.get("kconfig", "<missing>")
    check(kconfig_path.is_file(), f"build.kconfig ({build.get('kconfig')}) exists")
    if not kconfig_path.is_file() or not (cmake_dir / "CMakeLists.txt").is_file():
        return
    kconfig = kconfig_path.read_text()
    symbols = {}
    for block in re.split(r"^config ", kconfig, flags=re.M)[1:]:
        name = block.split()[0]
        symbols[name] = block
        check(re.search(r"^\s+bool\b|^\s+int\b|^\s+string\b|^\s+hex\b", block, re.M) is not None, f"Kconfig {name} has a type")
        check(re.search(r"^\s+help\s*$", block, re.M) is not None, f"Kconfig {name} has help")
    check("CTATTN" in symbols, "Kconfig defines CTATTN")
    cmake = (cmake_dir / "CMakeLists.txt").read_text()
    for used in sorted(set(re.findall(r"CONFIG_(CTATTN\w*)", cmake))):
        check(used in symbols, f"zephyr/CMakeLists.txt's CONFIG_{used} is defined in the Kconfig")
    check('file(READ "${CTATTN_ROOT}/VERSION"' in cmake and (source / "VERSION").read_text().strip() == version,
          "the module's CMake reads VERSION")
    for folder in re.findall(r'"\$\{CTATTN_ROOT\}/([^"]+)"', cmake):
        check((source / folder).exists(), f"zephyr/CMakeLists.txt names {folder}, which exists")


def esp_idf(source, version):
    manifest = load_yaml(source / "idf_component.yml")
    check(str(manifest.get("version")) == version, f"idf_component.yml version {manifest.get('version')} == {version}")
    check(manifest.get("license") == "Apache-2.0" and (source / "LICENSE").is_file(), "licence Apache-2.0, LICENSE exists")
    check("idf" in manifest.get("dependencies", {}), "depends on an IDF version")
    for pattern in manifest.get("files", {}).get("include", []):
        check(any(p.is_file() for p in source.glob(pattern)), f"files.include {pattern} matches a file")
    root_cmake = (source / "CMakeLists.txt").read_text()
    branch = re.search(r"if\(ESP_PLATFORM\)(.*?)endif\(\)", root_cmake, re.S)
    check(branch is not None and "cmake/esp-idf.cmake" in branch.group(1) and "return()" in branch.group(1),
          "CMakeLists.txt registers the component through cmake/esp-idf.cmake when ESP_PLATFORM is set")
    esp = (source / "cmake" / "esp-idf.cmake").read_text()
    registered = re.search(r"idf_component_register\(([^)]*)\)", esp)
    check(registered is not None, "cmake/esp-idf.cmake calls idf_component_register")
    if registered:
        dirs = re.findall(r'INCLUDE_DIRS\s+((?:"[^"]+"\s*)+)', registered.group(1))
        for d in re.findall(r'"([^"]+)"', dirs[0] if dirs else ""):
            check((source / d).is_dir(), f"INCLUDE_DIRS {d} exists")
        check(bool(dirs), "the component has INCLUDE_DIRS")


def platformio(source, version):
    library = json.loads((source / "library.json").read_text())
    check(library.get("name") == "ctattn", "library.json names ctattn")
    check(library.get("version") == version, f"library.json version {library.get('version')} == {version}")
    check(library.get("license") == "Apache-2.0", "library.json licence Apache-2.0")
    build = library.get("build", {})
    include_dir = source / build.get("includeDir", "include")
    check(include_dir.is_dir(), f"build.includeDir {build.get('includeDir')} exists")
    check((source / build.get("srcDir", "src")).is_dir(), f"build.srcDir {build.get('srcDir')} exists")
    for header in library.get("headers", []):
        check((include_dir / header).is_file(), f"headers {header} exists under the include folder")
    for path in library.get("export", {}).get("include", []):
        check((source / path).exists(), f"export.include {path} exists")
    check(any(re.fullmatch(r"-std=(gnu|c)\+\+20", flag) for flag in build.get("flags", [])), "builds as C++20")


def arduino(source, version):
    fields = {}
    for line in (source / "library.properties").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, sep, value = line.partition("=")
            check(bool(sep), f"library.properties line {line!r} is key=value")
            fields[key.strip()] = value.strip()
    for required in ("name", "version", "author", "maintainer", "sentence", "paragraph", "category", "url", "architectures"):
        check(bool(fields.get(required)), f"library.properties has {required}")
    check(fields.get("version") == version, f"library.properties version {fields.get('version')} == {version}")
    categories = {"Display", "Communication", "Signal Input/Output", "Sensors", "Device Control", "Timing",
                  "Data Storage", "Data Processing", "Other"}
    check(fields.get("category") in categories, f"category {fields.get('category')} is one of Arduino's")
    headers = [h.strip() for h in fields.get("includes", "").split(",") if h.strip()]
    check(bool(headers), "library.properties names the header to include")
    for header in headers:
        path = source / "src" / header
        check(path.is_file(), f"includes {header} exists in src/")
        compiler = shutil.which("c++") or shutil.which("g++")
        if path.is_file() and compiler:
            # As Arduino compiles a sketch: only src/ on the include path.
            result = subprocess.run([compiler, "-std=gnu++20", "-fsyntax-only", "-fno-exceptions", "-fno-rtti",
                                     "-I", str(source / "src"), "-x", "c++", "-"],
                                    input=f"#include <{header}>\nint main() {{ return 0; }}\n", capture_output=True, text=True)
            check(result.returncode == 0, f"a sketch including <{header}> with only src/ on the path compiles as C++20"
                  + ("" if result.returncode == 0 else "\n" + result.stderr[:2000]))


def main():
    source = pathlib.Path(sys.argv[1]).resolve()
    version = (source / "VERSION").read_text().strip()
    {"zephyr": zephyr, "esp-idf": esp_idf, "platformio": platformio, "arduino": arduino}[sys.argv[2]](source, version)
    if failures:
        print(f"{len(failures)} failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
