/*
 * date.h — bank dates to "YYYY-MM-DD".
 *
 * A format is made of the tokens dd, d, MM, M, MMM (Jan..Dec, any case;
 * full month names are accepted too), yyyy, yy (2000-2069, 1970-1999),
 * HH, H, mm, ss, and literal characters. A time after the date ("02-10-2025
 * 14:05:09", "2025-10-02T14:05") is accepted and ignored when the format
 * has none. Excel serial numbers are accepted for every format when the
 * value is a bare number, as XLSX date cells are: in the 1900 date system
 * (with Excel's phantom 1900-02-29), or in the 1904 system of a workbook
 * that says so.
 */
#ifndef BS_DATE_H
#define BS_DATE_H

#include <stddef.h>

/* Which day an Excel serial counts from: a workbook property (workbookPr
 * date1904), 1900 unless the workbook says otherwise. */
typedef enum bs_date_system {
    BS_DATE_1900, /* serial 1 = 1900-01-01 */
    BS_DATE_1904  /* serial 0 = 1904-01-01 */
} bs_date_system;

/* 1 if fmt is a usable format (known tokens, a day, a month and a year). */
int bs_date_format_ok(const char *fmt);

/* Parses s[0..len) with fmt (NULL: try the common bank formats). Writes
 * "YYYY-MM-DD" and a NUL into out[11]. Returns 0, 1 for a blank value, -1
 * with *why (static) when it is not a date of that format. */
int bs_date_parse(const char *fmt, const char *s, size_t len, char out[11], const char **why);
/* The same, reading a bare number as a serial of date system sys. */
int bs_date_parse_in(const char *fmt, const char *s, size_t len, bs_date_system sys, char out[11],
                     const char **why);

/* The same for a cell: number_cell 0 for text (CSV, TXT, an XLSX string
 * cell), where a bare number is a serial only with 1 to 5 digits before
 * any fraction and no leading zero ("021025" is a date to check against
 * the formats, not the serial 21025). */
int bs_date_parse_cell(const char *fmt, const char *s, size_t len, bs_date_system sys,
                       int number_cell, char out[11], const char **why);

/* Excel serial (days; the time of day, rounded to the millisecond, only
 * decides the day at midnight) to "YYYY-MM-DD". 0, or -1 for serials out
 * of range. */
int bs_date_from_excel(double serial, bs_date_system sys, char out[11]);

#endif
