/* SPDX-License-Identifier: Apache-2.0 */
/* docs/firmware.md's walkthrough of a model of your own shape: examples/c_firmware/custom_model.json
 * has no checkpoint, so tools/ctattn_gen.py writes a C API without built-in weights, and this C11
 * program gives it random ones at run time: a weights image of CTATTN_CUSTOM_MODEL_WEIGHTS_FLOATS
 * floats (static RAM here; flash or an SD card on a device), attached with _init_with_weights,
 * then greedy decoding from BOS. Exits 0 when every call succeeds and every logit is finite. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "ctattn_custom_model.h"

static float image[CTATTN_CUSTOM_MODEL_WEIGHTS_FLOATS]; /* every tensor, in the kernels' layout */
static ctattn_custom_model_state state;
static float logits[CTATTN_CUSTOM_MODEL_VOCAB];

/* xorshift32: the same weights on every run and every target. */
static uint32_t next_random(uint32_t* s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

int main(void) {
    /* Uniform in [-0.1, 0.1): small enough that RMSNorm gains of ~0.1 still give finite logits.
     * A trained model's image comes from the weights header or a blob instead (docs/formats.md). */
    uint32_t seed = 12345u;
    for (size_t i = 0; i < CTATTN_CUSTOM_MODEL_WEIGHTS_FLOATS; ++i)
        image[i] = ((float)(next_random(&seed) >> 8) / 16777216.0f - 0.5f) * 0.2f;

    /* No checkpoint in the description: no built-in weights, and init says so by name. */
    ctattn_custom_model_status status = ctattn_custom_model_init(&state);
    printf("init without weights: %s\n", ctattn_custom_model_status_string(status));
    if (status != CTATTN_CUSTOM_MODEL_NO_BUILTIN_WEIGHTS) return 1;

    status = ctattn_custom_model_init_with_weights(&state, image, CTATTN_CUSTOM_MODEL_WEIGHTS_FLOATS);
    if (status != CTATTN_CUSTOM_MODEL_OK) {
        printf("init_with_weights: %s\n", ctattn_custom_model_status_string(status));
        return 1;
    }
    uint32_t token = CTATTN_CUSTOM_MODEL_BOS_TOKEN;
    printf("ids:");
    for (int step = 0; step < 16; ++step) {
        status = ctattn_custom_model_decode_step(&state, token, logits);
        if (status != CTATTN_CUSTOM_MODEL_OK) {
            printf("\ndecode_step: %s\n", ctattn_custom_model_status_string(status));
            return 1;
        }
        uint32_t best = 0;
        for (uint32_t v = 0; v < CTATTN_CUSTOM_MODEL_VOCAB; ++v) {
            if (!isfinite(logits[v])) {
                printf("\nlogit %u at step %d is not finite\n", (unsigned)v, step);
                return 1;
            }
            if (logits[v] > logits[best]) best = v;
        }
        token = best;
        printf(" %u", (unsigned)token);
    }
    printf("\n%u positions cached\n", (unsigned)ctattn_custom_model_position(&state));
    return ctattn_custom_model_position(&state) == 16 ? 0 : 1;
}
