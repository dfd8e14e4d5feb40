/*
 * supervise.h — starting a runner child (posix_spawn of this same binary)
 * and watching it: a deadline (SIGTERM, then SIGKILL after a grace period),
 * and a reason in words when it ends abnormally ("driver crashed: SIGSEGV",
 * "timed out after 900 s").
 */
#ifndef CD_SUPERVISE_H
#define CD_SUPERVISE_H

#include <spawn.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

typedef struct cd_child {
    pid_t pid;
    int stderr_fd;      /* read end of the child's stderr, -1 if not captured */
    int64_t started_ms;
    int64_t term_sent_ms;
    /* Filled when it ended: */
    int exited, exit_code, signaled, signo;
    int timed_out, cancelled;
    int lost;           /* its zygote died, taking it along */
    char tail[1024];    /* last stderr line, forwarded lines are also echoed */
    char line[1023];    /* the stderr line being read, not ended yet */
    size_t line_len;
    uint64_t echoed;    /* stderr bytes echoed to ours */
    uint64_t unechoed;  /* read past CD_CHILD_ECHO_MAX, not echoed */
    struct cd_zygote *zygote; /* forked by this zygote (zygote.h), or NULL: our child */
    int channel_fd;     /* read end of the runner's channel (non-blocking), or -1 */
    cd_buf channel_in;  /* bytes read from it, not yet a whole message */
} cd_child;

/* Starts `self_exe -c config_path exec-run RUN_ID`. Its stderr is piped to
 * us when capture_stderr (and echoed to our stderr). 0 or -1 with *err. */
int cd_child_spawn(cd_child *child, const char *self_exe, const char *config_path,
                   int64_t run_id, int capture_stderr, char **err);

/* Like cd_child_spawn with the stderr pipe, for a worker: the runner gets
 * its run row (row_json) and a channel back to us instead of opening a
 * database connection of its own (runner_channel.h). */
int cd_child_spawn_channel(cd_child *child, const char *self_exe, const char *config_path,
                           int64_t run_id, const char *row_json, char **err);
/* The same, forked by a zygote (zygote.h) instead of exec'd by us. The
 * child is then the zygote's: cd_zygote_take_exit reports its end. */
int cd_child_spawn_zygote(cd_child *child, struct cd_zygote *zygote, const char *config_path,
                          int64_t run_id, const char *row_json, char **err);
/* Closes the channel and frees its buffer. */
void cd_child_close_channel(cd_child *child);

/* Waits for the child; after timeout_s (0: none) sends SIGTERM, then SIGKILL
 * grace_s later. cancelled (may be NULL), asked every few hundred ms, saying
 * non-zero does the same with cancelled set. Returns when the child was
 * reaped. */
void cd_child_wait(cd_child *child, int timeout_s, int grace_s, int (*cancelled)(void *arg),
                   void *arg);

/* The run's error message for an abnormal end, or NULL for exit status 0
 * (malloc'd). */
char *cd_child_failure_reason(const cd_child *child, int timeout_s);

/* A runner's stderr echoed to ours, at most: a driver (or a process it
 * left behind) that floods stderr must not hold the worker's loop in writes
 * to a journal that cannot keep up. The rest is read and counted. */
#define CD_CHILD_ECHO_MAX ((uint64_t)1 << 20)

/* The most one cd_child_drain reads: a default pipe's capacity. */
#define CD_CHILD_READ_MAX 65536

/* Non-blocking pieces, for a dispatcher that watches many children: */
/* Reads what is available on the child's stderr pipe (echoing it), never
 * blocking: 1 read something, 0 nothing there now, -1 the pipe is closed. */
int cd_child_drain(cd_child *child);
/* Once the child is gone: reads what it left in the pipe (a pipe's worth at
 * most), then closes it, without waiting for processes that still hold the
 * other end and may write forever. */
void cd_child_drain_rest(cd_child *child);
/* Signals the child's process group and the child itself. */
void cd_child_signal(cd_child *child, int sig);
/* After a runner ended other than with exit 0, kills what is left of its
 * process group. Call it before the runner is reaped. */
void cd_child_kill_leftovers(pid_t pid, int exited, int exit_code);
/* Reaps child when it has ended (1, status set, leftovers of an unclean end
 * killed first), 0 while it runs, -1 when it is not ours to wait for. */
int cd_child_try_reap(cd_child *child);
/* Records a waitpid() status in the child. */
void cd_child_set_status(cd_child *child, int status);

/* environ without our own variables (the parent pid, the channel fds),
 * plus extra1 and extra2 (either may be NULL), for a child we start. The
 * strings are environ's own and the extras, which the caller keeps alive;
 * free() the array. */
char **cd_child_environment(char *extra1, char *extra2);

/* Initializes attr for a child of ours: no blocked signals and default
 * handlers (the worker blocks the ones its signalfd reads, and a child
 * would inherit that), in a process group of its own when own_group, so
 * that a kill of the group reaches whatever it starts. Destroy attr with
 * posix_spawnattr_destroy. */
void cd_spawnattr_init_clean(posix_spawnattr_t *attr, int own_group);

/* "SIGSEGV" for 11, etc. */
const char *cd_signal_name(int signo);

#endif
