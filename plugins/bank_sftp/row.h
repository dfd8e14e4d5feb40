/*
 * row.h — one row of a bank file as the readers (CSV/TXT, XLSX) hand it on:
 * cell texts with lengths, valid until the callback returns.
 */
#ifndef BS_ROW_H
#define BS_ROW_H

#include <stddef.h>

typedef struct bs_row {
    size_t n;                     /* cells; 0 for a blank line */
    const char *const *v;         /* v[i] is v_len[i] bytes, NUL-terminated */
    const size_t *v_len;
    const unsigned char *numeric; /* XLSX number cells (1), or NULL for text files */
    long line;                    /* 1-based line (CSV: where the record starts) or sheet row */
    int date1904;                 /* XLSX: the workbook counts date serials from 1904 */
    /* CSV/TXT: a quoted field of this record runs over a line break, and
     * the reader can read the lines from this one again as records of
     * their own (on_row returns BS_ROW_REREAD, having reported this one);
     * 0 otherwise. */
    long reread_line;
} bs_row;

/* An on_row result: drop this record, read its lines from reread_line again. */
#define BS_ROW_REREAD 101

/* A row; return 0 to go on, anything else stops the reader with that code. */
typedef int (*bs_row_fn)(void *ud, const bs_row *row);
/* A row the reader itself could not read; same return convention. */
typedef int (*bs_bad_fn)(void *ud, long line, const char *reason, const char *raw, size_t raw_len);

#endif
