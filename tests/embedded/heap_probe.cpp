// SPDX-License-Identifier: Apache-2.0
// A firmware that allocates, for the zero-heap link test (link_probe.py): built with
// CTATTN_PROBE_ALLOCATION=0 it must link (the control); with 1 (`new`) or 2 (`malloc`) it must
// fail to link, because meson.build wraps every allocator entry point to a symbol that does not exist.
#include <cstdlib>
#include <new>

volatile int probe_sink;
// The allocation escapes through a volatile pointer, so the optimiser may not elide it.
void* volatile probe_escape;

int firmware_main() {
#if CTATTN_PROBE_ALLOCATION == 1
    int* values = new int[16];
    probe_escape = values;
    delete[] static_cast<int*>(probe_escape);
#elif CTATTN_PROBE_ALLOCATION == 2
    void* block = std::malloc(64);
    probe_escape = block;
    std::free(probe_escape);
#else
    probe_sink = 1;
#endif
    return 0;
}
