/*
 * icu_dyn.h — ICU's calendar functions, loaded with dlopen on first use.
 *
 * Why: linking ICU makes every exec of connectord map and relocate ICU and
 * libstdc++ (about 30 ms here), and every run is an exec. Runners never
 * need time zones; the scheduler and the API do. So the binary does not
 * link ICU: this header re-points the handful of ucal_* / u_* names tz.c
 * uses at function pointers filled from libicui18n on first use.
 *
 * Include it after <unicode/ucal.h>, in tz.c only.
 */
#ifndef CD_ICU_DYN_H
#define CD_ICU_DYN_H

#include <unicode/ucal.h>
#include <unicode/utypes.h>

typedef struct cd_icu_api {
    __typeof__(ucal_open) *open;
    __typeof__(ucal_close) *close;
    __typeof__(ucal_get) *get;
    __typeof__(ucal_getMillis) *get_millis;
    __typeof__(ucal_setMillis) *set_millis;
    __typeof__(ucal_clear) *clear;
    __typeof__(ucal_setDateTime) *set_date_time;
    __typeof__(ucal_setAttribute) *set_attribute;
    __typeof__(ucal_setGregorianChange) *set_gregorian_change;
    __typeof__(ucal_getCanonicalTimeZoneID) *get_canonical_tz_id;
    __typeof__(u_errorName) *error_name;
} cd_icu_api;

/* Loads ICU once (thread-safe). Returns 0, or -1 with *err saying which
 * library or symbol is missing (err may be NULL). */
int cd_icu_load(char **err);

/* The loaded table. Aborts with a message if ICU cannot be loaded: callers
 * that can fail cleanly call cd_icu_load first. */
const cd_icu_api *cd_icu(void);

#undef ucal_open
#undef ucal_close
#undef ucal_get
#undef ucal_getMillis
#undef ucal_setMillis
#undef ucal_clear
#undef ucal_setDateTime
#undef ucal_setAttribute
#undef ucal_setGregorianChange
#undef ucal_getCanonicalTimeZoneID
#undef u_errorName
#define ucal_open (cd_icu()->open)
#define ucal_close (cd_icu()->close)
#define ucal_get (cd_icu()->get)
#define ucal_getMillis (cd_icu()->get_millis)
#define ucal_setMillis (cd_icu()->set_millis)
#define ucal_clear (cd_icu()->clear)
#define ucal_setDateTime (cd_icu()->set_date_time)
#define ucal_setAttribute (cd_icu()->set_attribute)
#define ucal_setGregorianChange (cd_icu()->set_gregorian_change)
#define ucal_getCanonicalTimeZoneID (cd_icu()->get_canonical_tz_id)
#define u_errorName (cd_icu()->error_name)

#endif
