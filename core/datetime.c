/*
 * datetime.c — strict checks of date and timestamp text (see datetime.h).
 *
 * The sink validates every date and timestamp before it goes into COPY,
 * because one value PostgreSQL refuses aborts the COPY and with it the
 * whole run. The accepted forms are therefore a strict subset of what
 * PostgreSQL reads, with no locale- or DateStyle-dependent forms.
 */
#include "datetime.h"

#include <stdbool.h>
#include <string.h>

/* Value of n ASCII digits at s, or -1 if any is not a digit. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Days in month m (1..12) of year y. */
static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Checks the 10 characters "YYYY-MM-DD" at s (len >= 10 is the caller's
 * job) and returns the parts. */
static int date_part(const char *s, int *y, int *m, int *d, const char **why)
{
    if (s[4] != '-' || s[7] != '-') {
        *why = "is not a date in the form YYYY-MM-DD";
        return -1;
    }
    int yy = digits(s, 4), mm = digits(s + 5, 2), dd = digits(s + 8, 2);
    if (yy < 0 || mm < 0 || dd < 0) {
        *why = "is not a date in the form YYYY-MM-DD";
        return -1;
    }
    if (yy < 1900) {
        *why = "has a year before 1900";
        return -1;
    }
    if (mm < 1 || mm > 12) {
        *why = "has no such month";
        return -1;
    }
    if (dd < 1 || dd > month_days(yy, mm)) {
        *why = "has no such day in its month";
        return -1;
    }
    *y = yy, *m = mm, *d = dd;
    return 0;
}

int cd_date_valid(const char *s, size_t len, const char **why)
{
    int y, m, d;
    if (!s || len != 10) {
        *why = "is not a date in the form YYYY-MM-DD";
        return -1;
    }
    return date_part(s, &y, &m, &d, why);
}

int cd_date_parse(const char *s, int *y, int *m, int *d)
{
    const char *why;
    if (!s || strnlen(s, 11) != 10)
        return -1;
    return date_part(s, y, m, d, &why);
}

/* Checks a zone suffix: "Z", "+HH", "+HH:MM", "+HHMM" or with '-'. */
static int zone_part(const char *z, size_t n, const char **why)
{
    if (n == 1 && z[0] == 'Z')
        return 0;
    const char *bad = "has a time zone not in the form Z, +HH, +HH:MM or +HHMM";
    if (n < 3 || (z[0] != '+' && z[0] != '-')) {
        *why = bad;
        return -1;
    }
    int hh = digits(z + 1, 2), mm = 0;
    if (n == 3) {
        mm = 0;
    } else if (n == 6 && z[3] == ':') {
        mm = digits(z + 4, 2);
    } else if (n == 5) {
        mm = digits(z + 3, 2);
    } else {
        *why = bad;
        return -1;
    }
    if (hh < 0 || mm < 0) {
        *why = bad;
        return -1;
    }
    /* Real offsets lie within -12:00..+14:00; PostgreSQL takes up to 15:59. */
    if (hh > 15 || mm > 59) {
        *why = "has a time zone offset out of range";
        return -1;
    }
    return 0;
}

int cd_timestamp_valid(const char *s, size_t len, int *has_zone, const char **why)
{
    int y, m, d;
    *has_zone = 0;
    if (!s || len < 10) {
        *why = "is not a timestamp in the form YYYY-MM-DDTHH:MM:SS";
        return -1;
    }
    if (date_part(s, &y, &m, &d, why) != 0)
        return -1;
    if (len == 10)
        return 0; /* a date alone is midnight in the session zone */
    const char *form = "is not a timestamp in the form YYYY-MM-DDTHH:MM:SS";
    if ((s[10] != 'T' && s[10] != ' ') || len < 16 || s[13] != ':') {
        *why = form;
        return -1;
    }
    int hh = digits(s + 11, 2), mi = digits(s + 14, 2), ss = 0;
    if (hh < 0 || mi < 0) {
        *why = form;
        return -1;
    }
    size_t i = 16;
    if (i < len && s[i] == ':') {
        if (len < i + 3 || (ss = digits(s + i + 1, 2)) < 0) {
            *why = form;
            return -1;
        }
        i += 3;
        if (i < len && s[i] == '.') {
            size_t f = ++i;
            while (i < len && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == f || i - f > 6) {
                *why = "has a fraction of a second not of 1 to 6 digits";
                return -1;
            }
        }
    }
    /* 24:00 and leap seconds are legal ISO 8601 but shift the day when
     * PostgreSQL reads them; a source sending them is better questioned. */
    if (hh > 23 || mi > 59 || ss > 59) {
        *why = "has a time of day out of range";
        return -1;
    }
    if (i == len)
        return 0;
    if (zone_part(s + i, len - i, why) != 0)
        return -1;
    *has_zone = 1;
    return 0;
}

/* Howard Hinnant's days_from_civil: exact for the whole range of long
 * years that fit, no tables, no floating point. */
long cd_days_from_civil(int y, int m, int d)
{
    long yy = (long)y - (m <= 2);
    long era = (yy >= 0 ? yy : yy - 399) / 400;
    long yoe = yy - era * 400;
    long mp = (m + 9) % 12;
    long doy = (153 * mp + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void cd_civil_from_days(long days, int *y, int *m, int *d)
{
    long z = days + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long dd = doy - (153 * mp + 2) / 5 + 1;
    long mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}
