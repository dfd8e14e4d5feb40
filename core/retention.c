/* retention.c — see retention.h. */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>

#include "db.h"

static long prune_table(PGconn *conn, const char *sql, const char *what, const char *days,
                        const char *batch, int max_batches, int *more, char **err)
{
    long total = 0;
    for (int i = 0; i < max_batches; i++) {
        const char *p[] = {days, batch};
        PGresult *res = cd_db_exec(conn, what, PGRES_COMMAND_OK, sql, 2, p, err);
        if (!res)
            return -1;
        long n = atol(PQcmdTuples(res));
        PQclear(res);
        total += n;
        if (n < atol(batch))
            return total;
    }
    *more = 1; /* the last batch was full: older rows may be left */
    return total;
}

long cd_retention_prune(PGconn *conn, int days, int batch_size, int max_batches, int *more,
                        char **err)
{
    *more = 0;
    char d[16], b[16];
    snprintf(d, sizeof d, "%d", days);
    snprintf(b, sizeof b, "%d", batch_size);
    long logs = prune_table(conn,
                            "DELETE FROM sp_v2_connector_run_logs WHERE id IN ("
                            " SELECT id FROM sp_v2_connector_run_logs"
                            " WHERE logged_at < now() - make_interval(days => $1::int)"
                            " LIMIT $2::int)",
                            "pruning run logs", d, b, max_batches, more, err);
    if (logs < 0)
        return -1;
    long errors = prune_table(conn,
                              "DELETE FROM sp_v2_connector_record_errors WHERE id IN ("
                              " SELECT id FROM sp_v2_connector_record_errors"
                              " WHERE created_at < now() - make_interval(days => $1::int)"
                              " LIMIT $2::int)",
                              "pruning record errors", d, b, max_batches, more, err);
    if (errors < 0)
        return -1;
    return logs + errors;
}
