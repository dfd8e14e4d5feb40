/* discover.c — see discover.h. */
#include "discover.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdc.h"

#define SEQ_MARK '\x01'

/* Every date placeholder a pattern may hold (bs_pattern_expand fills them). */
static const char *const date_placeholders[] = {"{YYYYMMDD}",    "{YYYY-MM-DD}", "{DDMMYYYY}",
                                                "{DD-MM-YYYY}",  "{YYMMDD}",     "{DDMMMYYYY}",
                                                "{date}"};
#define NDATE_PLACEHOLDERS (sizeof date_placeholders / sizeof date_placeholders[0])

char *bs_pattern_expand(const char *pattern, const char *iso)
{
    static const char *const mon[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                      "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    if (!cdc_is_iso_date(iso))
        return NULL;
    char yymmdd[7], ddmmmyyyy[10];
    memcpy(yymmdd, iso + 2, 2);
    memcpy(yymmdd + 2, iso + 5, 2);
    memcpy(yymmdd + 4, iso + 8, 2);
    yymmdd[6] = '\0';
    int m = (iso[5] - '0') * 10 + (iso[6] - '0');
    memcpy(ddmmmyyyy, iso + 8, 2);
    memcpy(ddmmmyyyy + 2, mon[m - 1], 3);
    memcpy(ddmmmyyyy + 5, iso, 4);
    ddmmmyyyy[9] = '\0';
    /* Our own tokens first; the shared helper does the rest. */
    cdc_buf b = {0};
    for (const char *p = pattern; *p;) {
        int rc;
        if (strncmp(p, "{YYMMDD}", 8) == 0)
            rc = cdc_buf_append(&b, yymmdd, 6), p += 8;
        else if (strncmp(p, "{DDMMMYYYY}", 11) == 0)
            rc = cdc_buf_append(&b, ddmmmyyyy, 9), p += 11;
        else if (strncmp(p, "{SEQ}", 5) == 0)
            rc = cdc_buf_append(&b, "\x01", 1), p += 5;
        else if (*p == SEQ_MARK)
            rc = -1; /* a control byte in a pattern is never meant */
        else
            rc = cdc_buf_append(&b, p++, 1);
        if (rc != 0) {
            cdc_buf_free(&b);
            return NULL;
        }
    }
    if (cdc_buf_append(&b, "", 0) != 0)
        return NULL;
    char *out = cdc_expand_date_placeholders(b.data, iso);
    cdc_buf_free(&b);
    return out;
}

char *bs_pattern_any_date(const char *pattern)
{
    cdc_buf b = {0};
    for (const char *p = pattern; *p;) {
        int rc = 0, matched = 0;
        for (size_t i = 0; i < NDATE_PLACEHOLDERS && !matched; i++) {
            size_t n = strlen(date_placeholders[i]);
            if (strncmp(p, date_placeholders[i], n) == 0)
                rc = cdc_buf_append(&b, "*", 1), p += n, matched = 1;
        }
        if (matched)
            ;
        else if (strncmp(p, "{SEQ}", 5) == 0)
            rc = cdc_buf_append(&b, "\x01", 1), p += 5;
        else if (*p == SEQ_MARK)
            rc = -1;
        else
            rc = cdc_buf_append(&b, p++, 1);
        if (rc != 0) {
            cdc_buf_free(&b);
            return NULL;
        }
    }
    if (cdc_buf_append(&b, "", 0) != 0)
        return NULL;
    return b.data;
}

size_t bs_pattern_unknown_placeholder(const char *pattern, const char **at)
{
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
        int ok = strncmp(p, "{SEQ}", 5) == 0;
        for (size_t i = 0; i < NDATE_PLACEHOLDERS && !ok; i++)
            ok = strncmp(p, date_placeholders[i], strlen(date_placeholders[i])) == 0;
        if (!ok) {
            const char *end = strchr(p, '}');
            *at = p;
            return end ? (size_t)(end - p) + 1 : strlen(p);
        }
    }
    return 0;
}

char *bs_pattern_display(const char *expanded)
{
    cdc_buf b = {0};
    for (const char *p = expanded; *p; p++) {
        int rc = *p == SEQ_MARK ? cdc_buf_append(&b, "{SEQ}", 5) : cdc_buf_append(&b, p, 1);
        if (rc != 0) {
            cdc_buf_free(&b);
            return NULL;
        }
    }
    if (cdc_buf_append(&b, "", 0) != 0)
        return NULL;
    return b.data;
}

int bs_pattern_match(const char *pat, const char *name)
{
    /* Dynamic programming over (pattern position, name position): linear
     * in both lengths, no backtracking blow-up whatever the pattern. */
    size_t n = strlen(name);
    unsigned char *cur = calloc(n + 1, 1), *next = calloc(n + 1, 1);
    if (!cur || !next) {
        free(cur);
        free(next);
        return 0;
    }
    cur[0] = 1;
    for (const char *p = pat; *p; p++) {
        memset(next, 0, n + 1);
        for (size_t i = 0; i <= n; i++) {
            if (*p == '*') {
                if (cur[i] || (i > 0 && next[i - 1]))
                    next[i] = 1;
            } else if (*p == SEQ_MARK) {
                /* one or more digits: reach i from a state before a digit
                 * run ending at i */
                if (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9' && (cur[i - 1] || next[i - 1]))
                    next[i] = 1;
            } else if (i > 0 && cur[i - 1] && (*p == '?' || *p == name[i - 1])) {
                next[i] = 1;
            }
        }
        unsigned char *t = cur;
        cur = next;
        next = t;
    }
    int ok = cur[n];
    free(cur);
    free(next);
    return ok;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return b && a >= b && strcasecmp(s + a - b, suffix) == 0;
}

int bs_is_temp_name(const char *name)
{
    return ends_with(name, ".part") || ends_with(name, ".tmp") || ends_with(name, ".filepart") ||
           ends_with(name, ".partial") || name[0] == '.';
}

int bs_is_sidecar(const char *name, const char *marker)
{
    return ends_with(name, ".sha256") || ends_with(name, ".md5") ||
           (marker && *marker && ends_with(name, marker));
}

int bs_natural_cmp(const char *a, const char *b)
{
    const char *a0 = a, *b0 = b;
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
            if (la != lb)
                return la < lb ? -1 : 1;
            int c = strncmp(a, b, la);
            if (c)
                return c;
            a += la, b += lb;
        } else {
            if (*a != *b)
                return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++, b++;
        }
    }
    if (*a || *b)
        return *a ? 1 : -1;
    /* equal as numbers ("F_02" and "F_2"): byte order decides, so that the
     * order of the day's files never depends on the listing */
    int c = strcmp(a0, b0);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}
