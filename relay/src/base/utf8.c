/* SPDX-License-Identifier: MIT
 * utf8.c: strict, incremental UTF-8 validation as a table-driven DFA (the
 * technique Bjoern Hoehrmann described; these tables are our own). ws.c runs
 * text messages and close reasons through it, fragment by fragment. */
#include "base/utf8.h"

#include <string.h>

/*
 * Each byte maps to one of 12 classes; the classes are chosen so that every
 * byte in a class moves the automaton the same way from every state:
 *   0: 00..7F ASCII             6: E1..EC, EE..EF 3-byte lead
 *   1: 80..8F continuation      7: ED 3-byte lead, rest must be < U+D800
 *   2: 90..9F continuation      8: F0 4-byte lead, rest must be >= U+10000
 *   3: A0..BF continuation      9: F1..F3 4-byte lead
 *   4: C2..DF 2-byte lead      10: F4 4-byte lead, rest must be <= U+10FFFF
 *   5: E0 3-byte lead, rest    11: C0, C1, F5..FF: never valid
 *      must be >= U+0800
 * The three continuation classes exist only because E0, ED, F0 and F4 restrict
 * their first continuation byte (that is how overlongs, surrogates and code
 * points above U+10FFFF are rejected without decoding).
 */
/* clang-format off */
static const uint8_t byte_class[256] = {
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 00..0F */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 10..1F */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 20..2F */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 30..3F */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 40..4F */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 50..5F */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 60..6F */
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  /* 70..7F */
    1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  /* 80..8F */
    2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  /* 90..9F */
    3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* A0..AF */
    3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  /* B0..BF */
    11, 11, 4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* C0..CF */
    4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  /* D0..DF */
    5,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  6,  7,  6,  6,  /* E0..EF */
    8,  9,  9,  9,  10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11, /* F0..FF */
};
/* clang-format on */

/*
 * States are row offsets into the transition table (state + class indexes
 * it), hence multiples of the class count, 12. That keeps the public values
 * ACCEPT = 0 and REJECT = 12 and saves a multiply per byte.
 */
enum {
    S_ACC = 0,  /* at a character boundary */
    S_REJ = 12, /* invalid, sticky */
    S_1 = 24,   /* one more continuation byte, any of 80..BF */
    S_2 = 36,   /* two more, any */
    S_3 = 48,   /* three more, any */
    S_E0 = 60,  /* after E0: A0..BF (else overlong), then one more */
    S_ED = 72,  /* after ED: 80..9F (else surrogate), then one more */
    S_F0 = 84,  /* after F0: 90..BF (else overlong), then two more */
    S_F4 = 96,  /* after F4: 80..8F (else > U+10FFFF), then two more */
    N_STATES = 9,
};

#define R S_REJ
/* clang-format off */
static const uint8_t transition[N_STATES * 12] = {
    /* class     0      1      2      3      4      5      6      7      8      9      10     11 */
    /* ACC */   S_ACC, R,     R,     R,     S_1,   S_E0,  S_2,   S_ED,  S_F0,  S_3,   S_F4,  R,
    /* REJ */   R,     R,     R,     R,     R,     R,     R,     R,     R,     R,     R,     R,
    /* 1   */   R,     S_ACC, S_ACC, S_ACC, R,     R,     R,     R,     R,     R,     R,     R,
    /* 2   */   R,     S_1,   S_1,   S_1,   R,     R,     R,     R,     R,     R,     R,     R,
    /* 3   */   R,     S_2,   S_2,   S_2,   R,     R,     R,     R,     R,     R,     R,     R,
    /* E0  */   R,     R,     R,     S_1,   R,     R,     R,     R,     R,     R,     R,     R,
    /* ED  */   R,     S_1,   S_1,   R,     R,     R,     R,     R,     R,     R,     R,     R,
    /* F0  */   R,     R,     S_2,   S_2,   R,     R,     R,     R,     R,     R,     R,     R,
    /* F4  */   R,     S_2,   R,     R,     R,     R,     R,     R,     R,     R,     R,     R,
};
/* clang-format on */
#undef R

uint32_t hr_utf8_feed(uint32_t state, const uint8_t *s, size_t len)
{
    size_t i = 0;

    /* A state outside the table can only come from a caller bug; treat it as
     * invalid rather than index out of bounds. */
    if (state >= N_STATES * 12 || state % 12 != 0)
        return HR_UTF8_REJECT;
    while (i < len) {
        /* Text on the wire is mostly ASCII: skip it eight bytes at a time
         * while at a character boundary. */
        if (state == S_ACC) {
            while (len - i >= 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            if (i == len)
                break;
        }
        state = transition[state + byte_class[s[i++]]];
        if (state == S_REJ)
            break;
    }
    return state;
}

int hr_utf8_valid(const uint8_t *s, size_t len)
{
    return hr_utf8_feed(HR_UTF8_ACCEPT, s, len) == HR_UTF8_ACCEPT;
}
