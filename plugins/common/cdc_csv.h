/*
 * cdc_csv.h — a small streaming RFC 4180 reader for the built-in drivers.
 *
 * Bytes go in as they arrive (a curl write callback, an SFTP read loop) in
 * pieces of any size; every complete record is handed to a callback with
 * its fields, so a file of a million lines never sits in memory — only the
 * record being read does, and that is capped (max_record).
 *
 * What it accepts: fields separated by one delimiter byte, records ended by
 * LF or CRLF (a lone CR too), fields in double quotes that may hold the
 * delimiter, newlines and "" for a quote; a UTF-8 byte-order mark at the
 * very start is skipped; blank lines are skipped. A quote inside an
 * unquoted field is kept as a literal (banks do write 12" pipe), but
 * anything other than a delimiter or a line end after a closing quote is
 * an error, as is end of input inside quotes. No transcoding: fields are
 * the bytes of the file.
 */
#ifndef CONNECTORD_DRIVER_CSV_H
#define CONNECTORD_DRIVER_CSV_H

#include <stddef.h>
#include <stdint.h>

typedef struct cdc_csv cdc_csv;

/* One record: nfields fields, field i is fields[i] (lens[i] bytes, also
 * NUL-terminated) valid only during the call. line is the 1-based line
 * on which the record starts. Return 0 to go on, anything else to stop:
 * cdc_csv_feed / cdc_csv_finish then return that value. */
typedef int (*cdc_csv_row_fn)(void *userdata, const char *const *fields, const size_t *lens,
                              size_t nfields, uint64_t line);

/* delim: ',' ';' '|' '\t' ...; max_record: largest record in bytes (0:
 * 1 MiB). NULL on ENOMEM or a delimiter that is '"', CR or LF. */
cdc_csv *cdc_csv_new(char delim, size_t max_record, cdc_csv_row_fn fn, void *userdata);
void cdc_csv_free(cdc_csv *c);

/* Feeds the next bytes. Returns 0, the callback's non-zero value, or -1 on
 * a format error (cdc_csv_error says what and where). After a non-zero
 * return the reader is stopped: further calls return the same value. */
int cdc_csv_feed(cdc_csv *c, const char *data, size_t len);
/* End of input: delivers a last record without a line end. Same returns. */
int cdc_csv_finish(cdc_csv *c);

/* The reason of the last -1, with the line its record starts on and the
 * byte offset reached: "line 7 (byte 311): end of input inside a quoted field". */
const char *cdc_csv_error(const cdc_csv *c);
/* Bytes consumed so far (including a skipped BOM). */
uint64_t cdc_csv_offset(const cdc_csv *c);
/* Records delivered so far. */
uint64_t cdc_csv_records(const cdc_csv *c);

#endif /* CONNECTORD_DRIVER_CSV_H */
