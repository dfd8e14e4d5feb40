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

#endif
