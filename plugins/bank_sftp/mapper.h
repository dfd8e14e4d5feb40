/*
 * mapper.h — rows of a bank file to sp_v2_bank_statements records: finds
 * the header row, checks it against the format's columns (a mismatch fails
 * the whole file, naming the columns expected and found), holds back the
 * footer rows to skip, converts amounts to paise and dates to ISO, and
 * emits each row or reports it as a record error with file, line and
 * reason.
 */
#ifndef BS_MAPPER_H
#define BS_MAPPER_H

#include <connectord/plugin.h>
#include <stdint.h>

#include "format.h"
#include "row.h"

/* Reader callback results besides 0 and the cd_status codes. */
#define BS_STOP_HEADER 100

typedef struct bs_mapper bs_mapper;

/* file_name goes into row references and source_file, batch_id into
 * batch_id. NULL on ENOMEM. */
bs_mapper *bs_mapper_new(const bs_format *f, const cd_host_api *host, cd_run *run,
                         const char *file_name, const char *bank_name, const char *batch_id);
/* bs_row_fn / bs_bad_fn for the readers (ud = the mapper). */
int bs_mapper_row(void *ud, const bs_row *row);
int bs_mapper_bad(void *ud, long line, const char *reason, const char *raw, size_t raw_len);
/* End of the file: drops the held-back footer rows. Returns CD_OK, or
 * BS_STOP_HEADER when no header row was found. */
int bs_mapper_finish(bs_mapper *m);
/* The header problem ("header does not match ...") after BS_STOP_HEADER. */
const char *bs_mapper_error(const bs_mapper *m);
int64_t bs_mapper_emitted(const bs_mapper *m);
/* A line about the file for the run's log: "<file name>: <msg>". */
void bs_mapper_log(const bs_mapper *m, int level, const char *msg);
int64_t bs_mapper_errors(const bs_mapper *m);
void bs_mapper_free(bs_mapper *m);

/* The record columns the mapper emits (for records_begin). */
extern const char *const bs_record_columns[];
extern const size_t bs_record_ncolumns;

#endif
