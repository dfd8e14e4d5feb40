/* cli_cancel.c — see cli_cancel.h. */
#include "cli_cancel.h"

#include <stdio.h>
#include <string.h>

#include "host.h"
#include "log.h"

#define CHECK_EVERY_MS 1000

/* The answer, if it has come: 1 read, 0 still on its way. */
static int read_answer(cd_cli_cancel *c)
{
    if (!PQconsumeInput(c->conn)) {
        cd_warn("run %lld: checking for a cancel request: %s", (long long)c->run_id,
                PQerrorMessage(c->conn));
        c->in_flight = 0; /* the connection is broken; nothing more will come */
        return 1;
    }
    if (PQisBusy(c->conn))
        return 0;
    PGresult *res;
    while ((res = PQgetResult(c->conn)) != NULL) {
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
            strcmp(PQgetvalue(res, 0, 0), "t") == 0)
            c->requested = 1;
        else if (PQresultStatus(res) != PGRES_TUPLES_OK)
            cd_warn("run %lld: checking for a cancel request: %s", (long long)c->run_id,
                    PQresultErrorMessage(res));
        PQclear(res);
    }
    c->in_flight = 0;
    return 1;
}

int cd_cli_cancel_poll(void *arg)
{
    cd_cli_cancel *c = arg;
    if (c->signal && *c->signal)
        return 1;
    if (c->in_flight)
        read_answer(c);
    int64_t now = cd_now_ms();
    if (!c->requested && !c->in_flight && now - c->last_check_ms >= CHECK_EVERY_MS &&
        PQstatus(c->conn) == CONNECTION_OK) {
        c->last_check_ms = now;
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)c->run_id);
        const char *p[] = {id};
        if (PQsendQueryParams(c->conn,
                              "SELECT cancel_requested_at IS NOT NULL"
                              " FROM sp_v2_connector_runs WHERE id = $1",
                              1, NULL, p, NULL, NULL, 0))
            c->in_flight = 1;
    }
    return c->requested;
}

void cd_cli_cancel_finish(cd_cli_cancel *c)
{
    if (!c->in_flight)
        return;
    PGresult *res;
    while ((res = PQgetResult(c->conn)) != NULL)
        PQclear(res);
    c->in_flight = 0;
}
