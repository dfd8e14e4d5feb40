/*
 * csv.h — a push parser for CSV and delimited TXT: bytes in, rows out, in
 * any chunk sizes, so a file of any length is read in constant memory (one
 * record at a time, bounded by max_record).
 *
 * Any single-byte delimiter; an optional quote byte (doubled inside a
 * quoted field to stand for itself); quoted fields may hold delimiters and
 * line breaks; LF, CRLF and lone CR end records; a UTF-8 BOM at the very
 * start is dropped; a quote inside an unquoted field is kept literally (as
 * spreadsheet exports write them), and so is text after a field's closing
 * quote on the same line ("abc"def). An unterminated quote at the end of
 * the input and a record longer than max_record are reported through
 * on_bad with the line it started on.
 *
 * A quote left open takes the lines after it into its field. So a record
 * with a quoted field over a line break is refused when text follows that
 * field's closing quote, when the input ends inside it, when it grows over
 * max_record, or when on_row returns BS_ROW_REREAD for it (row.h): it is
 * reported, and the lines after its first quoted line break are read again
 * as records. Those bytes are kept until the record ends (up to twice
 * max_record; a longer record is only reported).
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
