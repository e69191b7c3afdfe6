# SPDX-License-Identifier: Apache-2.0
# ctattn's optional header-only packages, attached to a target that carries ctattn's headers. Shared
# by CMakeLists.txt (add_subdirectory, FetchContent) and the installed ctattnConfig.cmake
# (find_package), so both routes give the same target:
#   xsimd >= 8.1   vector kernels (SSE/AVX/AVX-512/NEON). Without it, with CTATTN_SIMD_SCALAR, or for
#                  a target xsimd has no arch for (Cortex-M, RISC-V without V), the kernels are scalar.
#   Boost >= 1.74  Boost.Hana, for the model headers (model.hpp and what includes it) only.
# Cross builds must not see the build machine's /usr/include (its libc headers are for the build
# machine, and a cross compiler would take them over its own), so there every header folder (ctattn/,
# xsimd/, boost/) is symlinked alone into <build>/ctattn-header-packages, which becomes the one include
# directory; CTATTN_HEADER_PACKAGES names package folders to add that way by hand (e.g.
# /usr/include/boost for the model headers in firmware).
include_guard(GLOBAL)

option(CTATTN_SIMD_SCALAR "ctattn: plain C++ kernels even where xsimd has an arch (defines CTATTN_SIMD_SCALAR)" OFF)
set(CTATTN_HEADER_PACKAGES "" CACHE STRING
    "ctattn: header-only package folders to expose alone (e.g. /usr/include/xsimd;/usr/include/boost)")

# Puts ROOT/FOLDER on TARGET's include path: ROOT itself in native builds, a folder holding only a
# link to ROOT/FOLDER in cross builds (or when FORCE_ALONE is given).
function(ctattn_add_header_folder target root folder)
    if(NOT CMAKE_CROSSCOMPILING AND NOT ARGN STREQUAL "FORCE_ALONE")
        target_include_directories(${target} SYSTEM INTERFACE "${root}")
        return()
    endif()
    set(packages_dir "${CMAKE_BINARY_DIR}/ctattn-header-packages")
    file(MAKE_DIRECTORY "${packages_dir}")
    if(NOT EXISTS "${packages_dir}/${folder}")
        file(CREATE_LINK "${root}/${folder}" "${packages_dir}/${folder}" SYMBOLIC COPY_ON_ERROR)
    endif()
    target_include_directories(${target} SYSTEM INTERFACE "${packages_dir}")
endfunction()

# Adds PACKAGE_TARGET's headers (the folder FOLDER under one of its include directories) to TARGET.
# Include directories only, not the target itself: both packages are header-only, and Debian 12's
# xsimd target links an `xtl` it does not find (libxtl-dev), which ctattn does not use.
function(_ctattn_use_package target package_target folder)
    get_target_property(dirs ${package_target} INTERFACE_INCLUDE_DIRECTORIES)
    foreach(dir IN LISTS dirs)
        if(EXISTS "${dir}/${folder}")
            ctattn_add_header_folder(${target} "${dir}" "${folder}")
            return()
        endif()
    endforeach()
endfunction()

function(ctattn_attach_dependencies target)
    foreach(package_dir IN LISTS CTATTN_HEADER_PACKAGES)
        get_filename_component(root "${package_dir}" DIRECTORY)
        get_filename_component(folder "${package_dir}" NAME)
        ctattn_add_header_folder(${target} "${root}" "${folder}" FORCE_ALONE)
    endforeach()

    if(CTATTN_SIMD_SCALAR)
        target_compile_definitions(${target} INTERFACE CTATTN_SIMD_SCALAR=1)
    else()
        find_package(xsimd 8.1 CONFIG QUIET)
        if(xsimd_FOUND AND TARGET xsimd)
            _ctattn_use_package(${target} xsimd xsimd)
        endif()
    endif()

    find_package(Boost 1.74 CONFIG QUIET)
    if(Boost_FOUND AND TARGET Boost::headers)
        _ctattn_use_package(${target} Boost::headers boost)
    endif()
endfunction()
