# SPDX-License-Identifier: Apache-2.0
# ESP-IDF component registration (idf_component.yml), included by CMakeLists.txt when ESP_PLATFORM is
# set: ctattn's headers as an interface component. ESP-IDF 5 compiles C++ as gnu++20 or later and
# Xtensa/RISC-V cores have no xsimd arch, so the scalar kernels are selected explicitly.
idf_component_register(INCLUDE_DIRS "include")
target_compile_definitions(${COMPONENT_LIB} INTERFACE CTATTN_SIMD_SCALAR=1)
