/*
 * dispatcher.h — a worker's runs: claiming QUEUED runs (FOR UPDATE SKIP
 * LOCKED, at most workers.max_concurrent_runs at once, never two RUNNING
 * runs of one connector), one runner child per run, deadlines (SIGTERM,
 * SIGKILL after runner.kill_grace_seconds), cancellation, leases renewed by
 * heartbeat, and rescue of runs whose worker died.
 */
#ifndef CD_DISPATCHER_H
#define CD_DISPATCHER_H

#include <libpq-fe.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct cd_dispatcher cd_dispatcher;

cd_dispatcher *cd_dispatcher_new(const cd_config *cfg, const char *self_exe,
                                 const char *config_path, const char *worker_id);
void cd_dispatcher_free(cd_dispatcher *d);

/* Claims runs for all free capacity in one round trip and starts them.
 * Returns how many it started, or -1 with *err. */
int cd_dispatcher_claim(cd_dispatcher *d, PGconn *conn, char **err);

/* The children's stderr pipes and channels, to poll. Returns how many were
 * written. */
size_t cd_dispatcher_pollfds(cd_dispatcher *d, struct pollfd *fds, size_t max);
/* Reads what the children wrote: their log lines wait for the end of the
 * round (cd_dispatcher_reap). */
void cd_dispatcher_readable(cd_dispatcher *d, const struct pollfd *fds, size_t n);

/* Reaps ended children and settles their runs; enforces deadlines and kill
 * escalation. Ends the round: the log lines read and the runs ended in it
 * are stored and finalized together, one statement each. conn may be NULL
 * or broken: a run that cannot be settled then keeps its slot (and its
 * lease, renewed by the heartbeat) until a later call with a working
 * connection. Returns how many slots became free. */
int cd_dispatcher_reap(cd_dispatcher *d, PGconn *conn);

/* Records runner_pid for the runs whose runner has lasted a second and is
 * not recorded yet; called about once a second. 0 or -1 with *err. */
int cd_dispatcher_record_pids(cd_dispatcher *d, PGconn *conn, char **err);

/* Renews the lease of every run of this worker. 0 or -1 with *err. */
int cd_dispatcher_heartbeat(cd_dispatcher *d, PGconn *conn, char **err);

/* Retries or fails runs of any worker whose lease expired ("worker lost").
 * Returns the number rescued, or -1 with *err. */
int cd_dispatcher_rescue(cd_dispatcher *d, PGconn *conn, char **err);

/* At start-up: rescues RUNNING runs that earlier processes on this host
 * left behind (their pid is gone), without waiting for their leases. */
int cd_dispatcher_rescue_own(cd_dispatcher *d, PGconn *conn, char **err);

/* Signals the runners of runs whose cancellation was requested. */
int cd_dispatcher_check_cancels(cd_dispatcher *d, PGconn *conn, char **err);

/* Asks every runner to hand its run back (SIGINT); they are killed after
 * the grace period by cd_dispatcher_reap. */
void cd_dispatcher_hand_back_all(cd_dispatcher *d);

/* Applies a reloaded configuration (limits, timeouts, lease, retries) to
 * runs claimed from now on; running runs keep their settings. cfg must
 * stay valid until the next reconfigure or free. */
void cd_dispatcher_reconfigure(cd_dispatcher *d, const cd_config *cfg);

size_t cd_dispatcher_running(const cd_dispatcher *d);
/* Non-zero while log lines or outcomes of ended runs wait to be written
 * (the database connection was away at the end of their round). */
int cd_dispatcher_pending(const cd_dispatcher *d);
size_t cd_dispatcher_capacity(const cd_dispatcher *d);

/* Stops claiming (graceful shutdown). */
void cd_dispatcher_stop_claiming(cd_dispatcher *d);

#endif
