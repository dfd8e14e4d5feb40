/*
 * tzif.c — TZif files (RFC 8536) and POSIX TZ strings (see tzif.h).
 *
 * A zone is a table of transitions (instant, offset from then on) and,
 * for instants after the last one, the footer's POSIX TZ rule. Debian's
 * files are "slim": the table stops at the last rule change, so every
 * future instant comes from the rule, which therefore has to be exact for
 * every form the RFC allows (Jn, n, Mm.w.d dates; transition times from
 * -167 to +167 hours; DST spanning the new year; permanent DST).
 */
#include "tzif.h"

#include <stdlib.h>
#include <string.h>

#include "datetime.h"
#include "tz_internal.h"
#include "util.h"

/* ---- the zone ------------------------------------------------------------ */

typedef enum {
    RULE_JULIAN_NO_LEAP, /* Jn: day 1..365, February 29 never counted */
    RULE_ZERO_BASED,     /* n: day 0..365, February 29 counted */
    RULE_MONTH_WEEK_DAY  /* Mm.w.d: weekday d of week w (5 = last) of month m */
} rule_date_kind;

typedef struct rule_date {
    rule_date_kind kind;
    int day;          /* Jn / n: the day number; Mm.w.d: the weekday, 0 = Sunday */
    int month, week;  /* Mm.w.d only */
    int32_t time;     /* local seconds after midnight, -167h..+167h */
} rule_date;

typedef struct posix_rule {
    int32_t std_off;  /* seconds east of UTC */
    int32_t dst_off;
    int has_dst;
    rule_date start;  /* DST starts: time counted in standard time */
    rule_date end;    /* DST ends: time counted in daylight time */
} posix_rule;

struct cd_tzif {
    size_t n_trans;
    int64_t *trans_at;   /* strictly ascending */
    int32_t *trans_off;  /* the offset from trans_at[i] on */
    int32_t first_off;   /* before the first transition (time type 0) */
    int has_rule;        /* the footer rule governs instants from the last transition on */
    posix_rule rule;
};

void cd_tzif_free(cd_tzif *z)
{
    if (!z)
        return;
    free(z->trans_at);
    free(z->trans_off);
    free(z);
}

static int64_t floor_div64(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- POSIX TZ rules ------------------------------------------------------ */

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of the date rd names in year y. */
static long rule_day(const rule_date *rd, int y)
{
    long jan1 = cd_days_from_civil(y, 1, 1);
    switch (rd->kind) {
    case RULE_JULIAN_NO_LEAP:
        /* J60 is March 1 in every year: February 29 is skipped, not numbered. */
        return jan1 + rd->day - 1 + (is_leap(y) && rd->day >= 60);
    case RULE_ZERO_BASED:
        return jan1 + rd->day;
    case RULE_MONTH_WEEK_DAY:
    default: {
        long first = cd_days_from_civil(y, rd->month, 1);
        int first_wday = (int)(((first % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
        int mday = 1 + (rd->day - first_wday + 7) % 7 + (rd->week - 1) * 7;
        if (mday > month_days(y, rd->month))
            mday -= 7; /* week 5 means the last such weekday, which may be the 4th */
        return first + mday - 1;
    }
    }
}

/* One change of a rule: from `at` on, the offset is `off`. */
typedef struct rule_change {
    int64_t at;
    int32_t off;
} rule_change;

/* Rules are evaluated over five years around the instant asked about: a
 * transition time of up to 167 hours may move a year's change a week into
 * the next or previous year, so the two years before guarantee at least one
 * change before the instant and the two after one after it. */
#define RULE_YEARS 5

/* Instants beyond these are clamped before their year is computed: the
 * table of a hostile file may put its last transition anywhere in int64,
 * and the civil arithmetic must not overflow. No caller asks about such
 * instants, so what the rule says there does not matter. */
#define RULE_T_MIN (CD_TZ_MIN_INSTANT - INT64_C(400) * 86400)
#define RULE_T_MAX (CD_TZ_MAX_INSTANT + INT64_C(400) * 86400)

/* The changes of r for the five years around t, sorted by instant. Each
 * year contributes its start then its end, and the sort is stable, so at
 * equal instants the later year's change wins: in permanent DST
 * ("J1/0,J365/25") one year's end coincides with the next year's start and
 * DST never stops. */
static void rule_changes(const posix_rule *r, int64_t t, rule_change out[2 * RULE_YEARS])
{
    if (t < RULE_T_MIN)
        t = RULE_T_MIN;
    if (t > RULE_T_MAX)
        t = RULE_T_MAX;
    int y, m, d;
    cd_civil_from_days((long)floor_div64(t + r->std_off, 86400), &y, &m, &d);
    int n = 0;
    for (int yy = y - RULE_YEARS / 2; yy <= y + RULE_YEARS / 2; yy++) {
        out[n].at = (int64_t)rule_day(&r->start, yy) * 86400 + r->start.time - r->std_off;
        out[n++].off = r->dst_off;
        out[n].at = (int64_t)rule_day(&r->end, yy) * 86400 + r->end.time - r->dst_off;
        out[n++].off = r->std_off;
    }
    for (int i = 1; i < n; i++) { /* insertion sort: stable, and n is 10 */
        rule_change c = out[i];
        int j = i;
        for (; j > 0 && out[j - 1].at > c.at; j--)
            out[j] = out[j - 1];
        out[j] = c;
    }
}

static int32_t rule_offset(const posix_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    rule_change ch[2 * RULE_YEARS];
    rule_changes(r, t, ch);
    /* Before the first change (only for clamped instants): the state the
     * first change leaves, which is as good as any there. */
    int32_t off = ch[0].off;
    for (int i = 0; i < 2 * RULE_YEARS && ch[i].at <= t; i++)
        off = ch[i].off;
    return off;
}

/* The first instant after t at which r's offset differs from cur (the
 * offset at t): 1 with *at and *off, or 0 when the offset never changes. */
static int rule_next_change(const posix_rule *r, int64_t t, int32_t cur, int64_t *at, int32_t *off)
{
    if (!r->has_dst)
        return 0;
    rule_change ch[2 * RULE_YEARS];
    rule_changes(r, t, ch);
    for (int i = 0; i < 2 * RULE_YEARS; i++) {
        if (ch[i].at <= t)
            continue;
        /* Changes at the same instant take effect together: only the last
         * one says what the offset becomes. */
        while (i + 1 < 2 * RULE_YEARS && ch[i + 1].at == ch[i].at)
            i++;
        if (ch[i].off != cur) {
            *at = ch[i].at;
            *off = ch[i].off;
            return 1;
        }
    }
    return 0;
}

/* ---- the POSIX TZ string ------------------------------------------------- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static int at_end(const cursor *c) { return c->p >= c->end; }
static int peek(const cursor *c) { return at_end(c) ? -1 : (unsigned char)*c->p; }
static int is_digit(int ch) { return ch >= '0' && ch <= '9'; }
static int is_alpha(int ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'); }

/* A zone abbreviation: letters, or anything of letters, digits, '+' and
 * '-' between '<' and '>'; at least three characters either way. */
static int parse_name(cursor *c, const char **why)
{
    size_t n = 0;
    if (peek(c) == '<') {
        c->p++;
        while (!at_end(c) && *c->p != '>') {
            int ch = peek(c);
            if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '-') {
                *why = "a quoted zone abbreviation has a character other than A-Z, a-z, 0-9, + or -";
                return -1;
            }
            c->p++;
            n++;
        }
        if (at_end(c)) {
            *why = "a quoted zone abbreviation has no closing '>'";
            return -1;
        }
        c->p++;
    } else {
        while (is_alpha(peek(c))) {
            c->p++;
            n++;
        }
    }
    if (n < 3) {
        *why = "a zone abbreviation is shorter than three characters";
        return -1;
    }
    return 0;
}

/* Up to `digits` decimal digits (at least one), at most max: 0 or -1. */
static int parse_number(cursor *c, int digits, int max, int *out)
{
    int v = 0, n = 0;
    while (n < digits && is_digit(peek(c))) {
        v = v * 10 + (*c->p - '0');
        c->p++;
        n++;
    }
    if (n == 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* [+|-]hh[:mm[:ss]] with hh up to max_hours, as seconds (signed as written). */
static int parse_hms(cursor *c, int max_hours, int32_t *out)
{
    int sign = 1;
    if (peek(c) == '+' || peek(c) == '-') {
        sign = *c->p == '-' ? -1 : 1;
        c->p++;
    }
    int h, m = 0, s = 0;
    if (parse_number(c, 3, max_hours, &h) != 0)
        return -1;
    if (peek(c) == ':') {
        c->p++;
        if (parse_number(c, 2, 59, &m) != 0)
            return -1;
        if (peek(c) == ':') {
            c->p++;
            if (parse_number(c, 2, 59, &s) != 0)
                return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

/* A POSIX offset: hours west of UTC, so "EST5" is -5 hours east. */
static int parse_offset(cursor *c, int32_t *east, const char **why)
{
    int32_t west;
    if (parse_hms(c, 24, &west) != 0) {
        *why = "a UTC offset is not [+|-]hh[:mm[:ss]] with hh at most 24";
        return -1;
    }
    *east = -west;
    return 0;
}

/* Jn, n or Mm.w.d, then an optional /time (RFC 8536: -167..167 hours). */
static int parse_rule_date(cursor *c, rule_date *rd, const char **why)
{
    memset(rd, 0, sizeof *rd);
    if (peek(c) == 'J') {
        c->p++;
        rd->kind = RULE_JULIAN_NO_LEAP;
        if (parse_number(c, 3, 365, &rd->day) != 0 || rd->day < 1) {
            *why = "a Jn date needs n from 1 to 365";
            return -1;
        }
    } else if (peek(c) == 'M') {
        c->p++;
        rd->kind = RULE_MONTH_WEEK_DAY;
        if (parse_number(c, 2, 12, &rd->month) != 0 || rd->month < 1 || peek(c) != '.') {
            *why = "an Mm.w.d date needs m from 1 to 12";
            return -1;
        }
        c->p++;
        if (parse_number(c, 1, 5, &rd->week) != 0 || rd->week < 1 || peek(c) != '.') {
            *why = "an Mm.w.d date needs w from 1 to 5";
            return -1;
        }
        c->p++;
        if (parse_number(c, 1, 6, &rd->day) != 0) {
            *why = "an Mm.w.d date needs d from 0 to 6";
            return -1;
        }
    } else if (is_digit(peek(c))) {
        rd->kind = RULE_ZERO_BASED;
        if (parse_number(c, 3, 365, &rd->day) != 0) {
            *why = "an n date needs n from 0 to 365";
            return -1;
        }
    } else {
        *why = "a rule date is not Jn, n or Mm.w.d";
        return -1;
    }
    rd->time = 2 * 3600; /* POSIX's default: 02:00 */
    if (peek(c) == '/') {
        c->p++;
        if (parse_hms(c, 167, &rd->time) != 0) {
            *why = "a rule time is not [+|-]hh[:mm[:ss]] with hh at most 167";
            return -1;
        }
    }
    return 0;
}

static int parse_posix(const char *s, size_t len, posix_rule *r, const char **why)
{
    memset(r, 0, sizeof *r);
    cursor c = {s, s + len};
    if (parse_name(&c, why) != 0 || parse_offset(&c, &r->std_off, why) != 0)
        return -1;
    if (!at_end(&c)) {
        r->has_dst = 1;
        if (parse_name(&c, why) != 0)
            return -1;
        r->dst_off = r->std_off + 3600;
        if (peek(&c) != ',' && parse_offset(&c, &r->dst_off, why) != 0)
            return -1;
        /* POSIX lets an implementation pick the dates when they are
         * missing; a TZif footer always has them (RFC 8536), and guessing
         * US rules for some other country's zone would be wrong. */
        if (peek(&c) != ',') {
            *why = "daylight saving time without the ,start[/time],end[/time] rule";
            return -1;
        }
        c.p++;
        if (parse_rule_date(&c, &r->start, why) != 0)
            return -1;
        if (peek(&c) != ',') {
            *why = "the daylight saving rule has no end date";
            return -1;
        }
        c.p++;
        if (parse_rule_date(&c, &r->end, why) != 0)
            return -1;
    }
    if (!at_end(&c)) {
        *why = "unexpected characters after the rule";
        return -1;
    }
    if (r->std_off < -CD_TZIF_MAX_OFFSET || r->std_off > CD_TZIF_MAX_OFFSET ||
        (r->has_dst && (r->dst_off < -CD_TZIF_MAX_OFFSET || r->dst_off > CD_TZIF_MAX_OFFSET))) {
        *why = "a UTC offset is beyond 26 hours";
        return -1;
    }
    return 0;
}

static cd_tzif *fail(char **err, char *msg)
{
    if (err)
        *err = msg;
    else
        free(msg);
    return NULL;
}

cd_tzif *cd_tzif_from_posix(const char *tz, size_t len, char **err)
{
    posix_rule r;
    const char *why = NULL;
    if (!tz || parse_posix(tz, len, &r, &why) != 0)
        return fail(err, cd_sprintf("bad POSIX TZ string: %s", why ? why : "none given"));
    cd_tzif *z = cd_xcalloc(1, sizeof *z);
    z->has_rule = 1;
    z->rule = r;
    z->first_off = r.std_off;
    return z;
}

/* ---- the TZif file ------------------------------------------------------- */

#define HEADER_BYTES 44

typedef struct header {
    char version; /* 0, '2', '3' or '4' */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} header;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Two's complement without relying on the implementation-defined
 * conversion of an out-of-range unsigned value. */
static int32_t be32_signed(const unsigned char *p)
{
    uint32_t u = be32(p);
    return u >> 31 ? -(int32_t)(~u) - 1 : (int32_t)u;
}

static int64_t be64_signed(const unsigned char *p)
{
    uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
    return u >> 63 ? -(int64_t)(~u) - 1 : (int64_t)u;
}

static int read_header(const unsigned char *p, size_t avail, header *h, const char **why)
{
    if (avail < HEADER_BYTES) {
        *why = "truncated header";
        return -1;
    }
    if (memcmp(p, "TZif", 4) != 0) {
        *why = "no TZif magic";
        return -1;
    }
    h->version = (char)p[4];
    if (h->version != 0 && h->version != '2' && h->version != '3' && h->version != '4') {
        *why = "unknown TZif version";
        return -1;
    }
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    return 0;
}

/* Bytes of the data block h describes with time_size-byte times, or 0 when
 * the counts cannot fit in avail bytes. Each count is checked against
 * avail before it is multiplied, so the sum cannot overflow size_t. */
static size_t block_bytes(const header *h, size_t time_size, size_t avail)
{
    uint32_t counts[6] = {h->timecnt, h->typecnt, h->charcnt, h->leapcnt, h->isstdcnt, h->isutcnt};
    for (int i = 0; i < 6; i++)
        if (counts[i] > avail)
            return 0;
    size_t n = (size_t)h->timecnt * (time_size + 1) + (size_t)h->typecnt * 6 + h->charcnt +
               (size_t)h->leapcnt * (time_size + 4) + h->isstdcnt + h->isutcnt;
    return n <= avail ? n : 0;
}

/* Fills z's table from the data block at p (already known to hold
 * block_bytes of h). */
static int read_block(const unsigned char *p, const header *h, size_t time_size, cd_tzif *z,
                      const char **why)
{
    if (h->leapcnt) {
        *why = "it has leap-second records (a right/ zone): civil time has none";
        return -1;
    }
    if (h->typecnt == 0) {
        *why = "no local time types";
        return -1;
    }
    if ((h->isstdcnt && h->isstdcnt != h->typecnt) || (h->isutcnt && h->isutcnt != h->typecnt)) {
        *why = "standard/UT indicator counts differ from the type count";
        return -1;
    }
    const unsigned char *times = p;
    const unsigned char *idx = times + (size_t)h->timecnt * time_size;
    const unsigned char *types = idx + h->timecnt;
    const unsigned char *indicators = types + (size_t)h->typecnt * 6 + h->charcnt;

    int32_t *type_off = cd_xmalloc((size_t)h->typecnt * sizeof *type_off);
    for (uint32_t i = 0; i < h->typecnt; i++) {
        const unsigned char *t = types + (size_t)i * 6;
        int32_t off = be32_signed(t);
        if (off < -CD_TZIF_MAX_OFFSET || off > CD_TZIF_MAX_OFFSET || t[4] > 1 || t[5] >= h->charcnt) {
            free(type_off);
            *why = "a local time type has an offset beyond 26 hours, a bad DST flag or a bad "
                   "abbreviation index";
            return -1;
        }
        type_off[i] = off;
    }
    for (uint32_t i = 0; i < h->isstdcnt + h->isutcnt; i++) {
        if (indicators[i] > 1) {
            free(type_off);
            *why = "a standard/UT indicator is neither 0 nor 1";
            return -1;
        }
    }
    z->first_off = type_off[0];
    z->n_trans = h->timecnt;
    if (h->timecnt) {
        z->trans_at = cd_xmalloc((size_t)h->timecnt * sizeof *z->trans_at);
        z->trans_off = cd_xmalloc((size_t)h->timecnt * sizeof *z->trans_off);
    }
    for (uint32_t i = 0; i < h->timecnt; i++) {
        const unsigned char *t = times + (size_t)i * time_size;
        int64_t at = time_size == 8 ? be64_signed(t) : be32_signed(t);
        if (idx[i] >= h->typecnt || (i > 0 && at <= z->trans_at[i - 1])) {
            free(type_off);
            *why = idx[i] >= h->typecnt ? "a transition names a local time type that does not exist"
                                        : "transition times are not strictly ascending";
            return -1;
        }
        z->trans_at[i] = at;
        z->trans_off[i] = type_off[idx[i]];
    }
    free(type_off);
    return 0;
}

cd_tzif *cd_tzif_parse(const unsigned char *buf, size_t len, char **err)
{
    const char *why = NULL;
    header h;
    if (!buf || len > CD_TZIF_MAX_BYTES)
        return fail(err, cd_sprintf("not a TZif file: %s",
                                    buf ? "larger than 1 MiB" : "no data"));
    if (read_header(buf, len, &h, &why) != 0)
        return fail(err, cd_sprintf("not a TZif file: %s", why));
    size_t pos = HEADER_BYTES;
    size_t time_size = 4;
    size_t n = block_bytes(&h, 4, len - pos);
    if (n == 0 && (h.timecnt || h.typecnt || h.charcnt || h.leapcnt || h.isstdcnt || h.isutcnt))
        return fail(err, cd_xstrdup("bad TZif file: the header's counts exceed the file"));
    if (h.version != 0) {
        /* Version 2+: the 32-bit block is only for old readers; the real
         * data follows it with its own header. */
        if (h.leapcnt)
            return fail(err, cd_xstrdup("bad TZif file: it has leap-second records (a right/ "
                                        "zone): civil time has none"));
        pos += n;
        char version = h.version;
        if (read_header(buf + pos, len - pos, &h, &why) != 0)
            return fail(err, cd_sprintf("bad TZif file: second header: %s", why));
        if (h.version != version)
            return fail(err, cd_xstrdup("bad TZif file: the two headers' versions differ"));
        pos += HEADER_BYTES;
        time_size = 8;
        n = block_bytes(&h, 8, len - pos);
        if (n == 0 && (h.timecnt || h.typecnt || h.charcnt || h.leapcnt || h.isstdcnt || h.isutcnt))
            return fail(err, cd_xstrdup("bad TZif file: the header's counts exceed the file"));
    }
    cd_tzif *z = cd_xcalloc(1, sizeof *z);
    if (read_block(buf + pos, &h, time_size, z, &why) != 0) {
        cd_tzif_free(z);
        return fail(err, cd_sprintf("bad TZif file: %s", why));
    }
    pos += n;
    if (h.version == 0) {
        if (pos != len) {
            cd_tzif_free(z);
            return fail(err, cd_xstrdup("bad TZif file: data after the version 1 block"));
        }
        return z;
    }
    /* The footer: "\n" TZ "\n", the TZ string governing instants after the
     * last transition (empty: the last transition's type does). */
    const char *footer = (const char *)buf + pos;
    size_t left = len - pos;
    const char *close = left >= 2 && footer[0] == '\n' ? memchr(footer + 1, '\n', left - 1) : NULL;
    if (!close || (size_t)(close - footer) + 1 != left) {
        cd_tzif_free(z);
        return fail(err, cd_xstrdup("bad TZif file: the footer is not one newline-enclosed TZ "
                                    "string at the end of the file"));
    }
    size_t tz_len = (size_t)(close - footer) - 1;
    if (tz_len) {
        if (parse_posix(footer + 1, tz_len, &z->rule, &why) != 0) {
            cd_tzif_free(z);
            return fail(err, cd_sprintf("bad TZif file: footer TZ string: %s", why));
        }
        z->has_rule = 1;
    }
    return z;
}

/* ---- offsets and wall times ---------------------------------------------- */

/* Index of the last transition at or before t; only for
 * trans_at[0] <= t. */
static size_t last_at_or_before(const cd_tzif *z, int64_t t)
{
    size_t lo = 0, hi = z->n_trans; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans_at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Whether t is governed by the footer rule rather than the table. */
static int in_rule_range(const cd_tzif *z, int64_t t)
{
    return z->has_rule && (z->n_trans == 0 || t >= z->trans_at[z->n_trans - 1]);
}

int32_t cd_tzif_offset(const cd_tzif *z, int64_t t)
{
    if (in_rule_range(z, t))
        return rule_offset(&z->rule, t);
    if (z->n_trans == 0 || t < z->trans_at[0])
        return z->first_off;
    return z->trans_off[last_at_or_before(z, t)];
}

/* The first instant after t at which the offset differs from the one at t:
 * 1 with *at and *off, or 0 if it never changes again. */
static int next_change(const cd_tzif *z, int64_t t, int64_t *at, int32_t *off)
{
    int32_t cur = cd_tzif_offset(z, t);
    if (!in_rule_range(z, t) && z->n_trans) {
        size_t j = t < z->trans_at[0] ? 0 : last_at_or_before(z, t) + 1;
        /* Transitions that only change the abbreviation or the DST flag
         * keep the offset: they are not changes of wall time. */
        for (; j < z->n_trans; j++) {
            int32_t o = j + 1 == z->n_trans && z->has_rule ? rule_offset(&z->rule, z->trans_at[j])
                                                           : z->trans_off[j];
            if (o != cur) {
                *at = z->trans_at[j];
                *off = o;
                return 1;
            }
        }
        t = z->trans_at[z->n_trans - 1];
    }
    return z->has_rule ? rule_next_change(&z->rule, t, cur, at, off) : 0;
}

/* Offset changes looked at per resolution before giving up: real zones
 * have at most a few within the two days searched. */
#define RESOLVE_MAX_CHANGES 1000

int cd_tzif_resolve(const cd_tzif *z, int64_t wall, int64_t *first, int64_t *last)
{
    /* Every instant of `wall` is wall - offset with |offset| bounded, so
     * walking the stretches of constant offset across that window finds
     * them all, in ascending order. */
    int64_t lo = wall - CD_TZIF_MAX_OFFSET - 1, hi = wall + CD_TZIF_MAX_OFFSET + 1;
    int64_t start = lo;
    int32_t off = cd_tzif_offset(z, lo);
    int found = 0, gap = 0;
    int64_t gap_at = 0;
    for (int changes = 0;; changes++) {
        if (changes > RESOLVE_MAX_CHANGES)
            return -1;
        int64_t at = 0;
        int32_t next_off = 0;
        int more = next_change(z, start, &at, &next_off);
        int64_t cand = wall - off;
        if (cand >= start && (!more || cand < at)) {
            if (!found)
                *first = cand;
            *last = cand;
            found = 1;
        }
        if (!more || at > hi)
            break;
        /* Clocks moved forward over `wall` at this change: where Vixie
         * cron runs a job whose time was skipped. */
        if (!gap && wall >= at + off && wall < at + next_off) {
            gap = 1;
            gap_at = at;
        }
        start = at;
        off = next_off;
    }
    if (found)
        return *first == *last ? CD_WALL_NORMAL : CD_WALL_REPEATED;
    if (!gap)
        return -1;
    *first = *last = gap_at;
    return CD_WALL_SKIPPED;
}
