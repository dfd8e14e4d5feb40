/*
 * runner_channel.h — what a runner started by a worker tells that worker
 * through a pipe, so that a run which loads nothing needs no database
 * connection of its own. A fresh PostgreSQL backend costs more than
 * everything else an empty run does (fork, authentication, catalog cache
 * warm-up: ~20 ms of machine time against ~3 ms for the same statements on
 * the worker's warm connection).
 *
 * The worker hands the runner its run row (the JSON of cd_run_row_to_json)
 * in a memory file on CD_CHANNEL_ROW_FD, and reads CD_CHANNEL_FD: one JSON
 * object per line,
 *   {"log": {"level": 6, "attempt": 1, "message": "..."}}
 *   {"verdict": {"op": "finalize", ...}}   or {"op": "requeue", ...}
 * The worker stores log lines as they come and applies the verdict when the
 * runner has exited cleanly. A run that loaded records still commits them
 * together with its final status on its own data connection and sends no
 * verdict: the records and the run row stay one transaction.
 */
#ifndef CD_RUNNER_CHANNEL_H
#define CD_RUNNER_CHANNEL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "runs.h"
#include "util.h"

#define CD_CHANNEL_ROW_FD 3
#define CD_CHANNEL_FD 4
/* Set by the worker in the runner's environment: "3,4". */
#define CD_CHANNEL_ENV "CONNECTORD_RUNNER_FDS"

/* --- runner side --- */

/* 0, or -1 when the worker is gone (the pipe is closed). */
int cd_channel_send_log(int fd, int level, uint32_t attempt, const char *message);
/* Takes a reference to verdict. 0 or -1. */
int cd_channel_send_verdict(int fd, json_t *verdict);

/* Reads the run row the worker wrote to fd (from offset 0) and closes fd.
 * 0 or -1 with *err. */
int cd_channel_read_row(int fd, cd_run_row *row, char **err);

/* --- worker side --- */

/* The run row as the runner reads it (malloc'd; NULL only on a string
 * that is not UTF-8, which PostgreSQL never returns). */
char *cd_channel_row_json(const cd_run_row *row);
/* The longest message a runner may send (a verdict with every detail at
 * its cap is far below it): the worker's buffer for a runner never grows
 * past it, whatever a driver writes to the channel's descriptor. */
#define CD_CHANNEL_MAX_MESSAGE ((size_t)32 << 20)

/* Appends what can be read from the non-blocking fd to in, stopping once in
 * holds CD_CHANNEL_MAX_MESSAGE bytes. Returns 1 while the pipe is open, 0
 * at end of file or error (the caller closes fd), 2 when in is full: take
 * the messages out (cd_channel_next); if it is still full, the runner sent
 * a message longer than the limit. */
int cd_channel_fill(int fd, cd_buf *in);
/* The next complete message in in, or NULL. A line that is not a JSON
 * object is skipped (reported as a warning). */
json_t *cd_channel_next(cd_buf *in);

/* Stores the "log" objects of {"log": ...} messages (a JSON array, in
 * arrival order; each given its "run_id" by the caller) on conn, in one
 * statement whatever the number of runs. 0 or -1 with *err. */
int cd_channel_store_logs(PGconn *conn, json_t *logs, char **err);
/* The outcome (cd_run_outcome_json) of a "finalize" verdict for run_id,
 * ready for cd_runs_finalize_many; NULL with *err for a verdict that is not
 * a well-formed finalize. */
json_t *cd_channel_finalize_outcome(int64_t run_id, const json_t *verdict, char **err);
/* Applies a verdict for run_id: 1 applied, 0 the run was no longer RUNNING
 * in that attempt, -1 error (*err). */
int cd_channel_apply_verdict(PGconn *conn, int64_t run_id, const json_t *verdict, char **err);

#endif
