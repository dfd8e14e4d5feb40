/* icu_dyn.c — see icu_dyn.h. */
#include <unicode/ucal.h>
#include <unicode/uvernum.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The names ICU's headers rename the functions to ("ucal_open_72"), as
 * strings, taken before icu_dyn.h re-points them. */
#define CD_STR2(x) #x
#define CD_STR(x) CD_STR2(x)
static const char *const names[] = {
    CD_STR(ucal_open),        CD_STR(ucal_close),          CD_STR(ucal_get),
    CD_STR(ucal_getMillis),   CD_STR(ucal_setMillis),      CD_STR(ucal_clear),
    CD_STR(ucal_setDateTime), CD_STR(ucal_setAttribute),   CD_STR(ucal_setGregorianChange),
    CD_STR(ucal_getCanonicalTimeZoneID), CD_STR(u_errorName),
};

#include "icu_dyn.h"

#define ICU_LIBRARY "libicui18n.so." U_ICU_VERSION_SHORT

static cd_icu_api api;
static char *load_error;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    void *h = dlopen(ICU_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        load_error = cd_sprintf("cannot load ICU (%s) for time zones: %s (install libicu%s)",
                                ICU_LIBRARY, e ? e : "unknown error", U_ICU_VERSION_SHORT);
        return;
    }
    void **slots = (void **)&api;
    _Static_assert(sizeof api == sizeof names / sizeof names[0] * sizeof(void *),
                   "one name per entry of cd_icu_api");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *sym = dlsym(h, names[i]);
        if (!sym) {
            load_error = cd_sprintf("ICU %s has no %s", ICU_LIBRARY, names[i]);
            memset(&api, 0, sizeof api);
            return;
        }
        slots[i] = sym;
    }
    /* The handle stays open for the life of the process. */
}

int cd_icu_load(char **err)
{
    pthread_once(&once, load);
    if (load_error) {
        if (err)
            *err = cd_xstrdup(load_error);
        return -1;
    }
    return 0;
}

const cd_icu_api *cd_icu(void)
{
    char *err = NULL;
    if (cd_icu_load(&err) != 0) {
        fprintf(stderr, "<2>connectord: %s\n", err);
        abort();
    }
    return &api;
}
