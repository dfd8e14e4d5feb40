/*
 * validate_child.h — a driver's validate() callback, run in a child
 * process (`connectord validate-driver PATH`) so that driver code never
 * runs in the serving process. The child reads connection_config as JSON
 * on stdin and prints {"errors": [{"field", "message"}...]} on stdout.
 */
#ifndef CD_VALIDATE_CHILD_H
#define CD_VALIDATE_CHILD_H

#include <jansson.h>

/* The child side (the subcommand). */
int cd_validate_driver_main(const char *path);

/* Runs the child for the driver at driver_path with config (JSON text) and
 * appends its errors to errors, each field prefixed with prefix + ".".
 * Returns the number appended, or -1 with *err when the child could not
 * run, crashed or did not answer within timeout_ms. */
int cd_validate_driver_run(const char *self_exe, const char *driver_path, const char *config,
                           const char *prefix, int timeout_ms, json_t *errors, char **err);

#endif
