/*
 * fuzz_cron.c — libFuzzer target for cron expressions: arbitrary bytes
 * through cd_cron_parse, and for whatever parses, a few next slots in zones
 * with and without DST from instants around their changes. Findings are
 * crashes, sanitizer reports, leaks, a slot not later than the instant it
 * follows, and slow inputs (libFuzzer's -timeout catches a search that does
 * not stop). Refusals are expected.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Zones with a skipped and a repeated hour, a half-hour shift, a change at
 * midnight, and none at all. */
static const char *const ZONES[] = {"America/New_York", "Europe/London", "Australia/Lord_Howe",
                                    "America/Santiago", "Asia/Kolkata"};

/* 2026-03-08 06:30Z and 2026-11-01 05:30Z (just before New York's changes),
 * 2026-03-29 00:30Z (London), and the epoch. */
static const int64_t STARTS[] = {1772951400, 1793511000, 1774744200, 0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Expressions are short; long inputs only slow the fuzzer down. */
    if (size > 4096)
        return 0;
    char *expr = malloc(size + 1);
    if (!expr)
        return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    cd_cron c;
    char *err = NULL;
    int rc = cd_cron_parse(expr, &c, &err);
    free(expr);
    if (rc != 0) {
        if (!err)
            abort(); /* a refusal must say why */
        free(err);
        return 0;
    }
    /* The input picks the zone and the start, so that the corpus explores
     * all of them without multiplying the work of each run. */
    const char *tz = ZONES[size % (sizeof ZONES / sizeof ZONES[0])];
    int64_t t = STARTS[(size / 5) % (sizeof STARTS / sizeof STARTS[0])];
    for (int i = 0; i < 6; i++) {
        int64_t next = 0;
        err = NULL;
        if (cd_cron_next(&c, tz, t, &next, &err) != 0) {
            if (!err)
                abort();
            free(err);
            break;
        }
        if (next <= t)
            abort(); /* slots must move forward */
        t = next;
    }
    return 0;
}
