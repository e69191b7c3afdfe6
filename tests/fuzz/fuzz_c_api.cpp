// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: call sequences on the generated stories260k C API (generated/stories260k,
// compiled into this file with a 12-position KV cache so that CACHE_FULL is a few calls away).
// The input is a script: each step picks a call (init, init_with_weights with good, NaN,
// misaligned, short or null images and wrong size or capacity arguments, init_with_blob and
// validate_blob on the input's own bytes, reset, position, prefill, decode_step, forward, a byte
// copy of one state into another, scribbling over a state) on one of three states (or a null or
// misaligned one) with arguments from the input. Checked besides memory safety:
//   - every call returns one of the header's statuses; errors are the documented ones for the
//     documented causes (null, misaligned, uninitialised, capacity, length, token, cache full);
//   - a call on one state never changes another state's bytes;
//   - position() follows a shadow of each state: unchanged by failed calls, +n by prefill, +1 by
//     decode_step, n after forward, 0 after reset;
//   - every ok call's logits are finite (the weights are small and finite);
//   - a copy is independent: after `*b = *a`, the same token decoded on a and on b gives the
//     same logits even after a is scribbled over (b reads nothing of a's bytes).
// The weights are synthetic (the library is built without built-in weights: init gives
// NO_BUILTIN_WEIGHTS): two images of small random floats, and a copy of the first with one NaN.
#define CTATTN_STORIES260K_SEQ_CAPACITY 12u
#include "../../generated/stories260k/ctattn_stories260k.cpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr std::size_t capacity = CTATTN_STORIES260K_SEQ_CAPACITY, vocab = CTATTN_STORIES260K_VOCAB;
constexpr std::size_t image_floats = CTATTN_STORIES260K_WEIGHTS_FLOATS;
constexpr int n_states = 3;

struct images {
    std::vector<float> a, b, nan;  // nan: a with one NaN, at a place the fuzzer cannot pick
    std::vector<unsigned char> misaligned_bytes;
    images() : a(image_floats), b(image_floats), misaligned_bytes((image_floats + 1) * sizeof(float)) {
        std::uint32_t state = 12345u;
        for (std::size_t i = 0; i < image_floats; ++i) {
            state = state * 1664525u + 1013904223u;
            a[i] = 0.1f * (float(state >> 8) / float(1u << 24) - 0.5f);
            state = state * 1664525u + 1013904223u;
            b[i] = 0.1f * (float(state >> 8) / float(1u << 24) - 0.5f);
        }
        nan = a;
        nan[image_floats / 2] = std::nanf("");
        std::memcpy(misaligned_bytes.data() + 1, a.data(), image_floats * sizeof(float));
    }
};

// The states, and room for a misaligned one, in one aligned block.
struct alignas(64) arena {
    ctattn_stories260k_state states[n_states];
    unsigned char misaligned_room[sizeof(ctattn_stories260k_state) + 64];
};

struct shadow {
    bool initialised = false;
    std::size_t position = 0;
};

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "contract broken: %s\n", what);
    std::abort();
}

void expect(bool ok, const char* what) {
    if (!ok) fail(what);
}

bool known_status(ctattn_stories260k_status s) {
    return int(s) >= 0 && int(s) <= int(CTATTN_STORIES260K_STATE_SIZE_MISMATCH);
}

bool all_finite_logits(const float* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (!std::isfinite(x[i])) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const images image;
    static arena* a = new arena;  // zeroed below: every state starts uninitialised
    static std::vector<float> logits(capacity * vocab);
    std::memset(static_cast<void*>(a), 0, sizeof *a);
    shadow shadows[n_states];
    static std::vector<unsigned char> before(sizeof a->states);
    FuzzedDataProvider in(data, size);

    for (int step = 0; step < 24 && in.remaining_bytes() > 0; ++step) {
        const int op = in.ConsumeIntegralInRange<int>(0, 11);
        const int which = in.ConsumeIntegralInRange<int>(0, n_states + 1);  // n_states: null, +1: misaligned
        ctattn_stories260k_state* state = which < n_states ? &a->states[which]
                                          : which == n_states
                                              ? nullptr
                                              : reinterpret_cast<ctattn_stories260k_state*>(a->misaligned_room + 8);
        shadow dummy;
        shadow& sh = which < n_states ? shadows[which] : dummy;
        const std::size_t pos_before = sh.position;
        std::memcpy(before.data(), a->states, sizeof a->states);
        ctattn_stories260k_status r = CTATTN_STORIES260K_OK;
        bool checks_position = true;

        // What any call on a null, misaligned or uninitialised state must return.
        auto unusable = [&]() -> int {
            if (which == n_states) return CTATTN_STORIES260K_NULL_POINTER;
            if (which > n_states) return CTATTN_STORIES260K_MISALIGNED;
            return sh.initialised ? -1 : CTATTN_STORIES260K_NOT_INITIALISED;
        };
        auto tokens_from_input = [&](std::size_t n, bool& any_bad) {
            std::vector<std::uint32_t> t(n + 1, 0u);  // never empty: data() is not null for n = 0
            any_bad = false;
            for (std::size_t i = 0; i < n; ++i) {
                auto& id = t[i];
                id = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::uint32_t>(0, vocab - 1) : in.ConsumeIntegral<std::uint32_t>();
                any_bad = any_bad || id >= vocab;
            }
            return t;
        };

        switch (op) {
            case 0: {  // init: no built-in weights in this build
                r = ctattn_stories260k_init(state);
                const int u = unusable();
                expect(r == (u == CTATTN_STORIES260K_NULL_POINTER || u == CTATTN_STORIES260K_MISALIGNED
                                 ? ctattn_stories260k_status(u)
                                 : CTATTN_STORIES260K_NO_BUILTIN_WEIGHTS),
                       "init");
                break;
            }
            case 1: {  // init_with_weights, with every kind of image and size argument
                const int kind = in.ConsumeIntegralInRange<int>(0, 7);
                const float* img = kind == 0 ? image.a.data() : kind == 1 ? image.b.data() : kind == 2 ? image.nan.data()
                                   : kind == 3 ? reinterpret_cast<const float*>(image.misaligned_bytes.data() + 1)
                                   : kind == 4 ? nullptr : image.a.data();
                const std::size_t floats = kind == 5 ? image_floats - 1 : image_floats;
                const std::size_t state_bytes = kind == 6 ? sizeof(ctattn_stories260k_state) - 64 : sizeof(ctattn_stories260k_state);
                const std::size_t cap = kind == 7 ? 512 : capacity;
                r = ctattn_stories260k_init_with_weights_checked(state, img, floats, state_bytes, cap);
                const int u = unusable();
                ctattn_stories260k_status want = CTATTN_STORIES260K_OK;
                if (u == CTATTN_STORIES260K_NULL_POINTER || u == CTATTN_STORIES260K_MISALIGNED) want = ctattn_stories260k_status(u);
                else if (kind == 7) want = CTATTN_STORIES260K_CAPACITY_MISMATCH;
                else if (kind == 6) want = CTATTN_STORIES260K_STATE_SIZE_MISMATCH;
                else if (kind == 4) want = CTATTN_STORIES260K_NULL_POINTER;
                else if (kind == 5) want = CTATTN_STORIES260K_INVALID_LENGTH;
                else if (kind == 3) want = CTATTN_STORIES260K_MISALIGNED;
                else if (kind == 2) want = CTATTN_STORIES260K_NON_FINITE;
                expect(r == want, "init_with_weights status");
                if (r == CTATTN_STORIES260K_OK) sh = {true, 0};
                break;
            }
            case 2: {  // validate_blob / init_with_blob on the input's own bytes: no blob is valid
                const std::vector<std::uint8_t> bytes = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(0, 256));
                expect(known_status(ctattn_stories260k_validate_blob(bytes.data(), bytes.size())), "validate_blob");
                r = ctattn_stories260k_init_with_blob(state, bytes.data(), bytes.size());
                expect(r != CTATTN_STORIES260K_OK, "a blob of fuzz bytes cannot be a valid stories260k blob");
                break;
            }
            case 3: {
                r = ctattn_stories260k_reset(state);
                const int u = unusable();
                expect(u >= 0 ? r == u : r == CTATTN_STORIES260K_OK, "reset");
                if (r == CTATTN_STORIES260K_OK) sh.position = 0;
                break;
            }
            case 4: {  // prefill
                const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, capacity + 2);
                bool bad = false;
                const std::vector<std::uint32_t> t = tokens_from_input(n, bad);
                const bool with_logits = in.ConsumeBool();
                r = ctattn_stories260k_prefill(state, t.data(), n, with_logits ? logits.data() : nullptr);
                const int u = unusable();
                if (u >= 0) expect(r == u, "prefill on an unusable state");
                if (bad || sh.position + n > capacity) expect(r != CTATTN_STORIES260K_OK, "prefill accepted a bad token or overflow");
                if (r == CTATTN_STORIES260K_OK) {
                    sh.position += n;
                    if (with_logits && n > 0) expect(all_finite_logits(logits.data(), vocab), "prefill logits");
                }
                break;
            }
            case 5: {  // decode_step
                bool bad = false;
                const std::uint32_t token = tokens_from_input(1, bad)[0];
                const bool with_logits = in.ConsumeIntegralInRange<int>(0, 7) != 0;
                r = ctattn_stories260k_decode_step(state, token, with_logits ? logits.data() : nullptr);
                const int u = unusable();
                if (u >= 0) expect(r == u, "decode_step on an unusable state");
                else if (bad) expect(r == CTATTN_STORIES260K_INVALID_TOKEN || !with_logits, "decode_step token");
                else if (sh.position == capacity && with_logits) expect(r == CTATTN_STORIES260K_CACHE_FULL, "decode_step full");
                else if (with_logits) expect(r == CTATTN_STORIES260K_OK, "decode_step");
                if (r == CTATTN_STORIES260K_OK) {
                    sh.position += 1;
                    if (with_logits) expect(all_finite_logits(logits.data(), vocab), "decode_step logits");
                }
                break;
            }
            case 6: {  // forward
                const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, capacity + 1);
                bool bad = false;
                const std::vector<std::uint32_t> t = tokens_from_input(n, bad);
                r = ctattn_stories260k_forward(state, t.data(), n, logits.data());
                const int u = unusable();
                if (u >= 0) expect(r == u, "forward on an unusable state");
                else if (n == 0 || n > capacity) expect(r == CTATTN_STORIES260K_INVALID_LENGTH, "forward length");
                else if (bad) expect(r == CTATTN_STORIES260K_INVALID_TOKEN, "forward token");
                else expect(r == CTATTN_STORIES260K_OK, "forward");
                if (r == CTATTN_STORIES260K_OK) {
                    sh.position = n;
                    expect(all_finite_logits(logits.data(), n * vocab), "forward logits");
                }
                break;
            }
            case 7: {  // position
                expect(ctattn_stories260k_position(state) == (unusable() >= 0 ? 0 : sh.position), "position");
                break;
            }
            case 8:
            case 9: {  // *to = *from, then both decode one token, then from is scribbled over
                if (which >= n_states) break;
                const int to = in.ConsumeIntegralInRange<int>(0, n_states - 1);
                if (to == which) break;
                a->states[to] = a->states[which];
                shadows[to] = sh;
                if (!sh.initialised || sh.position >= capacity) continue;  // `to` changed on purpose
                const std::uint32_t token = in.ConsumeIntegralInRange<std::uint32_t>(0, vocab - 1);
                std::vector<float> from_logits(vocab), to_logits(vocab);
                expect(ctattn_stories260k_decode_step(&a->states[which], token, from_logits.data()) == CTATTN_STORIES260K_OK,
                       "decode_step on the original");
                if (op == 9) {  // the original scribbled over (as if freed) before the copy is used
                    std::memset(static_cast<void*>(&a->states[which]), 0xa5, sizeof a->states[which]);
                    sh = {};
                } else {
                    sh.position += 1;
                }
                expect(ctattn_stories260k_decode_step(&a->states[to], token, to_logits.data()) == CTATTN_STORIES260K_OK,
                       "decode_step on the copy");
                shadows[to].position += 1;
                expect(std::memcmp(from_logits.data(), to_logits.data(), vocab * sizeof(float)) == 0,
                       "a copied state decodes differently from its original");
                checks_position = false;
                continue;  // two states changed on purpose
            }
            case 10: {  // scribble over a state: it is uninitialised from then on
                if (which >= n_states) break;
                std::memset(static_cast<void*>(state), in.ConsumeIntegralInRange<int>(0, 255), sizeof *state);
                sh = {};
                continue;
            }
            default: {  // wrong size or capacity arguments for init
                const bool wrong_capacity = in.ConsumeBool();
                r = ctattn_stories260k_init_checked(state, sizeof(ctattn_stories260k_state) + (wrong_capacity ? 0 : 64),
                                                    wrong_capacity ? capacity - 1 : capacity);
                const int u = unusable();
                expect(r == (u == CTATTN_STORIES260K_NULL_POINTER || u == CTATTN_STORIES260K_MISALIGNED
                                 ? ctattn_stories260k_status(u)
                                 : wrong_capacity ? CTATTN_STORIES260K_CAPACITY_MISMATCH
                                                  : CTATTN_STORIES260K_STATE_SIZE_MISMATCH),
                       "init with wrong arguments");
                break;
            }
        }
        expect(known_status(r), "an unknown status value");
        if (r != CTATTN_STORIES260K_OK && checks_position) expect(sh.position == pos_before, "a failed call moved the position");
        if (checks_position && which < n_states && sh.initialised)
            expect(ctattn_stories260k_position(state) == sh.position, "position after the call");
        // No call on one state touches another's bytes (a failed call may re-point a copied
        // state's own decoder at its own weights, so the called state itself is not compared).
        for (int s = 0; s < n_states; ++s)
            if (s != which)
                expect(std::memcmp(before.data() + s * sizeof(ctattn_stories260k_state), &a->states[s],
                                   sizeof(ctattn_stories260k_state)) == 0,
                       "a call changed another state");
    }
    return 0;
}
