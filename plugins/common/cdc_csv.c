/*
 * cdc_csv.c — streaming RFC 4180 reader (see cdc_csv.h).
 *
 * One byte at a time through a five-state machine; the record being read
 * is kept in one growable buffer with a NUL after every field, so the
 * callback gets NUL-terminated fields without a copy per field.
 */
#include "cdc_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_FIELD_START, S_UNQUOTED, S_QUOTED, S_QUOTE_SEEN };

struct cdc_csv {
    char delim;
    size_t max_record;
    cdc_csv_row_fn fn;
    void *ud;

    int state;
    int stopped;       /* the value every call returns once non-zero */
    int skip_lf;       /* the record ended on CR: an LF right after belongs to it */
    int field_quoted;  /* the current field started with a quote */
    int bom_pos;       /* bytes of a leading BOM matched so far; -1 when done */

    char *rec;         /* fields of the current record, each NUL-terminated */
    size_t rec_len, rec_cap;
    size_t cur_start;  /* offset in rec where the current field begins */
    size_t *starts;    /* offset in rec of each finished field */
    size_t nfields, fields_cap;
    const char **ptrs; /* handed to the callback */
    size_t *lens;
    size_t ptrs_cap;

    uint64_t offset, line, rec_line, records;
    char error[160];
};

cdc_csv *cdc_csv_new(char delim, size_t max_record, cdc_csv_row_fn fn, void *userdata)
{
    if (delim == '"' || delim == '\r' || delim == '\n' || !fn)
        return NULL;
    cdc_csv *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->delim = delim;
    c->max_record = max_record ? max_record : 1024 * 1024;
    c->fn = fn;
    c->ud = userdata;
    c->line = 1;
    c->rec_line = 1;
    return c;
}

void cdc_csv_free(cdc_csv *c)
{
    if (!c)
        return;
    free(c->rec);
    free(c->starts);
    free(c->ptrs);
    free(c->lens);
    free(c);
}

static int fail(cdc_csv *c, const char *what)
{
    /* the line the record starts on is where a person looks first */
    snprintf(c->error, sizeof c->error, "line %llu (byte %llu): %s",
             (unsigned long long)c->rec_line, (unsigned long long)c->offset, what);
    c->stopped = -1;
    return -1;
}

static int put(cdc_csv *c, char b)
{
    if (c->rec_len + 1 >= c->max_record)
        return fail(c, "record longer than the limit");
    if (c->rec_len + 2 > c->rec_cap) { /* room for the byte and a NUL */
        size_t cap = c->rec_cap ? c->rec_cap * 2 : 256;
        char *r = realloc(c->rec, cap);
        if (!r)
            return fail(c, "out of memory");
        c->rec = r;
        c->rec_cap = cap;
    }
    c->rec[c->rec_len++] = b;
    return 0;
}

/* Closes the current field: NUL after it, its start remembered. Fields may
 * hold NUL bytes of their own, so starts are tracked, never searched. */
static int end_field(cdc_csv *c)
{
    size_t start = c->cur_start;
    if (put(c, '\0') != 0)
        return -1;
    if (c->nfields == c->fields_cap) {
        size_t cap = c->fields_cap ? c->fields_cap * 2 : 16;
        size_t *s = realloc(c->starts, cap * sizeof *s);
        if (!s)
            return fail(c, "out of memory");
        c->starts = s;
        c->fields_cap = cap;
    }
    c->starts[c->nfields++] = start;
    c->cur_start = c->rec_len;
    c->field_quoted = 0;
    return 0;
}

static int end_record(cdc_csv *c)
{
    int blank = c->nfields == 0 && c->rec_len == 0 && !c->field_quoted;
    if (end_field(c) != 0)
        return -1;
    int rc = 0;
    if (!blank) {
        if (c->ptrs_cap < c->nfields) {
            const char **p = realloc(c->ptrs, c->nfields * sizeof *p);
            if (!p)
                return fail(c, "out of memory");
            c->ptrs = p;
            size_t *l = realloc(c->lens, c->nfields * sizeof *l);
            if (!l)
                return fail(c, "out of memory");
            c->lens = l;
            c->ptrs_cap = c->nfields;
        }
        for (size_t i = 0; i < c->nfields; i++) {
            c->ptrs[i] = c->rec + c->starts[i];
            size_t end = i + 1 < c->nfields ? c->starts[i + 1] - 1 : c->rec_len - 1;
            c->lens[i] = end - c->starts[i];
        }
        c->records++;
        rc = c->fn(c->ud, c->ptrs, c->lens, c->nfields, c->rec_line);
    }
    c->rec_len = 0;
    c->cur_start = 0;
    c->nfields = 0;
    c->field_quoted = 0;
    c->state = S_FIELD_START;
    if (rc != 0)
        c->stopped = rc;
    return rc;
}

/* A line end outside quotes: the record is complete. */
static int line_end(cdc_csv *c, char b)
{
    int rc = end_record(c);
    c->line++;
    c->rec_line = c->line;
    c->skip_lf = b == '\r';
    return rc;
}

static int byte_in(cdc_csv *c, char b)
{
    if (c->skip_lf) {
        c->skip_lf = 0;
        if (b == '\n')
            return 0;
    }
    switch (c->state) {
    case S_FIELD_START:
        if (b == '"') {
            c->field_quoted = 1;
            c->state = S_QUOTED;
            return 0;
        }
        if (b == c->delim)
            return end_field(c);
        if (b == '\n' || b == '\r')
            return line_end(c, b);
        c->state = S_UNQUOTED;
        return put(c, b);
    case S_UNQUOTED:
        if (b == c->delim) {
            c->state = S_FIELD_START;
            return end_field(c);
        }
        if (b == '\n' || b == '\r')
            return line_end(c, b);
        return put(c, b);
    case S_QUOTED:
        if (b == '"') {
            c->state = S_QUOTE_SEEN;
            return 0;
        }
        if (b == '\n')
            c->line++;
        return put(c, b);
    case S_QUOTE_SEEN:
        if (b == '"') {
            c->state = S_QUOTED;
            return put(c, '"');
        }
        if (b == c->delim) {
            c->state = S_FIELD_START;
            return end_field(c);
        }
        if (b == '\n' || b == '\r')
            return line_end(c, b);
        return fail(c, "unexpected character after a closing quote");
    }
    return fail(c, "internal state error");
}

int cdc_csv_feed(cdc_csv *c, const char *data, size_t len)
{
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    if (c->stopped)
        return c->stopped;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)data[i];
        if (c->bom_pos >= 0) {
            if (b == bom[c->bom_pos]) {
                c->offset++;
                if (++c->bom_pos == 3)
                    c->bom_pos = -1;
                continue;
            }
            /* Not a BOM after all: the bytes held back are data. */
            int held = c->bom_pos;
            c->bom_pos = -1;
            for (int k = 0; k < held; k++) {
                int rc = byte_in(c, (char)bom[k]);
                if (rc != 0)
                    return rc;
            }
        }
        int rc = byte_in(c, (char)b);
        c->offset++;
        if (rc != 0)
            return rc;
    }
    return 0;
}

int cdc_csv_finish(cdc_csv *c)
{
    if (c->stopped)
        return c->stopped;
    if (c->bom_pos > 0) {
        int held = c->bom_pos;
        c->bom_pos = -1;
        static const char bom[3] = {(char)0xEF, (char)0xBB, (char)0xBF};
        for (int k = 0; k < held; k++) {
            int rc = byte_in(c, bom[k]);
            if (rc != 0)
                return rc;
        }
    }
    if (c->state == S_QUOTED)
        return fail(c, "end of input inside a quoted field");
    if (c->state == S_FIELD_START && c->nfields == 0 && c->rec_len == 0 && !c->field_quoted)
        return 0; /* ended on a line end */
    return end_record(c);
}

const char *cdc_csv_error(const cdc_csv *c)
{
    return c->error[0] ? c->error : "no error";
}

uint64_t cdc_csv_offset(const cdc_csv *c)
{
    return c->offset;
}

uint64_t cdc_csv_records(const cdc_csv *c)
{
    return c->records;
}
