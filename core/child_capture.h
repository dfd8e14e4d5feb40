/*
 * child_capture.h — a short-lived helper child of ours that runs driver
 * code (the plugin probe, a driver's validate()): started in a process
 * group of its own with default signals, fed its input on stdin, its
 * stdout collected up to a bound. The deadline holds until the child has
 * exited, whatever it does with its pipes (a driver that closes stdout and
 * hangs is killed like one that hangs with it open), and the group is
 * killed afterwards, so nothing the driver started outlives the answer.
 */
#ifndef CD_CHILD_CAPTURE_H
#define CD_CHILD_CAPTURE_H

#include <stddef.h>

#include "util.h"

typedef struct cd_capture {
    cd_buf out;    /* its stdout, the first max_out bytes */
    int status;    /* its waitpid status, when it exited before the deadline */
    int timed_out; /* killed at the deadline */
} cd_capture;

/* Runs argv[0] with argv; input (may be NULL) is written to its stdin;
 * stderr goes to /dev/null when quiet_stderr, else stays ours. 0 with *c
 * filled (free it with cd_capture_free), or -1 with *err when the child
 * could not be started. */
int cd_capture_run(char *const argv[], const char *input, int quiet_stderr, int timeout_ms,
                   size_t max_out, cd_capture *c, char **err);

/* The last non-empty line of the output (drivers may print to stdout
 * before the answer), NUL-terminated inside c->out; "" when none. */
const char *cd_capture_last_line(cd_capture *c);

void cd_capture_free(cd_capture *c);

#endif
