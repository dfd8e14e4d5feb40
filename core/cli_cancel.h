/*
 * cli_cancel.h — a cancel asked for through the API (or `connectord
 * cancel`) reaching a run that `connectord run` started in the foreground.
 * No worker owns such a run, so the CLI itself watches the run's
 * cancel_requested_at while it waits for its runner, without blocking
 * that wait on the database.
 */
#ifndef CD_CLI_CANCEL_H
#define CD_CLI_CANCEL_H

#include <libpq-fe.h>
#include <stdint.h>

typedef struct cd_cli_cancel {
    PGconn *conn;          /* idle otherwise while the runner runs */
    int64_t run_id;
    volatile int *signal;  /* set by SIGINT/SIGTERM */
    int64_t last_check_ms;
    int in_flight;         /* a check sent, its answer not read yet */
    int requested;         /* the database says a cancel was asked for */
} cd_cli_cancel;

/* For cd_child_wait: non-zero once a signal came or a cancel request is
 * recorded. Checks the database at most once a second, never waiting on it. */
int cd_cli_cancel_poll(void *arg);

/* Reads whatever answer is still on its way, so that conn can be used
 * again. */
void cd_cli_cancel_finish(cd_cli_cancel *c);

#endif
