/* clock.c — see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int cd_clock_is_fake(void)
{
#ifdef CD_TEST_HOOKS
    return getenv("CONNECTORD_TEST_NOW_FILE") != NULL;
#else
    return 0;
#endif
}

int64_t cd_clock_now(void)
{
#ifdef CD_TEST_HOOKS
    /* A test rewrites the file with the shell (truncate, then write): a read
     * in between finds it empty, and must not fall back to the real clock
     * for that instant (a digest for the real yesterday was sent so). The
     * last value read stands in; before any, a few short waits. */
    static int64_t last_fake;
    const char *path = getenv("CONNECTORD_TEST_NOW_FILE");
    for (int tries = 0; path && tries < 50; tries++) {
        FILE *f = fopen(path, "r");
        long long v = 0;
        int ok = f && fscanf(f, "%lld", &v) == 1;
        if (f)
            fclose(f);
        if (ok) {
            __atomic_store_n(&last_fake, (int64_t)v, __ATOMIC_RELAXED);
            return (int64_t)v;
        }
        int64_t last = __atomic_load_n(&last_fake, __ATOMIC_RELAXED);
        if (last)
            return last;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
#endif
    return (int64_t)time(NULL);
}
