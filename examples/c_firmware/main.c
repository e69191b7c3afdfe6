/* SPDX-License-Identifier: Apache-2.0 */
/* A C11 program that runs stories260K through generated/stories260k/'s C API only (no C++ in
 * sight): greedy decoding from BOS, printing the token ids. The same file builds for the host and,
 * as firmware, for Cortex-M7 and Cortex-M55 (tests/embedded/c_example_fw.cpp supplies the output
 * and the entry point there) and on its own over a board template (examples/boards/, see
 * CTATTN_EXAMPLE_BOARD below); the tests compare the ids with expected_ids.txt, recorded on the host.
 *
 * RAM is the state (KV cache + one token's rows) and one row of logits, both static; the weights
 * are constant arrays the library reads in place (flash on a device). */
#include <stddef.h>
#include <stdint.h>

#include "ctattn_stories260k.h"

#ifndef CTATTN_EXAMPLE_STEPS
#define CTATTN_EXAMPLE_STEPS 64
#endif

#if defined(CTATTN_EXAMPLE_WRITE)
void CTATTN_EXAMPLE_WRITE(const char* text); /* firmware: semihosting */
static void write_text(const char* text) { CTATTN_EXAMPLE_WRITE(text); }
#else
#include <stdio.h>
static void write_text(const char* text) { fputs(text, stdout); }
#endif

static void write_number(size_t value) {
    char digits[24];
    char* p = digits + sizeof digits;
    *--p = '\0';
    do {
        *--p = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0u);
    write_text(p);
}

static ctattn_stories260k_state example_state;            /* .bss: KV cache and scratch */
static float example_logits[CTATTN_STORIES260K_VOCAB];    /* .bss: one row of next-token scores */

static uint32_t argmax(const float* scores, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; ++i)
        if (scores[i] > scores[best]) best = i;
    return (uint32_t)best;
}

static int fail(const char* what, ctattn_stories260k_status status) {
    write_text(what);
    write_text(": ");
    write_text(ctattn_stories260k_status_string(status));
    write_text("\n");
    return 1;
}

#if !defined(CTATTN_EXAMPLE_NO_MAIN) && !defined(CTATTN_EXAMPLE_BOARD)
static uint32_t generated_ids[CTATTN_EXAMPLE_STEPS]; /* for main's comparison */
#define RECORD_ID(step, id) (generated_ids[(step)] = (id))
#else
#define RECORD_ID(step, id) ((void)0)
#endif

int ctattn_example_run(void) {
    ctattn_stories260k_status status = ctattn_stories260k_init(&example_state);
    if (status != CTATTN_STORIES260K_OK) return fail("init", status);
    write_text("stories260k: state ");
    write_number(sizeof example_state);
    write_text(" bytes (KV cache ");
    write_number(CTATTN_STORIES260K_KV_CACHE_BYTES);
    write_text(" for ");
    write_number(CTATTN_STORIES260K_SEQ_CAPACITY);
    write_text(" positions), weights ");
    write_number(CTATTN_STORIES260K_WEIGHTS_FLOATS * sizeof(float));
    write_text(" bytes read in place\n");

    uint32_t token = CTATTN_STORIES260K_BOS_TOKEN;
    status = ctattn_stories260k_prefill(&example_state, &token, 1, example_logits);
    if (status != CTATTN_STORIES260K_OK) return fail("prefill", status);
    write_text("ids:");
    for (int step = 0; step < CTATTN_EXAMPLE_STEPS; ++step) {
        token = argmax(example_logits, CTATTN_STORIES260K_VOCAB);
        RECORD_ID(step, token);
        write_text(" ");
        write_number(token);
        if (step + 1 < CTATTN_EXAMPLE_STEPS) {
            status = ctattn_stories260k_decode_step(&example_state, token, example_logits);
            if (status != CTATTN_STORIES260K_OK) {
                write_text("\n");
                return fail("decode_step", status);
            }
        }
    }
    write_text("\n");

    /* Errors are values and change nothing: an id outside the vocabulary is refused. */
    const size_t position = ctattn_stories260k_position(&example_state);
    status = ctattn_stories260k_decode_step(&example_state, CTATTN_STORIES260K_VOCAB, example_logits);
    if (status != CTATTN_STORIES260K_INVALID_TOKEN || ctattn_stories260k_position(&example_state) != position)
        return fail("an out-of-vocabulary id was not refused", status);
    write_text("out-of-vocabulary id: ");
    write_text(ctattn_stories260k_status_string(status));
    write_text("\n");
    return 0;
}

#if defined(CTATTN_EXAMPLE_BOARD)
/* Firmware on a board template (examples/boards/, built with -DCTATTN_EXAMPLE_BOARD
 * -DCTATTN_EXAMPLE_WRITE=board_write): startup.c calls main and ends the run with its verdict. */
int main(void) { return ctattn_example_run(); }
#elif !defined(CTATTN_EXAMPLE_NO_MAIN)
#include <stdio.h>

/* c_firmware_example [EXPECTED]: with a file of ids (expected_ids.txt: '#' comment lines, then
 * whitespace-separated numbers), exits 1 unless the generated ids are exactly those. */
static int compare_with(const char* path) {
    FILE* file = fopen(path, "r");
    if (file == NULL) {
        write_text("cannot open the expected ids\n");
        return 1;
    }
    int c, mismatches = 0, count = 0;
    while ((c = fgetc(file)) == '#')
        while ((c = fgetc(file)) != EOF && c != '\n') continue;
    if (c != EOF) ungetc(c, file);
    unsigned long id;
    while (fscanf(file, "%lu", &id) == 1) {
        if (count >= CTATTN_EXAMPLE_STEPS || generated_ids[count] != id) ++mismatches;
        ++count;
    }
    fclose(file);
    if (mismatches != 0 || count != CTATTN_EXAMPLE_STEPS) {
        write_text("the ids differ from the expected ones\n");
        return 1;
    }
    write_text("all ids equal the expected ones\n");
    return 0;
}

int main(int argc, char** argv) {
    const int status = ctattn_example_run();
    if (status != 0 || argc < 2) return status;
    return compare_with(argv[1]);
}
#endif
