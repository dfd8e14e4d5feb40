/* csv.c — see csv.h. */
#include "csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum st { ST_FIELD_START, ST_UNQUOTED, ST_QUOTED, ST_QUOTE_IN_QUOTED, ST_SKIP };

struct bs_csv {
    char delim, quote;
    size_t max_record;
    bs_row_fn on_row;
    bs_bad_fn on_bad;
    void *ud;

    enum st st;
    int after_cr;      /* the last byte was a CR ending a record: an LF now is part of it */
    int bom_left;      /* bytes of a possible BOM still to check; -1 once decided */
    unsigned char bom_seen[3];
    long line;         /* current physical line */
    long rec_line;     /* line where the current record started */
    int rec_open;      /* a record has begun (some byte seen) */

    char *buf;         /* cell bytes, each NUL-terminated */
    size_t len, cap;
    size_t *starts;    /* start offset of each cell */
    size_t nstarts, capstarts;
    const char **v;
    size_t *vlen;
    size_t capv;
    char *skip_reason;
    /* byte classes for the bulk scans of bs_csv_feed */
    unsigned char cls[256];

    /* A quote left open swallows the lines after it into one field, and a
     * quoted field may hold line breaks, so nothing shows it at the break:
     * only later text after its closing quote, the end of the file or a
     * cell count the row callback refuses does. The bytes after the
     * record's first quoted line break are kept until the record ends, so
     * that those lines can then be read again as records of their own. */
    int field_broke;   /* the current quoted field holds a line break */
    int q_after_cr;    /* the last byte was a CR inside a quoted field */
    long reread_line;  /* the line after the record's first quoted break; 0: none */
    int break_cr;      /* that break was a CR (an LF right after it belongs to it) */
    size_t bad_len;    /* the record's cell bytes before that break */
    char *kept;        /* the bytes since that break */
    size_t kept_len, kept_cap;
    int kept_lost;     /* they outgrew kept_limit: the lines cannot be read again */
    size_t kept_limit;
    int reread;        /* the record was refused: read the kept bytes again */
    char *again;       /* the kept bytes being read again */
    size_t again_cap;
    char reason[256];
    char bad_text[200];
};

#define CLS_UNQ 1 /* ends a run of unquoted cell bytes: delimiter, CR, LF */
#define CLS_QUO 2 /* ends a run of quoted cell bytes: quote, LF (counted) */

bs_csv *bs_csv_new(char delimiter, char quote, size_t max_record, bs_row_fn on_row,
                   bs_bad_fn on_bad, void *ud)
{
    bs_csv *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->delim = delimiter;
    c->quote = quote;
    c->max_record = max_record ? max_record : (size_t)1 << 20;
    c->on_row = on_row;
    c->on_bad = on_bad;
    c->ud = ud;
    c->bom_left = 3;
    c->line = 1;
    c->rec_line = 1;
    c->cls[(unsigned char)delimiter] |= CLS_UNQ;
    c->cls['\r'] |= CLS_UNQ;
    c->cls['\n'] |= CLS_UNQ | CLS_QUO;
    c->cls['\r'] |= CLS_QUO; /* a line break inside quotes is counted and noted */
    /* the kept bytes carry quotes and delimiters the cells do not: room for
     * them, so that a record too long for the cells can still be read again */
    c->kept_limit = c->max_record * 2;
    if (quote)
        c->cls[(unsigned char)quote] |= CLS_QUO;
    return c;
}

void bs_csv_free(bs_csv *c)
{
    if (!c)
        return;
    free(c->buf);
    free(c->starts);
    free(c->v);
    free(c->vlen);
    free(c->kept);
    free(c->again);
    free(c);
}

/* Appends a byte to the current cell. 0, or -1 when the record is too long
 * or memory ran out (the caller switches to ST_SKIP). */
static int put(bs_csv *c, char ch)
{
    if (c->len + 2 > c->max_record)
        return -1;
    if (c->len + 2 > c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        if (ncap > c->max_record + 2)
            ncap = c->max_record + 2;
        char *nb = realloc(c->buf, ncap);
        if (!nb)
            return -1;
        c->buf = nb;
        c->cap = ncap;
    }
    c->buf[c->len++] = ch;
    return 0;
}

/* Appends n bytes to the current cell: as put() byte by byte would, up to
 * the record limit. 0, or -1 when the limit was hit (what fitted is kept,
 * for the error's raw text). */
static int put_run(bs_csv *c, const char *p, size_t n, size_t *taken)
{
    *taken = 0;
    if (c->len + n + 1 > c->cap) {
        size_t want = c->len + n + 1;
        if (want > c->max_record + 2)
            want = c->max_record + 2;
        size_t ncap = c->cap ? c->cap : 256;
        while (ncap < want)
            ncap *= 2;
        if (ncap > c->max_record + 2)
            ncap = c->max_record + 2;
        if (ncap > c->cap) {
            char *nb = realloc(c->buf, ncap);
            if (!nb)
                return -1;
            c->buf = nb;
            c->cap = ncap;
        }
    }
    /* put() refuses once len + 2 > max_record */
    size_t room = c->max_record > c->len + 1 ? c->max_record - c->len - 1 : 0;
    size_t take = n < room ? n : room;
    memcpy(c->buf + c->len, p, take);
    c->len += take;
    *taken = take;
    return take == n ? 0 : -1;
}

static int start_cell(bs_csv *c)
{
    if (c->nstarts == c->capstarts) {
        size_t ncap = c->capstarts ? c->capstarts * 2 : 32;
        size_t *ns = realloc(c->starts, ncap * sizeof *ns);
        if (!ns)
            return -1;
        c->starts = ns;
        c->capstarts = ncap;
    }
    c->starts[c->nstarts++] = c->len;
    c->field_broke = 0;
    return 0;
}

static int end_cell(bs_csv *c)
{
    if (put(c, '\0') != 0)
        return -1;
    return 0;
}

static void forget_kept(bs_csv *c)
{
    c->reread_line = 0;
    c->break_cr = 0;
    c->kept_len = 0;
    c->kept_lost = 0;
}

/* A record refused for reading again keeps its kept bytes until reread()
 * takes them. */
static void reset_record(bs_csv *c)
{
    c->len = 0;
    c->nstarts = 0;
    c->rec_open = 0;
    c->field_broke = 0;
    c->st = ST_FIELD_START;
    if (!c->reread)
        forget_kept(c);
}

static int can_reread(const bs_csv *c) { return c->reread_line && !c->kept_lost; }

static void keep(bs_csv *c, const char *p, size_t n)
{
    if (c->kept_lost || n == 0)
        return;
    if (c->kept_len + n > c->kept_limit) {
        c->kept_lost = 1;
        return;
    }
    if (c->kept_len + n > c->kept_cap) {
        size_t ncap = c->kept_cap ? c->kept_cap : 4096;
        while (ncap < c->kept_len + n)
            ncap *= 2;
        char *nk = realloc(c->kept, ncap);
        if (!nk) {
            c->kept_lost = 1;
            return;
        }
        c->kept = nk;
        c->kept_cap = ncap;
    }
    memcpy(c->kept + c->kept_len, p, n);
    c->kept_len += n;
}

/* A line break inside a quoted field (the line count is already up). */
static void quoted_break(bs_csv *c, char ch)
{
    c->field_broke = 1;
    if (c->reread_line)
        return;
    c->reread_line = c->line;
    c->break_cr = ch == '\r';
    c->bad_len = c->len;
    c->kept_len = 0;
    c->kept_lost = 0;
}

/* Reports the record whose quoted field ran over a line break as bad,
 * with its first line as the raw text, and has the kept lines read again
 * (the caller checked can_reread). */
static int refuse(bs_csv *c, const char *what)
{
    snprintf(c->reason, sizeof c->reason,
             "%s (a quote left open on line %ld?); read again as records from line %ld", what,
             c->reread_line - 1, c->reread_line);
    size_t n = c->bad_len < sizeof c->bad_text ? c->bad_len : sizeof c->bad_text;
    for (size_t i = 0; i < n; i++)
        c->bad_text[i] = c->buf[i] ? c->buf[i] : c->delim; /* cells are NUL-separated */
    c->reread = 1;
    return c->on_bad ? c->on_bad(c->ud, c->rec_line, c->reason, c->bad_text, n) : 0;
}

/* Hands the finished record on. */
static int emit(bs_csv *c)
{
    size_t n = c->nstarts;
    int blank = n == 1 && c->buf[c->starts[0]] == '\0' && !c->rec_open;
    if (n > c->capv) {
        const char **nv = realloc(c->v, n * sizeof *nv);
        if (!nv)
            return -1;
        c->v = nv;
        size_t *nl = realloc(c->vlen, n * sizeof *nl);
        if (!nl)
            return -1;
        c->vlen = nl;
        c->capv = n;
    }
    for (size_t i = 0; i < n; i++) {
        c->v[i] = c->buf + c->starts[i];
        size_t end = i + 1 < n ? c->starts[i + 1] - 1 : c->len - 1;
        c->vlen[i] = end - c->starts[i];
    }
    bs_row row = {blank ? 0 : n, c->v, c->vlen, NULL, c->rec_line, 0,
                  can_reread(c) ? c->reread_line : 0};
    int rc = c->on_row(c->ud, &row);
    if (rc == BS_ROW_REREAD && row.reread_line) {
        c->reread = 1;
        rc = 0;
    }
    reset_record(c);
    return rc;
}

static int too_long(bs_csv *c)
{
    if (can_reread(c))
        return refuse(c, "record too long");
    int rc = 0;
    if (c->on_bad) {
        size_t keep = c->len < 200 ? c->len : 200;
        rc = c->on_bad(c->ud, c->rec_line, "record too long or unreadable (missing quote?)",
                       c->buf, keep);
    }
    c->len = 0;
    c->nstarts = 0;
    c->st = ST_SKIP;
    return rc;
}

/* Ends a record at a line break (ch is '\n' or '\r'). */
static int end_record(bs_csv *c, char ch)
{
    int rc = 0;
    if (c->st == ST_SKIP) {
        reset_record(c);
    } else {
        /* In ST_FIELD_START the record ends with an empty cell: a blank
         * line, or the cell after a trailing delimiter. */
        if (c->st == ST_FIELD_START && start_cell(c) != 0)
            return too_long(c);
        if (end_cell(c) != 0)
            return too_long(c);
        rc = emit(c);
    }
    c->line++;
    c->rec_line = c->line;
    c->after_cr = ch == '\r';
    return rc;
}

static int feed_byte(bs_csv *c, char ch)
{
    if (c->after_cr) {
        c->after_cr = 0;
        if (ch == '\n')
            return 0; /* CRLF: the CR ended the record already */
    }
    switch (c->st) {
    case ST_SKIP:
        if (ch == '\n' || ch == '\r')
            return end_record(c, ch);
        return 0;
    case ST_FIELD_START:
        if (c->quote && ch == c->quote) {
            c->rec_open = 1;
            if (start_cell(c) != 0)
                return too_long(c);
            c->st = ST_QUOTED;
            c->q_after_cr = 0;
            return 0;
        }
        if (ch == '\n' || ch == '\r')
            return end_record(c, ch);
        c->rec_open = 1;
        if (start_cell(c) != 0)
            return too_long(c);
        if (ch == c->delim) {
            if (end_cell(c) != 0)
                return too_long(c);
            return 0; /* an empty cell; the next one starts */
        }
        c->st = ST_UNQUOTED;
        return put(c, ch) == 0 ? 0 : too_long(c);
    case ST_UNQUOTED:
        if (ch == c->delim) {
            c->st = ST_FIELD_START;
            return end_cell(c) == 0 ? 0 : too_long(c);
        }
        if (ch == '\n' || ch == '\r')
            return end_record(c, ch);
        return put(c, ch) == 0 ? 0 : too_long(c);
    case ST_QUOTED:
        if (ch == c->quote) {
            c->st = ST_QUOTE_IN_QUOTED;
            c->q_after_cr = 0;
            return 0;
        }
        /* LF, CRLF and a lone CR: one break each, as between records */
        if (ch == '\r' || (ch == '\n' && !c->q_after_cr)) {
            c->line++;
            quoted_break(c, ch);
        }
        c->q_after_cr = ch == '\r';
        return put(c, ch) == 0 ? 0 : too_long(c);
    case ST_QUOTE_IN_QUOTED:
        if (ch == c->quote) { /* doubled quote */
            c->st = ST_QUOTED;
            return put(c, ch) == 0 ? 0 : too_long(c);
        }
        if (ch == c->delim) {
            c->st = ST_FIELD_START;
            return end_cell(c) == 0 ? 0 : too_long(c);
        }
        if (ch == '\n' || ch == '\r')
            return end_record(c, ch);
        /* Text after the closing quote of a field that ran over a line
         * break: most likely its quote was never closed, and what closed
         * it was the opening quote of a field on a later line. */
        if (c->field_broke) {
            if (can_reread(c))
                return refuse(c, "text after the closing quote of a field that runs over a line "
                                 "break");
            int rc = c->on_bad ? c->on_bad(c->ud, c->rec_line,
                                           "text after the closing quote of a field that runs over "
                                           "a line break (a quote left open?); the record is too "
                                           "long to read its lines again",
                                           c->buf, c->len < 200 ? c->len : 200)
                               : 0;
            c->len = 0;
            c->nstarts = 0;
            c->st = ST_SKIP;
            return rc;
        }
        /* "abc"def on one line: keep going as unquoted text, as spreadsheets do */
        c->st = ST_UNQUOTED;
        return put(c, ch) == 0 ? 0 : too_long(c);
    }
    return 0;
}

/* Takes the byte at data[*i], or a run of plain cell bytes from there,
 * and moves *i past what it took. 0, or the first nonzero callback result. */
static int step(bs_csv *c, const char *data, size_t len, size_t *pi)
{
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    size_t i = *pi;
    unsigned char b = (unsigned char)data[i];
    if (c->bom_left > 0) {
        size_t k = 3 - (size_t)c->bom_left;
        if (b == bom[k]) {
            c->bom_seen[k] = b;
            if (--c->bom_left == 0)
                c->bom_left = -1;
            *pi = i + 1;
            return 0;
        }
        /* Not a BOM: the bytes held back are data after all. */
        c->bom_left = -1;
        for (size_t j = 0; j < k; j++) {
            int rc = feed_byte(c, (char)c->bom_seen[j]);
            if (rc)
                return rc;
        }
    }
    c->bom_left = -1;
    /* Runs of plain cell bytes are copied at once, and the common
     * transitions (a plain byte starts a cell, a delimiter ends one)
     * are taken here as feed_byte would; every other byte goes
     * through feed_byte. */
    if (!c->after_cr && c->st == ST_FIELD_START && !c->cls[b] &&
        !(c->quote && b == (unsigned char)c->quote)) {
        c->rec_open = 1;
        if (start_cell(c) != 0) {
            *pi = i + 1; /* as feed_byte: the byte is gone with the record */
            return too_long(c);
        }
        c->st = ST_UNQUOTED; /* the byte is copied by the run below */
    }
    if (!c->after_cr && c->st == ST_UNQUOTED && b == (unsigned char)c->delim) {
        c->st = ST_FIELD_START;
        *pi = i + 1;
        return end_cell(c) == 0 ? 0 : too_long(c);
    }
    if (!c->after_cr && (c->st == ST_UNQUOTED || c->st == ST_QUOTED)) {
        unsigned char stop = c->st == ST_UNQUOTED ? CLS_UNQ : CLS_QUO;
        size_t j = i;
        while (j < len && !(c->cls[(unsigned char)data[j]] & stop))
            j++;
        if (j > i) {
            c->q_after_cr = 0;
            size_t taken;
            if (put_run(c, data + i, j - i, &taken) != 0) {
                /* byte by byte, the byte after the last that fitted
                 * failed: the record is skipped from there */
                *pi = i + taken + 1;
                return too_long(c);
            }
            *pi = j;
            return 0;
        }
    }
    *pi = i + 1;
    return feed_byte(c, (char)b);
}

/* Feeds data until it is used up or a record asks for its lines to be read
 * again (c->reread); *used: the bytes taken. */
static int scan(bs_csv *c, const char *data, size_t len, size_t *used)
{
    size_t i = 0;
    int rc = 0;
    while (i < len && !c->reread) {
        size_t from = i;
        int keeping = c->reread_line != 0; /* the break itself is not kept */
        rc = step(c, data, len, &i);
        if (keeping)
            keep(c, data + from, i - from);
        if (rc)
            break;
    }
    *used = i;
    return rc;
}

/* Reads the kept bytes of the refused record again as new records, from
 * the line after its first quoted line break. A record among them may be
 * refused in turn: its own kept bytes are the tail of these, so reading
 * starts over from there. Records still open at the end go on with the
 * next input. */
static int reread(bs_csv *c)
{
    /* the kept bytes become the input, so that the records read from them
     * can keep bytes of their own */
    char *in = c->kept;
    size_t in_cap = c->kept_cap, n = c->kept_len, p = 0;
    c->kept = c->again;
    c->kept_cap = c->again_cap;
    c->again = in;
    c->again_cap = in_cap;
    for (;;) {
        long line = c->reread_line;
        int cr = c->break_cr;
        c->reread = 0;
        reset_record(c);
        c->after_cr = 0;
        c->q_after_cr = 0;
        c->line = c->rec_line = line;
        if (cr && p < n && in[p] == '\n')
            p++; /* the LF of the CRLF that broke the line */
        while (p < n && !c->reread) {
            size_t used;
            int rc = scan(c, in + p, n - p, &used);
            p += used;
            if (rc)
                return rc;
        }
        if (!c->reread)
            return 0;
        p -= c->kept_len; /* those bytes are in[p - kept_len, p) */
    }
}

int bs_csv_feed(bs_csv *c, const char *data, size_t len)
{
    size_t p = 0;
    while (p < len) {
        size_t used;
        int rc = scan(c, data + p, len - p, &used);
        p += used;
        if (rc == 0 && c->reread)
            rc = reread(c);
        if (rc)
            return rc;
    }
    return 0;
}

/* The input ended: the last record goes out, or is refused. */
static int finish_record(bs_csv *c)
{
    if (c->st == ST_QUOTED) {
        /* kept bytes beyond the LF of a CRLF break: lines to read again */
        int more = c->kept_len > (c->break_cr && c->kept_len && c->kept[0] == '\n' ? 1u : 0u);
        if (can_reread(c) && more)
            return refuse(c, "a quoted field runs over a line break to the end of the file");
        int rc = 0;
        if (c->on_bad)
            rc = c->on_bad(c->ud, c->rec_line, "unterminated quoted field at the end of the file",
                           c->buf, c->len < 200 ? c->len : 200);
        reset_record(c);
        return rc;
    }
    if (c->st == ST_SKIP) {
        reset_record(c);
        return 0;
    }
    if (c->st == ST_FIELD_START && !c->rec_open)
        return 0; /* the input ended with a line break */
    if ((c->st == ST_FIELD_START && start_cell(c) != 0) || end_cell(c) != 0)
        return too_long(c);
    return emit(c);
}

int bs_csv_finish(bs_csv *c)
{
    if (c->bom_left > 0 && c->bom_left < 3) {
        size_t k = 3 - (size_t)c->bom_left;
        c->bom_left = -1;
        for (size_t j = 0; j < k; j++) {
            int rc = feed_byte(c, (char)c->bom_seen[j]);
            if (rc)
                return rc;
        }
    }
    /* each round reads the refused record's lines again, and ends again */
    for (;;) {
        int rc = finish_record(c);
        if (rc == 0 && c->reread)
            rc = reread(c);
        if (rc || c->reread)
            return rc;
        if (c->st == ST_FIELD_START && !c->rec_open)
            return 0;
    }
}
