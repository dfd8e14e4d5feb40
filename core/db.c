/* db.c — see db.h. */
#include "db.h"

#include <stdlib.h>
#include <string.h>

#include "secrets.h"
#include "util.h"

static char *trimmed(const char *msg)
{
    size_t n = msg ? strlen(msg) : 0;
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    return cd_xstrndup(msg ? msg : "", n);
}

char *cd_db_error(PGconn *conn, const char *what)
{
    char *m = trimmed(conn ? PQerrorMessage(conn) : "no connection");
    char *out = cd_sprintf("%s: %s", what, *m ? m : "unknown libpq error");
    free(m);
    return out;
}

void cd_db_drop_failing_row(char *m)
{
    char *d;
    while ((d = strstr(m, "DETAIL:  Failing row contains")) != NULL) {
        char *end = strchr(d, '\n'); /* the next line, if any, stays */
        char *start = d > m && d[-1] == '\n' ? d - 1 : d;
        if (end)
            memmove(start, end, strlen(end) + 1);
        else
            *start = '\0';
    }
}

char *cd_db_result_error(const PGresult *res, const char *what)
{
    char *m = trimmed(res ? PQresultErrorMessage(res) : "no result (out of memory?)");
    cd_db_drop_failing_row(m);
    char *out = cd_sprintf("%s: %s", what, *m ? m : "unexpected result status");
    free(m);
    return out;
}

PGconn *cd_db_connect(const char *url, const char *application_name, char **err)
{
    if (!url || !*url) {
        *err = cd_xstrdup("cannot connect to PostgreSQL: database.url is not set "
                          "(configuration file or CONNECTORD_DATABASE_URL)");
        return NULL;
    }
    /* expand_dbname lets url be a URI or a conninfo string; the later
     * application_name wins over one inside url only if url has none. */
    const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *vals[] = {url, application_name, "10", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        *err = cd_xstrdup("cannot connect to PostgreSQL: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        /* A connection failure names host and user only, but a URI that
         * libpq cannot parse is quoted whole, password and all: the URL
         * and its password are masked before the message goes anywhere. */
        char *raw = cd_db_error(conn, "cannot connect to PostgreSQL");
        PQfinish(conn);
        cd_secret_set *hide = cd_secret_set_new();
        cd_secret_set_add(hide, url, strlen(url));
        PQconninfoOption *opts = PQconninfoParse(url, NULL);
        for (PQconninfoOption *o = opts; o && o->keyword; o++)
            if (strcmp(o->keyword, "password") == 0 && o->val)
                cd_secret_set_add(hide, o->val, strlen(o->val));
        PQconninfoFree(opts);
        *err = cd_secret_scrub(hide, raw);
        cd_secret_set_free(hide);
        free(raw);
        return NULL;
    }
    /* Every query of connectord is written for READ COMMITTED: the claim's
     * SKIP LOCKED, and the sink's merge, which retries a key a concurrent
     * load inserted and must see it then. A database or role whose default
     * is REPEATABLE READ or SERIALIZABLE failed one of two loads of
     * overlapping keys with a duplicate key. */
    PGresult *res = PQexec(conn, "SET default_transaction_isolation = 'read committed'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *err = cd_db_result_error(res, "setting the session's transaction isolation");
        PQclear(res);
        PQfinish(conn);
        return NULL;
    }
    PQclear(res);
    return conn;
}

PGresult *cd_db_exec(PGconn *conn, const char *what, ExecStatusType expect, const char *sql,
                     int nparams, const char *const *params, char **err)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!res) {
        *err = cd_db_error(conn, what);
        return NULL;
    }
    if (PQresultStatus(res) != expect) {
        *err = cd_db_result_error(res, what);
        PQclear(res);
        return NULL;
    }
    return res;
}

int cd_db_command(PGconn *conn, const char *what, const char *sql, int nparams,
                  const char *const *params, char **err)
{
    PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!res) {
        *err = cd_db_error(conn, what);
        return -1;
    }
    /* A SELECT used as a command (pg_advisory_xact_lock) returns tuples. */
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        *err = cd_db_result_error(res, what);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}
