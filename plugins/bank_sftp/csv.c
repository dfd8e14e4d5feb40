/* csv.c — see csv.h. */
#include "csv.h"

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
};

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
    return 0;
}

static int end_cell(bs_csv *c)
{
    if (put(c, '\0') != 0)
        return -1;
    return 0;
}

static void reset_record(bs_csv *c)
{
    c->len = 0;
    c->nstarts = 0;
    c->rec_open = 0;
    c->st = ST_FIELD_START;
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
    bs_row row = {blank ? 0 : n, c->v, c->vlen, NULL, c->rec_line};
    int rc = c->on_row(c->ud, &row);
    reset_record(c);
    return rc;
}

static int too_long(bs_csv *c)
{
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
            return 0;
        }
        if (ch == '\n')
            c->line++;
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
        /* "abc"def: keep going as unquoted text, as spreadsheets do */
        c->st = ST_UNQUOTED;
        return put(c, ch) == 0 ? 0 : too_long(c);
    }
    return 0;
}

int bs_csv_feed(bs_csv *c, const char *data, size_t len)
{
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)data[i];
        if (c->bom_left > 0) {
            size_t k = 3 - (size_t)c->bom_left;
            if (b == bom[k]) {
                c->bom_seen[k] = b;
                if (--c->bom_left == 0)
                    c->bom_left = -1;
                continue;
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
        int rc = feed_byte(c, (char)b);
        if (rc)
            return rc;
    }
    return 0;
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
    if (c->st == ST_QUOTED) {
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
