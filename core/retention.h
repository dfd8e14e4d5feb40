/*
 * retention.h — pruning run logs and record errors older than
 * retention.days (default 90), in small batches so that no statement holds
 * locks for long. Run rows themselves are kept: they are the audit trail.
 */
#ifndef CD_RETENTION_H
#define CD_RETENTION_H

#include <libpq-fe.h>

/* Deletes at most max_batches batches of batch_size rows from each table.
 * Returns the number of rows deleted, or -1 with *err; *more is set when a
 * table's last batch was full, so that rows past retention may be left and
 * the caller should come back soon rather than in an hour. */
long cd_retention_prune(PGconn *conn, int days, int batch_size, int max_batches, int *more,
                        char **err);

#endif
