/*
 * csv.h — a push parser for CSV and delimited TXT: bytes in, rows out, in
 * any chunk sizes, so a file of any length is read in constant memory (one
 * record at a time, bounded by max_record).
 *
 * Any single-byte delimiter; an optional quote byte (doubled inside a
 * quoted field to stand for itself); quoted fields may hold delimiters and
 * line breaks; LF, CRLF and lone CR end records; a UTF-8 BOM at the very
 * start is dropped; a quote inside an unquoted field is kept literally (as
 * spreadsheet exports write them). An unterminated quote at the end of the
 * input and a record longer than max_record are reported through on_bad
 * with the line it started on.
 */
#ifndef BS_CSV_H
#define BS_CSV_H

#include <stddef.h>

#include "row.h"

typedef struct bs_csv bs_csv;

/* quote 0: no quoting. NULL on ENOMEM. */
bs_csv *bs_csv_new(char delimiter, char quote, size_t max_record, bs_row_fn on_row,
                   bs_bad_fn on_bad, void *ud);
/* Feeds bytes. Returns 0, or the first nonzero callback result (stop). */
int bs_csv_feed(bs_csv *c, const char *data, size_t len);
/* Ends the input: the last record without a line break is delivered. */
int bs_csv_finish(bs_csv *c);
void bs_csv_free(bs_csv *c);

#endif
