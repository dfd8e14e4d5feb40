/* mapper.c — see mapper.h. */
#include "mapper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "amount.h"
#include "cdc.h"
#include "date.h"

enum {
    RC_BANK_REF, RC_BANK_NAME, RC_AMOUNT, RC_NET, RC_TXN_DATE, RC_VALUE_DATE, RC_UTR, RC_RRN,
    RC_REMARKS, RC_DC, RC_SOURCE_FILE, RC_BATCH, RC_COUNT
};
const char *const bs_record_columns[] = {
    "bank_ref", "bank_name", "amount_paise", "net_amount_paise", "transaction_date",
    "value_date", "utr", "rrn", "remarks", "debit_credit", "source_file", "batch_id"};
const size_t bs_record_ncolumns = RC_COUNT;

/* A deep copy of a row, for the footer hold-back. */
typedef struct held_row {
    size_t n;
    char **v;
    size_t *len;
    unsigned char *numeric;
    long line;
    int date1904;
} held_row;

struct bs_mapper {
    const bs_format *f;
    const cd_host_api *host;
    cd_run *run;
    char *file_name, *bank_name, *batch_id;
    size_t bank_len, file_len, batch_len;
    char ref[512];      /* "<file name>:" then the line, per row */
    size_t ref_prefix;
    int have_header;
    size_t header_n;
    long idx[BF_COUNT]; /* cell index per field, -1 unmapped */
    char *error;
    held_row *ring;     /* skip_footer_rows slots */
    size_t ring_n, ring_head;
    int64_t emitted, errors;
};

bs_mapper *bs_mapper_new(const bs_format *f, const cd_host_api *host, cd_run *run,
                         const char *file_name, const char *bank_name, const char *batch_id)
{
    bs_mapper *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->f = f;
    m->host = host;
    m->run = run;
    m->file_name = strdup(file_name);
    m->bank_name = strdup(bank_name);
    m->batch_id = strdup(batch_id);
    if (f->skip_footer_rows > 0)
        m->ring = calloc((size_t)f->skip_footer_rows, sizeof *m->ring);
    if (!m->file_name || !m->bank_name || !m->batch_id || (f->skip_footer_rows > 0 && !m->ring)) {
        bs_mapper_free(m);
        return NULL;
    }
    for (int i = 0; i < BF_COUNT; i++)
        m->idx[i] = -1;
    m->bank_len = strlen(m->bank_name);
    m->file_len = strlen(m->file_name);
    m->batch_len = strlen(m->batch_id);
    m->ref_prefix = (size_t)snprintf(m->ref, sizeof m->ref, "%.480s:", m->file_name);
    return m;
}

static void held_free(held_row *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->v[i]);
    free(h->v);
    free(h->len);
    free(h->numeric);
    memset(h, 0, sizeof *h);
}

void bs_mapper_free(bs_mapper *m)
{
    if (!m)
        return;
    if (m->ring)
        for (long i = 0; i < m->f->skip_footer_rows; i++)
            held_free(&m->ring[i]);
    free(m->ring);
    free(m->file_name);
    free(m->bank_name);
    free(m->batch_id);
    free(m->error);
    free(m);
}

const char *bs_mapper_error(const bs_mapper *m) { return m->error; }
int64_t bs_mapper_emitted(const bs_mapper *m) { return m->emitted; }
int64_t bs_mapper_errors(const bs_mapper *m) { return m->errors; }

void bs_mapper_log(const bs_mapper *m, int level, const char *msg)
{
    m->host->log(m->run, (cd_log_level)level, "%s: %s", m->file_name, msg);
}

/* Cell text without surrounding blanks. */
static void cell(const bs_row *r, long i, const char **s, size_t *n)
{
    if (i < 0 || (size_t)i >= r->n) {
        *s = "";
        *n = 0;
        return;
    }
    const char *p = r->v[i];
    size_t len = r->v_len[i];
    /* blanks, and the UTF-8 no-break space (C2 A0) that spreadsheet and
     * web exports leave around values: "AX001\u00a0" is AX001, not a
     * reference that matches nothing */
    for (;;) {
        if (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        else if (len >= 2 && (unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xA0)
            p += 2, len -= 2;
        else
            break;
    }
    for (;;) {
        if (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
            len--;
        else if (len >= 2 && (unsigned char)p[len - 2] == 0xC2 && (unsigned char)p[len - 1] == 0xA0)
            len -= 2;
        else
            break;
    }
    *s = p;
    *n = len;
}

/* Whether cell i was an XLSX number cell. An XLSX row ends at its last
 * written cell, so a mapped column can lie past r->n: a row held back for
 * the footer keeps only r->n flags, and the sheet reader's array holds an
 * earlier, wider row's flags beyond them. */
static int cell_numeric(const bs_row *r, long i)
{
    return r->numeric && i >= 0 && (size_t)i < r->n && r->numeric[i];
}

/* An identifier (bank_ref, utr, rrn) from an XLSX number cell, as the
 * digits the bank wrote. A writer that stores a numeric reference as a
 * double may write it as "12345.0" or "1.23456789012E11": those are the
 * integer's digits, written out. A mantissa of more than 15 significant
 * digits ("1.2345678901234568E17") is a double that no longer holds the
 * reference: -1. Other numbers (no point, no exponent; a fraction) are
 * kept as written. *s / *n point into buf[32] when rewritten. */
static int id_from_number(const char **s, size_t *n, char buf[32])
{
    const char *p = *s;
    size_t len = *n, i = 0;
    if (!memchr(p, '.', len) && !memchr(p, 'e', len) && !memchr(p, 'E', len))
        return 0;
    char dg[32];
    size_t nd = 0;
    long point = 0; /* digits of the mantissa before its point */
    int seen_point = 0, neg = 0;
    if (i < len && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    for (; i < len && ((p[i] >= '0' && p[i] <= '9') || p[i] == '.'); i++) {
        if (p[i] == '.') {
            if (seen_point)
                return 0;
            seen_point = 1;
            continue;
        }
        if (nd == 0 && p[i] == '0') { /* leading zeros: not significant */
            if (!seen_point)
                continue;
            point--; /* 0.00123: the point moves right past them */
            continue;
        }
        if (nd == sizeof dg)
            return -1;
        dg[nd++] = p[i];
        if (!seen_point)
            point++;
    }
    long exp = 0;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            eneg = p[i++] == '-';
        size_t e0 = i;
        for (; i < len && p[i] >= '0' && p[i] <= '9'; i++)
            if (exp < 1000)
                exp = exp * 10 + (p[i] - '0');
        if (i == e0)
            return 0;
        if (eneg)
            exp = -exp;
    }
    if (i != len)
        return 0; /* not a number after all: as written */
    while (nd && dg[nd - 1] == '0')
        nd--; /* trailing zeros of the mantissa hold no precision */
    long ip = point + exp; /* digits before the point */
    if (nd == 0) {
        buf[0] = '0', buf[1] = '\0';
        *s = buf, *n = 1;
        return 0;
    }
    if ((long)nd > ip)
        return 0; /* a fraction: not an integer, kept as written */
    if (nd > 15)
        return -1;
    if (ip > 30)
        return -1;
    size_t o = 0;
    if (neg)
        buf[o++] = '-';
    for (long k = 0; k < ip; k++)
        buf[o++] = k < (long)nd ? dg[k] : '0';
    buf[o] = '\0';
    *s = buf, *n = o;
    return 0;
}

static int same_name(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* Builds "[a, b, c]" of the header cells / expected names. */
static char *list_text(const char *const *v, const size_t *len, size_t n)
{
    size_t total = 3;
    for (size_t i = 0; i < n; i++)
        total += (len ? len[i] : strlen(v[i])) + 2;
    if (total > 4000)
        total = 4000;
    char *out = malloc(total + 16);
    if (!out)
        return NULL;
    size_t o = 0;
    out[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        size_t l = len ? len[i] : strlen(v[i]);
        if (o + l + 7 > total + 16) { /* only when capped: room for ", ...]" */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (i)
            out[o++] = ',', out[o++] = ' ';
        memcpy(out + o, v[i], l);
        o += l;
    }
    out[o++] = ']';
    out[o] = '\0';
    return out;
}

static int check_header(bs_mapper *m, const bs_row *r)
{
    const char *expected[BF_COUNT];
    size_t nexp = 0;
    int missing = 0;
    for (int f = 0; f < BF_COUNT; f++) {
        const char *want = m->f->columns[f];
        if (!want)
            continue;
        expected[nexp++] = want;
        for (size_t i = 0; i < r->n && m->idx[f] < 0; i++) {
            const char *s;
            size_t n;
            cell(r, (long)i, &s, &n);
            if (same_name(s, n, want))
                m->idx[f] = (long)i;
        }
        if (m->idx[f] < 0)
            missing++;
    }
    /* A mapped name twice in the header (a debit and a credit group, each
     * with its "Amount"): the first was taken, silently, whichever side it
     * was. Which one is meant cannot be told, so the file fails. */
    for (int f = 0; f < BF_COUNT && !missing; f++) {
        if (m->idx[f] < 0)
            continue;
        for (size_t i = (size_t)m->idx[f] + 1; i < r->n; i++) {
            const char *s;
            size_t n;
            cell(r, (long)i, &s, &n);
            if (!same_name(s, n, m->f->columns[f]))
                continue;
            const char *what = m->f->template_name ? m->f->template_name : "the connector's format";
            if (asprintf(&m->error, "%s: header on line %ld has two columns named %s (columns "
                                    "%ld and %zu), the %s column of %s: which one is meant "
                                    "cannot be told",
                         m->file_name, r->line, m->f->columns[f], m->idx[f] + 1, i + 1,
                         bs_field_names[f], what) < 0)
                m->error = NULL;
            return BS_STOP_HEADER;
        }
    }
    if (!missing) {
        m->have_header = 1;
        /* a trailing delimiter on the header line alone leaves empty
         * cells: the header is its named cells */
        m->header_n = r->n;
        while (m->header_n > 0) {
            const char *s;
            size_t n;
            cell(r, (long)m->header_n - 1, &s, &n);
            if (n)
                break;
            m->header_n--;
        }
        return 0;
    }
    char *exp = list_text(expected, NULL, nexp);
    char *found = list_text(r->v, r->v_len, r->n);
    const char *what = m->f->template_name ? m->f->template_name : "the connector's format";
    if (asprintf(&m->error, "%s: header on line %ld does not match %s: expected columns %s, "
                            "found %s",
                 m->file_name, r->line, what, exp ? exp : "?", found ? found : "?") < 0)
        m->error = NULL;
    free(exp);
    free(found);
    return BS_STOP_HEADER;
}

/* A record error for row r: "file:line" and the raw cells joined. */
static int row_error(bs_mapper *m, const bs_row *r, const char *fmt, ...) CD_PRINTF(3, 4);
static int row_error(bs_mapper *m, const bs_row *r, const char *fmt, ...)
{
    char ref[512];
    snprintf(ref, sizeof ref, "%.480s:%ld", m->file_name, r->line);
    char *reason = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&reason, fmt, ap) < 0)
        reason = NULL;
    va_end(ap);
    char raw[512];
    size_t o = 0;
    char sep = m->f->type == BS_XLSX ? '\t' : m->f->delimiter;
    for (size_t i = 0; i < r->n && o < sizeof raw - 1; i++) {
        if (i)
            raw[o++] = sep;
        size_t take = r->v_len[i];
        if (take > sizeof raw - 1 - o)
            take = sizeof raw - 1 - o;
        memcpy(raw + o, r->v[i], take);
        o += take;
    }
    m->host->record_error(m->run, ref, reason ? reason : "unreadable row", raw, o);
    free(reason);
    m->errors++;
    return 0;
}

/* Decimal text of v into out (at least 21 bytes); its length. */
static size_t i64_text(int64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t o = 0;
    if (v < 0)
        out[o++] = '-';
    while (n)
        out[o++] = tmp[--n];
    out[o] = '\0';
    return o;
}

static const char *dc_text(bs_dir d) { return d == BS_DIR_DEBIT ? "DR" : d == BS_DIR_CREDIT ? "CR" : NULL; }

/* A lone dash in a credit or debit column is the empty side of the row:
 * it is how a spreadsheet's accounting format writes zero, so a bank's
 * export shows "-" in the column a row does not use. In the optional
 * net_amount and value_date columns it is "none" (the row loads without
 * them). (In a single amount column, or the transaction date, a dash says
 * nothing and stays refused.) */
static void blank_dash(size_t *n, const char *s)
{
    if ((*n == 1 && s[0] == '-') || (*n == 3 && memcmp(s, "\xe2\x80\x93", 3) == 0))
        *n = 0;
}

/* Normalizes a debit/credit indicator column. */
static const char *dc_column(const char *s, size_t n)
{
    /* "Dr." and "Cr.", as statements print them (and as the amount's own
     * suffix may be written): kept as text they were neither DR nor CR */
    if (n > 1 && s[n - 1] == '.')
        n--;
    if (same_name(s, n, "c") || same_name(s, n, "cr") || same_name(s, n, "credit"))
        return "CR";
    if (same_name(s, n, "d") || same_name(s, n, "dr") || same_name(s, n, "debit"))
        return "DR";
    return NULL;
}

/* A spreadsheet's error value ("#N/A" from a lookup that found nothing),
 * as an XLSX error cell or a CSV export writes it. As a reference it is
 * the same text on every row it stands in, so those rows would load as
 * one key, each replacing the one before. */
static const char *sheet_error(const char *s, size_t n)
{
    static const char *const errors[] = {"#N/A",  "#REF!", "#VALUE!", "#DIV/0!", "#NAME?",
                                         "#NUM!", "#NULL!", "#SPILL!", "#CALC!",  "#GETTING_DATA"};
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (same_name(s, n, errors[i]))
            return errors[i];
    return NULL;
}

#define SHEET_ERROR "%s: the cell in column %s holds the spreadsheet error %s, not a reference"

#define LOST_DIGITS                                                                        \
    "%s: '%.*s' in column %s is a number with more than 15 significant digits, which a "  \
    "spreadsheet number cannot hold: the reference's digits are lost (the column must be " \
    "text)"

/* Whether a CSV/TXT row has the header's cells: as many, or more that are
 * all empty (a delimiter at the end of every data line, but not of the
 * header line, as many exports write). Empty cells at the end shift no
 * value; a row with fewer cells, or more that hold text, may have its
 * values shifted. */
static int cells_fit(const bs_mapper *m, const bs_row *r)
{
    if (r->n < m->header_n)
        return 0;
    for (size_t i = m->header_n; i < r->n; i++) {
        const char *s;
        size_t n;
        cell(r, (long)i, &s, &n);
        if (n)
            return 0;
    }
    return 1;
}

/* A date cell holding an ISO 8601 timestamp that names its zone
 * ("2025-10-02T20:00:00Z", "... 23:30:00+05:30") is an instant: its business
 * date is the connector's local day of it (2025-10-03 in Asia/Kolkata for
 * the first), not the day written in it. 1 with out[] replaced, 0 for any
 * other text (a date, a local time: its own day), -1 with *why for an
 * instant outside the calendar. */
static int zoned_day(const bs_mapper *m, const char *s, size_t n, char out[11], const char **why)
{
    char buf[64];
    int64_t instant;
    if (n < 16 || n >= sizeof buf || !CD_HOST_HAS(m->host, local_date) || !m->host->local_date)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!cdc_timestamp_instant(buf, &instant))
        return 0;
    if (m->host->local_date(m->run, instant, out) != CD_OK) {
        *why = "is outside the calendar in the connector's time zone";
        return -1;
    }
    return 1;
}

static int process(bs_mapper *m, const bs_row *r)
{
    const bs_format *f = m->f;
    if (f->type != BS_XLSX && !cells_fit(m, r))
        return row_error(m, r, "has %zu columns, the header has %zu", r->n, m->header_n);
    const char *s;
    size_t n;
    const char *val[RC_COUNT] = {0};
    size_t len[RC_COUNT] = {0};
    char amount_txt[24], net_txt[24], tdate[11], vdate[11];

    char idbuf[4][32];
    cell(r, m->idx[BF_BANK_REF], &s, &n);
    if (n == 0)
        return row_error(m, r, "bank_ref: missing reference (column %s)", f->columns[BF_BANK_REF]);
    if (sheet_error(s, n))
        return row_error(m, r, SHEET_ERROR, "bank_ref", f->columns[BF_BANK_REF], sheet_error(s, n));
    if (cell_numeric(r, m->idx[BF_BANK_REF]) && id_from_number(&s, &n, idbuf[0]) != 0)
        return row_error(m, r, LOST_DIGITS, "bank_ref", (int)(n > 40 ? 40 : n), s,
                         f->columns[BF_BANK_REF]);
    val[RC_BANK_REF] = s, len[RC_BANK_REF] = n;

    unsigned aflags = f->amount_in_paise ? BS_AMT_PAISE : 0;
    int64_t paise = 0;
    bs_dir dir = BS_DIR_NONE;
    const char *why = NULL;
    if (m->idx[BF_AMOUNT] >= 0) {
        cell(r, m->idx[BF_AMOUNT], &s, &n);
        unsigned fl = aflags | (cell_numeric(r, m->idx[BF_AMOUNT]) ? BS_AMT_NUMERIC : 0);
        int rc = bs_amount_parse(s, n, fl, &paise, &dir, &why);
        if (rc != 0)
            return row_error(m, r, "amount: '%.*s' is not an amount (%s) in column %s",
                             (int)(n > 60 ? 60 : n), s, rc > 0 ? "empty" : why,
                             f->columns[BF_AMOUNT]);
    } else {
        int64_t cr = 0, dr = 0;
        bs_dir d2;
        int have_cr = 0, have_dr = 0;
        if (m->idx[BF_CREDIT] >= 0) {
            cell(r, m->idx[BF_CREDIT], &s, &n);
            blank_dash(&n, s);
            unsigned fl = aflags | (cell_numeric(r, m->idx[BF_CREDIT]) ? BS_AMT_NUMERIC : 0);
            int rc = bs_amount_parse(s, n, fl, &cr, &d2, &why);
            if (rc < 0)
                return row_error(m, r, "credit: '%.*s' is not an amount (%s) in column %s",
                                 (int)(n > 60 ? 60 : n), s, why, f->columns[BF_CREDIT]);
            have_cr = rc == 0 && cr != 0;
            /* A debit column's negative sign is the usual way to write it; in
             * the credit column it is a reversal, which counted as a credit
             * of its size would be wrong by twice the amount. */
            if (have_cr && (cr < 0 || d2 == BS_DIR_DEBIT))
                return row_error(m, r,
                                 "credit: '%.*s' in column %s is negative or marked Dr; a "
                                 "reversal is not a credit (map it as a debit)",
                                 (int)(n > 60 ? 60 : n), s, f->columns[BF_CREDIT]);
        }
        if (m->idx[BF_DEBIT] >= 0) {
            cell(r, m->idx[BF_DEBIT], &s, &n);
            blank_dash(&n, s);
            unsigned fl = aflags | (cell_numeric(r, m->idx[BF_DEBIT]) ? BS_AMT_NUMERIC : 0);
            int rc = bs_amount_parse(s, n, fl, &dr, &d2, &why);
            if (rc < 0)
                return row_error(m, r, "debit: '%.*s' is not an amount (%s) in column %s",
                                 (int)(n > 60 ? 60 : n), s, why, f->columns[BF_DEBIT]);
            have_dr = rc == 0 && dr != 0;
            /* The mirror of the credit column's rule: a credit marker in the
             * debit column is not a debit. */
            if (have_dr && d2 == BS_DIR_CREDIT)
                return row_error(m, r,
                                 "debit: '%.*s' in column %s is marked Cr; a credit is not a "
                                 "debit (map it as a credit)",
                                 (int)(n > 60 ? 60 : n), s, f->columns[BF_DEBIT]);
        }
        if (have_cr && have_dr)
            return row_error(m, r, "amount: both credit and debit are set");
        if (!have_cr && !have_dr)
            return row_error(m, r, "amount: neither credit nor debit is set");
        paise = have_cr ? cr : -(dr < 0 ? -dr : dr);
        dir = have_cr ? BS_DIR_CREDIT : BS_DIR_DEBIT;
    }
    /* Stored as the magnitude with its direction in debit_credit. */
    val[RC_AMOUNT] = amount_txt;
    len[RC_AMOUNT] = i64_text(paise < 0 ? -paise : paise, amount_txt);
    const char *dc = dc_text(dir);

    if (m->idx[BF_NET_AMOUNT] >= 0) {
        cell(r, m->idx[BF_NET_AMOUNT], &s, &n);
        blank_dash(&n, s); /* "-": no net amount (an optional column) */
        int64_t net;
        bs_dir nd;
        unsigned fl = aflags | (cell_numeric(r, m->idx[BF_NET_AMOUNT]) ? BS_AMT_NUMERIC : 0);
        int rc = bs_amount_parse(s, n, fl, &net, &nd, &why);
        if (rc < 0)
            return row_error(m, r, "net_amount: '%.*s' is not an amount (%s) in column %s",
                             (int)(n > 60 ? 60 : n), s, why, f->columns[BF_NET_AMOUNT]);
        if (rc == 0) {
            val[RC_NET] = net_txt;
            len[RC_NET] = i64_text(net, net_txt);
        }
    }
    bs_date_system sys = r->date1904 ? BS_DATE_1904 : BS_DATE_1900;
    cell(r, m->idx[BF_TXN_DATE], &s, &n);
    int rc = bs_date_parse_cell(f->date_format, s, n, sys, cell_numeric(r, m->idx[BF_TXN_DATE]),
                                tdate, &why);
    if (rc != 0)
        return row_error(m, r, "transaction_date: '%.*s' %s%s%s (column %s)",
                         (int)(n > 40 ? 40 : n), s, rc > 0 ? "is missing" : why,
                         rc < 0 && f->date_format ? " " : "",
                         rc < 0 && f->date_format ? f->date_format : "", f->columns[BF_TXN_DATE]);
    if (!cell_numeric(r, m->idx[BF_TXN_DATE]) && zoned_day(m, s, n, tdate, &why) < 0)
        return row_error(m, r, "transaction_date: '%.*s' %s (column %s)", (int)(n > 40 ? 40 : n),
                         s, why, f->columns[BF_TXN_DATE]);
    val[RC_TXN_DATE] = tdate, len[RC_TXN_DATE] = 10;
    if (m->idx[BF_VALUE_DATE] >= 0) {
        cell(r, m->idx[BF_VALUE_DATE], &s, &n);
        blank_dash(&n, s); /* "-": not settled yet, no value date */
        rc = bs_date_parse_cell(f->date_format, s, n, sys,
                                cell_numeric(r, m->idx[BF_VALUE_DATE]), vdate, &why);
        if (rc == 0 && !cell_numeric(r, m->idx[BF_VALUE_DATE]) &&
            zoned_day(m, s, n, vdate, &why) < 0)
            rc = -1;
        if (rc < 0)
            return row_error(m, r, "value_date: '%.*s' %s (column %s)", (int)(n > 40 ? 40 : n),
                             s, why, f->columns[BF_VALUE_DATE]);
        if (rc == 0)
            val[RC_VALUE_DATE] = vdate, len[RC_VALUE_DATE] = 10;
    }
    static const struct { int field, rc; } text[] = {
        {BF_UTR, RC_UTR}, {BF_RRN, RC_RRN}, {BF_REMARKS, RC_REMARKS}};
    for (size_t i = 0; i < 3; i++) {
        if (m->idx[text[i].field] < 0)
            continue;
        cell(r, m->idx[text[i].field], &s, &n);
        if (text[i].field != BF_REMARKS && sheet_error(s, n))
            return row_error(m, r, SHEET_ERROR, bs_field_names[text[i].field],
                             f->columns[text[i].field], sheet_error(s, n));
        if (text[i].field != BF_REMARKS && cell_numeric(r, m->idx[text[i].field]) &&
            id_from_number(&s, &n, idbuf[1 + i]) != 0)
            return row_error(m, r, LOST_DIGITS, bs_field_names[text[i].field],
                             (int)(n > 40 ? 40 : n), s, f->columns[text[i].field]);
        if (n)
            val[text[i].rc] = s, len[text[i].rc] = n;
    }
    if (m->idx[BF_DEBIT_CREDIT] >= 0) {
        cell(r, m->idx[BF_DEBIT_CREDIT], &s, &n);
        const char *norm = dc_column(s, n);
        /* "-100.00" or a debit column's value marked C: the amount says
         * one direction, the indicator the other; loaded either way it may
         * be wrong by twice the amount. */
        if (norm && dc && strcmp(norm, dc) != 0)
            return row_error(m, r,
                             "debit_credit: '%.*s' in column %s says %s, the amount says %s",
                             (int)(n > 20 ? 20 : n), s, f->columns[BF_DEBIT_CREDIT],
                             strcmp(norm, "CR") == 0 ? "credit" : "debit",
                             strcmp(dc, "CR") == 0 ? "credit" : "debit");
        /* Text that is neither (REV, a transaction type) would replace
         * the direction the amount gave: amount_paise holds the magnitude,
         * so a debit would be stored as a credit-looking row. */
        if (!norm && n && dc)
            return row_error(m, r,
                             "debit_credit: '%.*s' in column %s is neither credit nor debit, and"
                             " the amount is a %s: its direction would be lost",
                             (int)(n > 20 ? 20 : n), s, f->columns[BF_DEBIT_CREDIT],
                             strcmp(dc, "CR") == 0 ? "credit" : "debit");
        if (norm)
            dc = norm;
        else if (n)
            val[RC_DC] = s, len[RC_DC] = n > 10 ? 10 : n;
    }
    if (dc && !val[RC_DC])
        val[RC_DC] = dc, len[RC_DC] = 2;
    val[RC_BANK_NAME] = m->bank_name, len[RC_BANK_NAME] = m->bank_len;
    val[RC_SOURCE_FILE] = m->file_name, len[RC_SOURCE_FILE] = m->file_len;
    val[RC_BATCH] = m->batch_id, len[RC_BATCH] = m->batch_len;

    i64_text(r->line, m->ref + m->ref_prefix);
    int erc = m->host->record_emit(m->run, val, len, m->ref);
    if (erc != CD_OK)
        return erc;
    m->emitted++;
    return 0;
}

static int hold(bs_mapper *m, const bs_row *r, held_row *h)
{
    h->n = r->n;
    h->line = r->line;
    h->date1904 = r->date1904;
    h->v = calloc(r->n ? r->n : 1, sizeof *h->v);
    h->len = calloc(r->n ? r->n : 1, sizeof *h->len);
    h->numeric = calloc(r->n ? r->n : 1, 1);
    if (!h->v || !h->len || !h->numeric)
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        h->v[i] = malloc(r->v_len[i] + 1);
        if (!h->v[i])
            return -1;
        memcpy(h->v[i], r->v[i], r->v_len[i]);
        h->v[i][r->v_len[i]] = '\0';
        h->len[i] = r->v_len[i];
        h->numeric[i] = r->numeric ? r->numeric[i] : 0;
    }
    return 0;
}

int bs_mapper_row(void *ud, const bs_row *r)
{
    bs_mapper *m = ud;
    if (m->host->is_cancelled(m->run))
        return CD_CANCELLED;
    if (r->n == 0)
        return 0; /* blank line */
    int all_blank = 1;
    for (size_t i = 0; i < r->n && all_blank; i++)
        for (size_t k = 0; k < r->v_len[i] && all_blank; k++)
            if (r->v[i][k] != ' ' && r->v[i][k] != '\t')
                all_blank = 0;
    if (!m->have_header) {
        /* empty lines before the header are skipped, ",,,," ones and an
         * XLSX row of formatted empty cells too: taken for the header, they
         * failed the file */
        if (r->line < m->f->header_row || all_blank)
            return 0;
        return check_header(m, r);
    }
    if (all_blank)
        return 0; /* ",,,," lines some exports write */
    /* A quoted field over a line break that leaves the record with another
     * cell count is most likely a quote left open, which took the lines
     * after it: the reader reads those again as rows. Asked before the
     * footer hold-back, while the reader still has those lines. */
    if (r->reread_line && !cells_fit(m, r)) {
        row_error(m, r, "has %zu columns, the header has %zu (a quote left open on line %ld?); "
                        "read again as records from line %ld",
                  r->n, m->header_n, r->reread_line - 1, r->reread_line);
        return BS_ROW_REREAD;
    }
    if (!m->ring)
        return process(m, r);
    /* Footer hold-back: the row that falls out of the ring is a data row. */
    size_t cap = (size_t)m->f->skip_footer_rows;
    held_row *slot = &m->ring[m->ring_head];
    int rc = 0;
    if (m->ring_n == cap) {
        bs_row old = {slot->n, (const char *const *)slot->v, slot->len, slot->numeric, slot->line,
                      slot->date1904, 0};
        rc = process(m, &old);
        held_free(slot);
    } else {
        m->ring_n++;
    }
    if (hold(m, r, slot) != 0) {
        held_free(slot);
        return CD_ERR_PERMANENT;
    }
    m->ring_head = (m->ring_head + 1) % cap;
    return rc;
}

int bs_mapper_bad(void *ud, long line, const char *reason, const char *raw, size_t raw_len)
{
    bs_mapper *m = ud;
    char ref[512];
    snprintf(ref, sizeof ref, "%.480s:%ld", m->file_name, line);
    m->host->record_error(m->run, ref, reason, raw, raw_len);
    m->errors++;
    return 0;
}

int bs_mapper_finish(bs_mapper *m)
{
    if (!m->have_header) {
        if (!m->error &&
            asprintf(&m->error, "%s: no header row (expected on line %ld)", m->file_name,
                     m->f->header_row) < 0)
            m->error = NULL;
        return BS_STOP_HEADER;
    }
    return CD_OK; /* what is left in the ring is the footer */
}
