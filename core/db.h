/*
 * db.h — libpq helpers: connecting, and turning failures into messages
 * with context.
 */
#ifndef CD_DB_H
#define CD_DB_H

#include <libpq-fe.h>
#include <stdint.h>

/* Connects to url (URI or conninfo) with application_name set. Returns NULL
 * with *err ("cannot connect to PostgreSQL: ...", password never included). */
PGconn *cd_db_connect(const char *url, const char *application_name, char **err);

/* Runs a parameterized command expecting `expect` (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK). On success returns the result (caller PQclear's); on
 * failure returns NULL and sets *err to "<what>: <server message>". */
PGresult *cd_db_exec(PGconn *conn, const char *what, ExecStatusType expect, const char *sql,
                     int nparams, const char *const *params, char **err);

/* Same, for commands whose result is not needed (a SELECT is accepted too).
 * 0 or -1. */
int cd_db_command(PGconn *conn, const char *what, const char *sql, int nparams,
                  const char *const *params, char **err);

/* A malloc'd "<what>: <message>" from conn's last error (trimmed). */
char *cd_db_error(PGconn *conn, const char *what);
char *cd_db_result_error(const PGresult *res, const char *what);

/* Removes "DETAIL:  Failing row contains (...)" lines from a server
 * message, in place: PostgreSQL prints the whole row there, and a
 * connector's row holds its configuration, plaintext secrets included.
 * cd_db_result_error does this to every message it returns. */
void cd_db_drop_failing_row(char *message);

#endif
