/*
 * sink.h — the record sink: loads a run's records into its target table
 * idempotently and all-or-nothing.
 *
 * Records arrive as rows of text values (the driver's records_begin /
 * record_emit). Each row is validated against the target table's columns
 * (required fields, integer paise or exact decimal rupees, dates, timestamps,
 * lengths, UTF-8, characters the database's encoding lacks); a bad row becomes a record error through the error
 * callback and the load goes on. Good rows stream with COPY on the data
 * connection; memory does not grow with the number of rows. Everything
 * happens in the caller's open transaction; the caller commits (together
 * with the run row) or rolls back: nothing of the run is visible before
 * the commit and nothing is left after a rollback.
 *
 * Two paths give the same result (sink.c explains them):
 *  - direct: the rows are COPYed straight into the target table, under a
 *    savepoint, and spooled to an unlinked temporary file. When every key
 *    is new and none repeats within the run (a day loaded for the first
 *    time), the COPY succeeds and that is the whole load: the cost of a
 *    plain COPY, which matters for files of millions of rows;
 *  - merge: when the target refuses the direct COPY (a key already there,
 *    a key repeated within the run, a deadlock with a concurrent load),
 *    the savepoint is rolled back, the spool and the rest of the rows go to
 *    a temporary staging table, and cd_sink_merge merges staging into the
 *    target: new keys inserted, changed rows updated, identical rows left
 *    alone and counted as unchanged, repeated keys counted as duplicates
 *    (the last one wins). Loading a day twice writes nothing the second
 *    time and reports every row as unchanged.
 * Concurrent loads into one table stay correct on both paths: the unique
 * index orders their inserts, and the merges take an advisory lock.
 */
#ifndef CD_SINK_H
#define CD_SINK_H

#include <libpq-fe.h>
#include <stdint.h>

#include <connectord/plugin.h>

typedef struct cd_sink cd_sink;

/* Called for each rejected row: row_ref as given by the driver, field the
 * column at fault (may be NULL), reason a short sentence. */
typedef void (*cd_sink_reject_fn)(void *userdata, const char *row_ref, const char *field,
                                  const char *reason);

typedef struct cd_sink_counts {
    int64_t received;   /* rows offered to cd_sink_row */
    int64_t rejected;   /* rows refused by validation */
    int64_t staged;     /* rows written to staging */
    int64_t duplicates; /* staged rows whose key repeated within the run (last one wins) */
    int64_t inserted;
    int64_t updated;
    int64_t unchanged;
    int direct;         /* 1: the rows were copied straight into the target (every key
                           new, none repeated); 0: they went through staging and a merge */
} cd_sink_counts;

/* Prepares a sink on conn, which must be idle inside a transaction
 * (BEGIN issued by the caller) with its TimeZone set to the connector's
 * zone. dataset is CD_DATASET_PG_TRANSACTION or CD_DATASET_BANK_STATEMENT.
 * run_id is stored with each loaded row. Returns NULL with *err on failure. */
cd_sink *cd_sink_open(PGconn *conn, cd_dataset dataset, int64_t run_id,
                      cd_sink_reject_fn on_reject, void *userdata, char **err);

/* Declares the column order of the rows to come and starts the COPY.
 * Unknown column names, duplicates, and a set lacking a required column
 * (or its rupee/paise twin) fail with *err naming them. May be called only
 * before the first row. */
int cd_sink_columns(cd_sink *sink, const char *const *names, size_t n, char **err);

/* Offers one row. Returns 0 when the row was staged, 1 when it was
 * rejected (on_reject was called), -1 on a database error (*err set; the
 * sink is then unusable and the transaction must be rolled back). */
int cd_sink_row(cd_sink *sink, const char *const *values, const size_t *lengths,
                const char *row_ref, char **err);

/* Ends the COPY and, when the load fell back to staging, merges staging
 * into the target (still uncommitted). Returns 0 and fills *counts, or -1
 * with *err. */
int cd_sink_merge(cd_sink *sink, cd_sink_counts *counts, char **err);

/* Counts so far (received, rejected, staged). */
void cd_sink_peek(const cd_sink *sink, cd_sink_counts *counts);

/* Frees the sink. Does not commit or roll back. */
void cd_sink_free(cd_sink *sink);

/* The name of the target table of a dataset, or NULL. */
const char *cd_sink_target_table(cd_dataset dataset);

#endif
