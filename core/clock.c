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
    const char *path = getenv("CONNECTORD_TEST_NOW_FILE");
    if (path) {
        FILE *f = fopen(path, "r");
        long long v = 0;
        int ok = f && fscanf(f, "%lld", &v) == 1;
        if (f)
            fclose(f);
        if (ok)
            return (int64_t)v;
    }
#endif
    return (int64_t)time(NULL);
}
