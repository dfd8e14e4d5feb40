/*
 * datetime.h — strict validation of the date and timestamp text that
 * crosses the driver ABI, so that PostgreSQL never rejects a COPY row.
 */
#ifndef CD_DATETIME_H
#define CD_DATETIME_H

#include <stddef.h>

/* "YYYY-MM-DD", a real calendar day, year 1900..9999. Returns 0 when
 * valid, else -1 with *why (static text). */
int cd_date_valid(const char *s, size_t len, const char **why);

/* "YYYY-MM-DD", or that followed by 'T' or ' ' and "HH:MM[:SS[.f{1,6}]]"
 * and an optional zone "Z", "+HH", "+HH:MM", "+HHMM" (or '-').
 * Sets *has_zone. Returns 0 when valid, else -1 with *why. */
int cd_timestamp_valid(const char *s, size_t len, int *has_zone, const char **why);

/* Civil-date arithmetic: days since 1970-01-01 and back (proleptic
 * Gregorian). */
long cd_days_from_civil(int y, int m, int d);
void cd_civil_from_days(long days, int *y, int *m, int *d);

/* Parses "YYYY-MM-DD" into y/m/d; 0 or -1. */
int cd_date_parse(const char *s, int *y, int *m, int *d);

#endif
