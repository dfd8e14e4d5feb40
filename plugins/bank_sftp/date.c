/* date.c — see date.h. */
#include "date.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const months[] = {"january", "february", "march",     "april",
                                     "may",     "june",     "july",      "august",
                                     "september", "october", "november", "december"};

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* Days since 1970-01-01 to civil date (Howard Hinnant's algorithm). */
static void civil_from_days(long z, int *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long yy = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

/* "YYYY-MM-DD" (years 0..9999, as the parsers produce). */
static void iso_text(int y, int m, int d, char out[11])
{
    out[0] = (char)('0' + y / 1000 % 10);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10 % 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10 % 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

int bs_date_from_excel(double serial, bs_date_system sys, char out[11])
{
    /* The whole range first, so that the conversions below cannot overflow:
     * 1900-01-01 .. 9999-12-31, or 1904-01-01 .. 9999-12-31. */
    double first = sys == BS_DATE_1904 ? 0 : 1;
    double last = sys == BS_DATE_1904 ? 2957003 : 2958465;
    if (!(serial >= first && serial < last + 1))
        return -1;
    /* The time of day is a binary fraction, so a date-time at midnight can
     * be stored a hair below its day (45931.999999999993 for 2025-10-02
     * 00:00). Excel rounds it to the millisecond and shows the next day;
     * so must the day taken here. */
    long n = (long)serial;
    if ((long long)((serial - (double)n) * 86400000.0 + 0.5) >= 86400000)
        n++;
    if (n > (long)last)
        return -1;
    int y, m, d;
    if (sys == BS_DATE_1904) {
        /* serial 0 = 1904-01-01 = day -24107 relative to 1970-01-01 */
        civil_from_days(n - 24107, &y, &m, &d);
    } else {
        if (n == 60) /* Excel's 1900-02-29, which never was */
            return -1;
        if (n > 60)
            n--;
        /* serial 1 = 1900-01-01 = day -25567 relative to 1970-01-01 */
        civil_from_days(n - 1 - 25567, &y, &m, &d);
    }
    iso_text(y, m, d, out);
    return 0;
}

/* Reads between min and max digits; returns the count read or 0. */
static size_t digits(const char *s, size_t len, size_t min, size_t max, int *v)
{
    size_t i = 0;
    int x = 0;
    while (i < len && i < max && s[i] >= '0' && s[i] <= '9')
        x = x * 10 + (s[i++] - '0');
    if (i < min)
        return 0;
    *v = x;
    return i;
}

/* 1 if the format continues with a token of digits (not MMM). */
static int digit_token_at(const char *f)
{
    if (strncmp(f, "MMM", 3) == 0)
        return 0;
    return *f == 'y' || *f == 'M' || *f == 'd' || *f == 'H' || *f == 'm' || *f == 's';
}

/* Parses with one format; 0 or -1. */
static int parse_one(const char *fmt, const char *s, size_t len, int *yo, int *mo, int *dom)
{
    int y = -1, m = -1, d = -1, tmp;
    size_t i = 0;
    const char *f = fmt;
    int prev_digits = 0; /* the token before was digits: "yyyyMMdd" has no separators */
    while (*f) {
        size_t n;
        int was_digits = digit_token_at(f);
        if (strncmp(f, "yyyy", 4) == 0) {
            if (!(n = digits(s + i, len - i, 4, 4, &y)))
                return -1;
            f += 4;
        } else if (strncmp(f, "yy", 2) == 0) {
            if (!(n = digits(s + i, len - i, 2, 2, &y)))
                return -1;
            y += y < 70 ? 2000 : 1900;
            f += 2;
        } else if (strncmp(f, "MMM", 3) == 0) {
            n = 0;
            for (int k = 0; k < 12 && !n; k++) {
                size_t full = strlen(months[k]);
                if (len - i >= full && strncasecmp(s + i, months[k], full) == 0)
                    n = full, m = k + 1;
            }
            for (int k = 0; k < 12 && !n; k++) {
                if (len - i >= 3 && strncasecmp(s + i, months[k], 3) == 0) {
                    n = 3, m = k + 1;
                    if (k == 8 && len - i >= 4 && lower((unsigned char)s[i + 3]) == 't')
                        n = 4; /* "Sept" */
                }
            }
            if (!n)
                return -1;
            while (*f == 'M')
                f++;
        } else if (strncmp(f, "MM", 2) == 0 || strncmp(f, "dd", 2) == 0 ||
                   strncmp(f, "HH", 2) == 0 || strncmp(f, "mm", 2) == 0 ||
                   strncmp(f, "ss", 2) == 0) {
            /* two-letter tokens accept one digit too: banks drop zeros;
             * not between other digit tokens, where "2102025" for
             * yyyyMMdd would be 2102-02-05 */
            size_t min = prev_digits || digit_token_at(f + 2) ? 2 : 1;
            if (!(n = digits(s + i, len - i, min, 2, &tmp)))
                return -1;
            if (f[0] == 'M')
                m = tmp;
            else if (f[0] == 'd')
                d = tmp;
            f += 2;
        } else if (*f == 'M' || *f == 'd' || *f == 'H') {
            if (!(n = digits(s + i, len - i, 1, 2, &tmp)))
                return -1;
            if (*f == 'M')
                m = tmp;
            else if (*f == 'd')
                d = tmp;
            f++;
        } else {
            if (i >= len || s[i] != *f)
                return -1;
            n = 1;
            f++;
        }
        i += n;
        prev_digits = was_digits;
    }
    /* A trailing time the format does not mention. */
    if (i < len) {
        if (s[i] != ' ' && s[i] != 'T')
            return -1;
        for (size_t k = i + 1; k < len; k++)
            if (!strchr("0123456789:. +-ZAPMapm", s[k]))
                return -1;
    }
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m) || y > 9999)
        return -1;
    *yo = y, *mo = m, *dom = d;
    return 0;
}

int bs_date_format_ok(const char *fmt)
{
    if (!fmt || !*fmt || strlen(fmt) > 64)
        return 0;
    /* Every letter belongs to a token parse_one knows (T as in ISO 8601 is
     * a literal): "hh:mm a" or "YYYY" passed this check, then matched no
     * date of the file, and every row was a record error. */
    for (const char *f = fmt; *f;) {
        static const char *const tokens[] = {"yyyy", "yy", "MM", "M", "dd", "d",
                                             "HH", "H", "mm", "ss"};
        if (!((*f >= 'a' && *f <= 'z') || (*f >= 'A' && *f <= 'Z')) || *f == 'T') {
            f++;
            continue;
        }
        if (strncmp(f, "MMM", 3) == 0) {
            while (*f == 'M')
                f++;
            continue;
        }
        size_t k = 0;
        for (; k < sizeof tokens / sizeof tokens[0]; k++)
            if (strncmp(f, tokens[k], strlen(tokens[k])) == 0)
                break;
        if (k == sizeof tokens / sizeof tokens[0])
            return 0;
        f += strlen(tokens[k]);
    }
    return strstr(fmt, "d") && strstr(fmt, "M") && strstr(fmt, "yy");
}

/* A bare number: an Excel serial. */
static int excel_serial(const char *s, size_t len, double *out)
{
    if (len == 0 || len > 32)
        return 0;
    char tmp[33];
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    int dots = 0;
    for (size_t i = 0; i < len; i++) {
        if (tmp[i] == '.')
            dots++;
        else if (tmp[i] < '0' || tmp[i] > '9')
            return 0;
    }
    if (dots > 1 || tmp[0] == '.')
        return 0;
    *out = strtod(tmp, NULL);
    return 1;
}

int bs_date_parse(const char *fmt, const char *s, size_t len, char out[11], const char **why)
{
    return bs_date_parse_in(fmt, s, len, BS_DATE_1900, out, why);
}

int bs_date_parse_in(const char *fmt, const char *s, size_t len, bs_date_system sys, char out[11],
                     const char **why)
{
    return bs_date_parse_cell(fmt, s, len, sys, 1, out, why);
}

int bs_date_parse_cell(const char *fmt, const char *s, size_t len, bs_date_system sys,
                       int number_cell, char out[11], const char **why)
{
    static const char *const common[] = {"yyyy-MM-dd", "dd-MM-yyyy", "dd/MM/yyyy", "dd-MMM-yyyy",
                                         "dd-MMM-yy",  "dd/MM/yy",   "dd.MM.yyyy", "yyyyMMdd",
                                         "dd MMM yyyy", "yyyy/MM/dd"};
    *why = NULL;
    while (len && (s[0] == ' ' || s[0] == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    if (len == 0)
        return 1;
    int y, m, d;
    double serial;
    /* Serials first only when the format is not all digits itself
     * ("yyyyMMdd" would read 20251002 as a serial). */
    int digit_format = fmt && !strpbrk(fmt, "-/. :T");
    /* The day part decides what a serial is: a date-time cell is a double
     * with up to 17 digits ("45567.604166666664"), its day part 5 digits. */
    size_t day_digits = 0;
    while (day_digits < len && s[day_digits] != '.')
        day_digits++;
    /* In text (CSV, TXT, an XLSX string cell) a bare number is a serial
     * only as Excel shows one: 1 to 5 digits, no leading zero. A ddMMyy or
     * yyMMdd date ("021025", "251002") read as a serial loaded as a day in
     * 1957 or 2587; it is a date format the file is checked against. */
    int serial_ok = number_cell ? day_digits <= 7 : day_digits <= 5 && s[0] != '0';
    if (!digit_format && serial_ok && excel_serial(s, len, &serial) && serial < 2958466) {
        if (bs_date_from_excel(serial, sys, out) == 0)
            return 0;
        *why = "not a valid Excel date serial";
        return -1;
    }
    if (fmt) {
        if (parse_one(fmt, s, len, &y, &m, &d) != 0) {
            *why = "does not match the date format";
            return -1;
        }
    } else {
        size_t k = 0;
        for (; k < sizeof common / sizeof common[0]; k++)
            if (parse_one(common[k], s, len, &y, &m, &d) == 0)
                break;
        if (k == sizeof common / sizeof common[0]) {
            *why = "is not a date in a known format";
            return -1;
        }
    }
    iso_text(y, m, d, out);
    return 0;
}
