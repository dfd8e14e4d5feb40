/*
 * fuzz_tzif.c — libFuzzer target for the TZif reader: the first byte picks
 * what the rest is, a whole TZif file (odd) or a POSIX TZ string as a
 * footer carries it (even). For whatever parses, offsets at instants over
 * the whole supported range and the resolution of wall times around them
 * are checked against what they promise. Findings are crashes, sanitizer
 * reports (an out-of-bounds read on a header that lies), leaks, slow
 * inputs, and a broken promise (abort). Refusals are expected.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tz_internal.h"
#include "tzif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Year 1, 1900, 1970, 2026 (around a typical change), 2100, 9999. */
static const int64_t INSTANTS[] = {CD_TZ_MIN_INSTANT, -2208988800, 0, 1774744200, 1793511000,
                                   4102444800, CD_TZ_MAX_INSTANT - 2 * 86400};

static void check(const cd_tzif *z)
{
    for (size_t i = 0; i < sizeof INSTANTS / sizeof *INSTANTS; i++) {
        for (int64_t d = -2 * 86400; d <= 2 * 86400; d += 3 * 3600 + 17 * 60) {
            int64_t t = INSTANTS[i] + d;
            int32_t off = cd_tzif_offset(z, t);
            if (off < -CD_TZIF_MAX_OFFSET || off > CD_TZIF_MAX_OFFSET)
                abort();
            /* the wall time at t must resolve to t among its instants */
            int64_t wall = t + off, first = 0, last = 0;
            int kind = cd_tzif_resolve(z, wall, &first, &last);
            if (kind < 0)
                continue; /* too many changes nearby: refused, not wrong */
            if (kind == CD_WALL_SKIPPED || first > t || last < t)
                abort();
            if (first + cd_tzif_offset(z, first) != wall || last + cd_tzif_offset(z, last) != wall)
                abort();
            if ((kind == CD_WALL_NORMAL) != (first == last))
                abort();
            /* a minute of wall time later: skipped means a change jumped it */
            kind = cd_tzif_resolve(z, wall + 1800, &first, &last);
            if (kind == CD_WALL_SKIPPED &&
                (first != last || cd_tzif_offset(z, first - 1) >= cd_tzif_offset(z, first) ||
                 wall + 1800 < first + cd_tzif_offset(z, first - 1) ||
                 wall + 1800 >= first + cd_tzif_offset(z, first)))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > CD_TZIF_MAX_BYTES)
        return 0;
    char *err = NULL;
    cd_tzif *z = data[0] & 1 ? cd_tzif_parse(data + 1, size - 1, &err)
                             : cd_tzif_from_posix((const char *)data + 1, size - 1, &err);
    if (!z) {
        if (!err)
            abort(); /* a refusal always says why */
        free(err);
        return 0;
    }
    check(z);
    cd_tzif_free(z);
    return 0;
}
