/*
 * reader.h — reads a local bank file in its format and hands its rows to
 * a mapper: CSV/TXT streamed through the CSV push parser (after iconv for
 * Windows-1252 / ISO-8859 files), XLSX through the streaming sheet reader.
 */
#ifndef BS_READER_H
#define BS_READER_H

#include "format.h"
#include "mapper.h"

/* Returns CD_OK, BS_STOP_HEADER (see bs_mapper_error), CD_CANCELLED,
 * CD_ERR_PERMANENT (the host took no more, or the file is unreadable:
 * *why), CD_ERR_TRANSIENT (local I/O: *why). */
int bs_read_file(const char *path, const bs_format *f, bs_mapper *m, char **why);

/* CSV/TXT pushed in chunks (a download in progress): bytes in, rows to
 * the mapper. new: NULL with *rc and *why on failure. feed is a
 * bs_consume_fn (fetch.h): 0, or the code that stops the reader. finish
 * ends the input: CD_OK, or the codes of bs_read_file. */
typedef struct bs_text_reader bs_text_reader;
bs_text_reader *bs_text_reader_new(const bs_format *f, bs_mapper *m, int *rc, char **why);
int bs_text_reader_feed(void *text_reader, const char *data, size_t len);
int bs_text_reader_finish(bs_text_reader *tr);
void bs_text_reader_free(bs_text_reader *tr);

#endif
