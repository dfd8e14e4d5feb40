/*
 * cron.c — five-field cron expressions and their next slot in an IANA zone
 * (see cron.h for the contract, including Vixie cron's DST rule).
 *
 * Evaluation works on local wall-clock minutes first, because that is what
 * the fields describe: a pure-integer search skips whole months, days and
 * hours that cannot match, so even a yearly job costs a few dozen steps.
 * Only the wall minutes that match are turned into instants, by the zone
 * (tz.c), which also says whether that minute was skipped or repeated by a
 * DST change; the rule decides which of its instants are slots.
 */
#include "cron.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datetime.h"
#include "tz_internal.h"
#include "util.h"

/* ---- parsing ------------------------------------------------------------- */

typedef struct field_spec {
    const char *name;           /* as the error messages call the field */
    int min, max;               /* allowed numbers (day of week: 0-7) */
    const char *const *names;   /* three-letter names, or NULL */
    int names_base;             /* the number of names[0] */
    const char *names_hint;     /* for "unknown name" errors */
} field_spec;

static const char *const MONTH_NAMES[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const DAY_NAMES[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_spec FIELDS[5] = {
    {"minute", 0, 59, NULL, 0, NULL},
    {"hour", 0, 23, NULL, 0, NULL},
    {"day-of-month", 1, 31, NULL, 0, NULL},
    {"month", 1, 12, MONTH_NAMES, 1, "JAN-DEC"},
    {"day-of-week", 0, 7, DAY_NAMES, 0, "SUN-SAT"},
};

/* Longest piece of user text quoted back in an error message, so that a
 * megabyte of garbage does not become a megabyte of log line. */
#define QUOTE_MAX 24

/* Numbers are read up to this value and then only consumed: enough to say
 * "out of range" without overflowing on 99999999999999999999. */
#define NUMBER_CAP 1000000

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

/* s[0..n) as a quotable string: printable ASCII kept, anything else as
 * "\xNN", at most QUOTE_MAX input bytes followed by "...". malloc'd. */
static char *quote(const char *s, size_t n)
{
    cd_buf b;
    cd_buf_init(&b);
    size_t shown = n > QUOTE_MAX ? QUOTE_MAX : n;
    for (size_t i = 0; i < shown; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch < 0x7f)
            cd_buf_putc(&b, (char)ch);
        else
            cd_buf_printf(&b, "\\x%02x", ch);
    }
    if (shown < n)
        cd_buf_puts(&b, "...");
    return cd_buf_take(&b);
}

/* Sets *err to "<field> field: <msg> in '<item>'". */
static void item_error(char **err, const field_spec *f, const char *msg, const char *item,
                       size_t item_len)
{
    char *q = quote(item, item_len);
    *err = cd_sprintf("%s field: %s in '%s'", f->name, msg, q);
    free(q);
}

/* Reads a number or (where the field has them) a name at *p, before end.
 * Advances *p past it. 0 with *v, or -1 with *err. */
static int parse_value(const field_spec *f, const char **p, const char *end, const char *item,
                       size_t item_len, int *v, char **err)
{
    const char *s = *p;
    if (s < end && is_digit(*s)) {
        long n = 0;
        const char *d = s;
        for (; d < end && is_digit(*d); d++)
            if (n < NUMBER_CAP)
                n = n * 10 + (*d - '0');
        if (n < f->min || n > f->max) {
            char *q = quote(s, (size_t)(d - s));
            *err = cd_sprintf("%s field: %s is out of range %d-%d", f->name, q, f->min, f->max);
            free(q);
            return -1;
        }
        *v = (int)n;
        *p = d;
        return 0;
    }
    if (s < end && is_alpha(*s)) {
        const char *a = s;
        while (a < end && is_alpha(*a))
            a++;
        size_t n = (size_t)(a - s);
        if (f->names && n == 3) {
            for (int i = 0; f->names[i]; i++) {
                if (toupper((unsigned char)s[0]) == f->names[i][0] &&
                    toupper((unsigned char)s[1]) == f->names[i][1] &&
                    toupper((unsigned char)s[2]) == f->names[i][2]) {
                    *v = f->names_base + i;
                    *p = a;
                    return 0;
                }
            }
        }
        char *q = quote(s, n);
        if (f->names)
            *err = cd_sprintf("%s field: unknown name '%s' (names are %s)", f->name, q,
                              f->names_hint);
        else
            *err = cd_sprintf("%s field: '%s' is not a number", f->name, q);
        free(q);
        return -1;
    }
    item_error(err, f, s < end ? "expected a number" : "expected a number at the end", item,
               item_len);
    return -1;
}

/* Parses one list item ("*", "a", "a-b", any of them with "/n") of field f
 * into *bits. 0 or -1 with *err. */
static int parse_item(const field_spec *f, const char *item, size_t len, uint64_t *bits,
                      char **err)
{
    const char *p = item, *end = item + len;
    int lo, hi;
    bool single = false;
    if (*p == '*') {
        lo = f->min;
        hi = f->max;
        p++;
    } else {
        if (parse_value(f, &p, end, item, len, &lo, err) != 0)
            return -1;
        hi = lo;
        single = true;
        if (p < end && *p == '-') {
            p++;
            if (parse_value(f, &p, end, item, len, &hi, err) != 0)
                return -1;
            single = false;
            if (hi < lo) {
                char *q = quote(item, len);
                *err = cd_sprintf("%s field: reversed range '%s' (%d is after %d)", f->name, q,
                                  lo, hi);
                free(q);
                return -1;
            }
        }
    }
    int step = 1;
    if (p < end && *p == '/') {
        p++;
        if (p >= end || !is_digit(*p)) {
            item_error(err, f, "expected a step after '/'", item, len);
            return -1;
        }
        long n = 0;
        const char *d = p;
        for (; d < end && is_digit(*d); d++)
            if (n < NUMBER_CAP)
                n = n * 10 + (*d - '0');
        if (n < 1 || n > f->max) {
            char *q = quote(p, (size_t)(d - p));
            *err = cd_sprintf("%s field: step %s is out of range 1-%d", f->name, q, f->max);
            free(q);
            return -1;
        }
        step = (int)n;
        p = d;
        /* "a/n" is "a-max/n", as in Vixie cron and cronie. */
        if (single)
            hi = f->max;
    }
    if (p < end) {
        char *what = quote(p, 1);
        char *msg = cd_sprintf("unexpected '%s'", what);
        item_error(err, f, msg, item, len);
        free(msg);
        free(what);
        return -1;
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << v;
    return 0;
}

/* Parses field f (a comma-separated list, len > 0) into *bits. */
static int parse_field(const field_spec *f, const char *s, size_t len, uint64_t *bits, char **err)
{
    const char *end = s + len;
    *bits = 0;
    for (const char *p = s;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        if (item_end == p) {
            char *q = quote(s, len);
            *err = cd_sprintf("%s field: empty list item in '%s'", f->name, q);
            free(q);
            return -1;
        }
        if (parse_item(f, p, (size_t)(item_end - p), bits, err) != 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

typedef struct macro {
    const char *name;
    const char *expr;
} macro;

static const macro MACROS[] = {
    {"@yearly", "0 0 1 1 *"},  {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},  {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},  {NULL, NULL},
};

static int parse_fields(const char *expr, cd_cron *out, char **err);

/* "@name" alone (surrounding blanks allowed), case-insensitive. */
static int parse_macro(const char *s, cd_cron *out, char **err)
{
    const char *e = s;
    while (*e && !is_space(*e))
        e++;
    size_t n = (size_t)(e - s);
    const char *rest = e;
    while (is_space(*rest))
        rest++;
    for (int i = 0; MACROS[i].name; i++) {
        if (strlen(MACROS[i].name) == n && strncasecmp(MACROS[i].name, s, n) == 0) {
            if (*rest) {
                char *q = quote(rest, strlen(rest));
                *err = cd_sprintf("%s takes no fields, got '%s' after it", MACROS[i].name, q);
                free(q);
                return -1;
            }
            return parse_fields(MACROS[i].expr, out, err);
        }
    }
    char *q = quote(s, n);
    *err = cd_sprintf("unknown macro '%s' (expected @yearly, @annually, @monthly, @weekly, "
                      "@daily, @midnight or @hourly)",
                      q);
    free(q);
    return -1;
}

/* The five whitespace-separated fields. */
static int parse_fields(const char *expr, cd_cron *out, char **err)
{
    const char *start[5];
    size_t len[5];
    int count = 0;
    for (const char *p = expr;;) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        const char *b = p;
        while (*p && !is_space(*p))
            p++;
        if (count < 5) {
            start[count] = b;
            len[count] = (size_t)(p - b);
        }
        count++;
    }
    if (count != 5) {
        *err = cd_sprintf("expected 5 fields (minute hour day-of-month month day-of-week), got %d",
                          count);
        return -1;
    }
    uint64_t bits[5];
    for (int i = 0; i < 5; i++)
        if (parse_field(&FIELDS[i], start[i], len[i], &bits[i], err) != 0)
            return -1;
    cd_cron c;
    memset(&c, 0, sizeof c);
    c.minutes = bits[0];
    c.hours = (uint32_t)bits[1];
    c.mdays = (uint32_t)bits[2];
    c.months = (uint16_t)bits[3];
    /* 7 is another name for Sunday. */
    c.wdays = (uint8_t)((bits[4] & 0x7f) | ((bits[4] >> 7) & 1));
    /* Vixie cron looks only at the first character: "*\/15" counts as a
     * star, "0-59" does not. Both the DST rule and the day-of-month /
     * day-of-week rule depend on these flags. */
    if (start[0][0] == '*')
        c.flags |= CD_CRON_MIN_STAR;
    if (start[1][0] == '*')
        c.flags |= CD_CRON_HOUR_STAR;
    if (start[2][0] == '*')
        c.flags |= CD_CRON_DOM_STAR;
    if (start[4][0] == '*')
        c.flags |= CD_CRON_DOW_STAR;
    *out = c;
    return 0;
}

int cd_cron_parse(const char *expr, cd_cron *out, char **err)
{
    char *dummy = NULL;
    char **e = err ? err : &dummy;
    *e = NULL;
    const char *s = expr ? expr : "";
    while (is_space(*s))
        s++;
    int rc;
    if (!*s) {
        *e = cd_xstrdup("empty expression");
        rc = -1;
    } else if (*s == '@') {
        rc = parse_macro(s, out, e);
    } else {
        rc = parse_fields(s, out, e);
    }
    free(dummy);
    return rc;
}

/* ---- evaluation ---------------------------------------------------------- */

/* A local wall-clock minute. Fields may run past their range (minute 60,
 * hour 24, day 32, month 13) between steps of next_wall; next_wall carries
 * them over. */
typedef struct wall {
    int y, mo, d, h, mi;
} wall;

/* How far ahead a slot is looked for. Eight years and a bit covers
 * February 29 across a non-leap century year (2096 -> 2104). */
#define SEARCH_YEARS 8

/* Bound on wall minutes resolved per call. A normal call
 * resolves two; a DST change costs at most one or two hours of minutes
 * for a "* * * * *" job. The bound only stops pathological zones or
 * expressions from looping for long. */
#define RESOLVE_MAX 20000

/* Lowest set bit of mask at or above from, not above max; -1 if none. */
static int next_bit(uint64_t mask, int from, int max)
{
    if (from > max)
        return -1;
    uint64_t m = mask >> from << from;
    if (max < 63)
        m &= (UINT64_C(1) << (max + 1)) - 1;
    return m ? __builtin_ctzll(m) : -1;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* Vixie cron's day rule: if either day field starts with '*', both must
 * match (so the star is neutral); if both are restricted, either does. */
static bool day_matches(const cd_cron *c, int y, int mo, int d)
{
    long days = cd_days_from_civil(y, mo, d);
    int wd = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    bool dom = (c->mdays >> d) & 1;
    bool dow = (c->wdays >> wd) & 1;
    if (c->flags & (CD_CRON_DOM_STAR | CD_CRON_DOW_STAR))
        return dom && dow;
    return dom || dow;
}

/* Moves *w to the first wall minute at or after *w that c matches, as long
 * as its year is at most ylimit. Each step skips a whole month, day or
 * hour that cannot match, so the loop is short. 0 or -1 (none). */
static int next_wall(const cd_cron *c, wall *w, int ylimit)
{
    for (;;) {
        if (w->y > ylimit)
            return -1;
        int mo = next_bit(c->months, w->mo, 12);
        if (mo < 0) {
            *w = (wall){w->y + 1, 1, 1, 0, 0};
            continue;
        }
        if (mo != w->mo)
            *w = (wall){w->y, mo, 1, 0, 0};
        if (w->d > days_in_month(w->y, w->mo)) {
            *w = (wall){w->y, w->mo + 1, 1, 0, 0};
            continue;
        }
        if (!day_matches(c, w->y, w->mo, w->d)) {
            *w = (wall){w->y, w->mo, w->d + 1, 0, 0};
            continue;
        }
        int h = next_bit(c->hours, w->h, 23);
        if (h < 0) {
            *w = (wall){w->y, w->mo, w->d + 1, 0, 0};
            continue;
        }
        if (h != w->h)
            *w = (wall){w->y, w->mo, w->d, h, 0};
        int mi = next_bit(c->minutes, w->mi, 59);
        if (mi < 0) {
            *w = (wall){w->y, w->mo, w->d, w->h + 1, 0};
            continue;
        }
        w->mi = mi;
        return 0;
    }
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The wall minute containing second s of local time (s = instant + offset). */
static wall wall_of(int64_t s)
{
    int64_t minutes = floor_div(s, 60);
    int64_t days = floor_div(minutes, 1440);
    int rem = (int)(minutes - days * 1440);
    wall w;
    cd_civil_from_days((long)days, &w.y, &w.mo, &w.d);
    w.h = rem / 60;
    w.mi = rem % 60;
    return w;
}

static int fail(char **err, char *msg)
{
    if (err)
        *err = msg;
    else
        free(msg);
    return -1;
}

int cd_cron_next(const cd_cron *cron, const char *tz, int64_t after, int64_t *next, char **err)
{
    return cd_cron_next_slot(cron, tz, after, next, NULL, err);
}

int cd_cron_next_slot(const cd_cron *cron, const char *tz, int64_t after, int64_t *next,
                      long *wall_days, char **err)
{
    if (err)
        *err = NULL;
    if (!cron || !next)
        return fail(err, cd_xstrdup("cd_cron_next: no expression or no result given"));
    /* Only the bits the fields can have: a hand-made cd_cron with stray
     * bits must not match minute 61 or month 0. */
    cd_cron c = *cron;
    c.minutes &= (UINT64_C(1) << 60) - 1;
    c.hours &= (UINT32_C(1) << 24) - 1;
    c.mdays &= UINT32_C(0xfffffffe);
    c.months &= 0x1ffe;
    c.wdays = (uint8_t)((c.wdays & 0x7f) | ((c.wdays >> 7) & 1));
    if (!c.minutes || !c.hours || !c.mdays || !c.months || !c.wdays)
        return fail(err, cd_xstrdup("the expression has a field that matches nothing"));
    if (after < CD_TZ_MIN_INSTANT || after > CD_TZ_MAX_INSTANT)
        return fail(err, cd_sprintf("instant %lld is outside years 1..9999", (long long)after));

    cd_tzcal *cal = cd_tzcal_get(tz, err);
    if (!cal)
        return -1;

    /* Where the wall-clock search starts. Wall time runs with the instant
     * except when clocks go back: then the wall minutes just before
     * wall(after) happen again after `after`. Starting from wall(after)
     * computed with the smaller of the offsets now and a day later covers
     * a fall-back within the next day, which is more than any DST shift. */
    int off_now, off_later;
    if (cd_tzcal_offset(cal, after, &off_now) != 0 ||
        cd_tzcal_offset(cal, after + 86400 <= CD_TZ_MAX_INSTANT ? after + 86400 : after,
                        &off_later) != 0)
        return fail(err, cd_sprintf("time zone '%s': cannot compute the offset", tz));
    wall w = wall_of(after + (off_later < off_now ? off_later : off_now));
    int ylimit = wall_of(after + off_now).y + SEARCH_YEARS;

    /* Wildcard jobs follow the wall clock through DST changes; fixed-time
     * jobs run once, even for a skipped time (cron.h). */
    bool wildcard = (c.flags & (CD_CRON_MIN_STAR | CD_CRON_HOUR_STAR)) != 0;
    bool found = false;
    int64_t best = 0;
    wall best_wall = w; /* the wall minute `best` is the slot of */
    for (int resolved = 0;; resolved++) {
        if (next_wall(&c, &w, ylimit) != 0)
            break;
        if (resolved >= RESOLVE_MAX)
            return fail(err, cd_xstrdup("no slot found: search limit reached"));
        int64_t first, last;
        int kind = cd_tzcal_resolve(cal, w.y, w.mo, w.d, w.h, w.mi, &first, &last);
        if (kind < 0)
            return fail(err, cd_sprintf("time zone '%s': cannot resolve a local time", tz));
        /* `first` never decreases from one wall minute to the next, so once
         * it reaches the best slot so far nothing later can beat it. */
        if (found && first >= best)
            break;
        int64_t cand[2];
        int n = 0;
        if (kind == CD_WALL_SKIPPED) {
            if (!wildcard)
                cand[n++] = first; /* the instant the clocks jump */
        } else {
            cand[n++] = first;
            if (kind == CD_WALL_REPEATED && wildcard)
                cand[n++] = last;
        }
        for (int i = 0; i < n; i++) {
            if (cand[i] > after && (!found || cand[i] < best)) {
                best = cand[i];
                best_wall = w;
                found = true;
            }
        }
        /* A slot at the first instant of its wall minute is final (as
         * above); one from a repeated minute's second pass may still be
         * beaten by a later wall minute's first pass. */
        if (found && best == first)
            break;
        w.mi++;
    }
    if (!found) {
        char *q = quote(tz, strlen(tz));
        int rc = fail(err, cd_sprintf("no slot within %d years in %s", SEARCH_YEARS, q));
        free(q);
        return rc;
    }
    *next = best;
    if (wall_days)
        *wall_days = cd_days_from_civil(best_wall.y, best_wall.mo, best_wall.d);
    return 0;
}
