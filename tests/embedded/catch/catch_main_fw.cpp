// SPDX-License-Identifier: Apache-2.0
// Catch2's runner for the kernel-test images on bare metal (tests/embedded/catch): the host's
// tests/support/catch_main.cpp defines main(argc, argv), which examples/boards/startup.c cannot
// call (it calls main() with no arguments and ends the run with SYS_EXIT on main's verdict). Here
// main() hands Catch2 a fixed command line and returns its number of failed assertions (0: pass).
// The CATCH_CONFIG_* macros come from the meson row, the same for every TU of an image.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

int main() {
    char program[] = "kernel-tests";
    char* argv[] = {program, nullptr};
    return Catch::Session().run(1, argv);
}
