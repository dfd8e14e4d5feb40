/* cursor_overlap.c — see cursor_overlap.h. */
#include "cursor_overlap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc.h"

enum {
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_NUMERIC = 1700,
    OID_DATE = 1082,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184
};

int pgd_overlap_type_ok(Oid type)
{
    switch (type) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_NUMERIC:
    case OID_DATE:
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
        return 1;
    default:
        return 0;
    }
}

/* One text value from a one-row query with two parameters, or NULL with
 * *why. The result's text is as the session prints it (ISO dates, the
 * connector's zone), which the next pull binds back as the cursor. */
static char *scalar(PGconn *c, const char *sql, const Oid types[2], const char *a, const char *b,
                    int *bad_value, char **why)
{
    *bad_value = 0;
    const char *params[2] = {a, b};
    PGresult *r = PQexecParams(c, sql, 2, types, params, NULL, NULL, 0);
    char *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        out = strdup(PQgetvalue(r, 0, 0));
        if (!out)
            *why = cdc_printf("out of memory");
    } else {
        /* class 22, data exception: the values, not the source, are at fault */
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        *bad_value = state && strncmp(state, "22", 2) == 0;
        const char *m = PQerrorMessage(c);
        size_t n = strcspn(m, "\n");
        *why = cdc_printf("%.*s", (int)n, *m ? m : "no value");
    }
    PQclear(r);
    return out;
}

char *pgd_cursor_lowered(PGconn *c, Oid type, const char *cursor, long long overlap,
                         int *bad_value, char **why)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", overlap);
    const Oid types[2] = {type, OID_INT8};
    const char *sql;
    switch (type) {
    case OID_DATE: /* whole days back, at least the overlap */
        sql = "SELECT ($1 - ((($2 + 86399) / 86400))::int)::text";
        break;
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
        sql = "SELECT ($1 - make_interval(secs => $2))::text";
        break;
    case OID_NUMERIC:
        sql = "SELECT ($1 - $2::numeric)::text";
        break;
    case OID_INT2: /* in bigint, then no lower than the type allows */
        sql = "SELECT greatest($1::int8 - $2, -32768)::text";
        break;
    case OID_INT4:
        sql = "SELECT greatest($1::int8 - $2, -2147483648)::text";
        break;
    default:
        sql = "SELECT ($1::numeric - $2)::int8::text";
        break;
    }
    return scalar(c, sql, types, cursor, n, bad_value, why);
}

char *pgd_cursor_greatest(PGconn *c, Oid type, const char *a, const char *b, int *bad_value,
                          char **why)
{
    const Oid types[2] = {type, type};
    return scalar(c, "SELECT greatest($1, $2)::text", types, a, b, bad_value, why);
}
