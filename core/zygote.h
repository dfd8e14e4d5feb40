/*
 * zygote.h — a small process that a worker starts once (posix_spawn of this
 * same binary, `connectord runner-zygote FD`) and that forks one runner per
 * run on request.
 *
 * Why: exec'ing connectord maps and relocates some forty shared libraries
 * (libpq alone brings Kerberos, LDAP and TLS): ~10 ms of machine time per
 * run, most of what an empty run costs once it needs no database
 * connection of its own. A fork of a process that has already done that
 * costs well under a millisecond. Each run still gets its own process, in
 * its own process group, that dies with the worker, so a driver that
 * crashes, leaks or hangs takes down only its run.
 *
 * The zygote stays single-threaded and holds no connection, so the fork
 * copies nothing but a freshly started connectord. It reports each
 * runner's end to the worker and keeps the runner a zombie until the worker
 * has read that report: the pid cannot be reused while the worker may
 * still signal it. When the worker dies the zygote dies (PR_SET_PDEATHSIG),
 * and its runners with it; when the zygote dies the worker's runners from
 * it die too and their runs are settled as lost ("runner lost: ...").
 */
#ifndef CD_ZYGOTE_H
#define CD_ZYGOTE_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"

typedef struct cd_zygote cd_zygote;

/* Starts the zygote. NULL with *err when it cannot be started. */
cd_zygote *cd_zygote_start(const char *self_exe, char **err);
/* Closes our end: the zygote exits and any runner it still has is killed. */
void cd_zygote_stop(cd_zygote *z);

/* Forks `connectord -c config_path exec-run RUN_ID` in the zygote with
 * stderr_fd as its stderr and, when row_fd >= 0, row_fd and channel_fd as
 * its fds 3 and 4 (runner_channel.h). The fds stay ours. 0 with *pid, or -1
 * with *err (the zygote is then unusable: stop it and start another). */
int cd_zygote_spawn(cd_zygote *z, const char *config_path, int64_t run_id, int stderr_fd,
                    int row_fd, int channel_fd, pid_t *pid, char **err);

/* The fd to poll for end reports; -1 once the zygote is gone. */
int cd_zygote_fd(const cd_zygote *z);
/* Reads the end reports that arrived. 0, or -1 when the zygote is gone. */
int cd_zygote_read(cd_zygote *z);
/* 1 with *status (as waitpid's) when pid has ended, and lets the zygote reap
 * it; 0 while it runs; 2 when the zygote is gone, and with it the runner
 * (killed by its PR_SET_PDEATHSIG): *status then says SIGKILL. */
int cd_zygote_take_exit(cd_zygote *z, pid_t pid, int *status);
int cd_zygote_alive(const cd_zygote *z);

/* Executes a run in a forked runner with the configuration the zygote has
 * already read; returns the runner's exit code. */
typedef int (*cd_zygote_run_fn)(const cd_config *cfg, int64_t run_id);

/* The zygote process itself: `connectord runner-zygote FD`. The zygote
 * reads the configuration file once (again only when the file changes:
 * a reload renames a new snapshot into place) and each forked runner calls
 * run with it. When the file cannot be read, the runner calls entry,
 * connectord's main(), as for `exec-run`, which reports why. */
int cd_zygote_main(int argc, char **argv, int (*entry)(int, char **), cd_zygote_run_fn run);

#endif
