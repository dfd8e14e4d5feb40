/*
 * date.h — bank dates to "YYYY-MM-DD".
 *
 * A format is made of the tokens dd, d, MM, M, MMM (Jan..Dec, any case;
 * full month names are accepted too), yyyy, yy (2000-2069, 1970-1999),
 * HH, H, mm, ss, and literal characters. A time after the date ("02-10-2025
 * 14:05:09", "2025-10-02T14:05") is accepted and ignored when the format
 * has none. Excel serial numbers (1900 date system, with Excel's phantom
 * 1900-02-29) are accepted for every format when the value is a bare
 * number, as XLSX date cells are.
 */
#ifndef BS_DATE_H
#define BS_DATE_H

#include <stddef.h>

/* 1 if fmt is a usable format (known tokens, a day, a month and a year). */
int bs_date_format_ok(const char *fmt);

/* Parses s[0..len) with fmt (NULL: try the common bank formats). Writes
 * "YYYY-MM-DD" and a NUL into out[11]. Returns 0, 1 for a blank value, -1
 * with *why (static) when it is not a date of that format. */
int bs_date_parse(const char *fmt, const char *s, size_t len, char out[11], const char **why);

/* Excel 1900-system serial (days, fraction ignored) to "YYYY-MM-DD".
 * 0 or -1 for out-of-range serials. */
int bs_date_from_excel(double serial, char out[11]);

#endif
