/*
 * runner.h — `connectord exec-run RUN_ID`: the child process that runs one
 * run of one connector. It loads the one driver the connector names,
 * resolves the connector's secrets, calls the driver, streams its records
 * through the sink and finalizes the run row in the same transaction as the
 * records, so the run is SUCCESS exactly when its rows are committed.
 */
#ifndef CD_RUNNER_H
#define CD_RUNNER_H

#include <stdint.h>

#include "config.h"

/* Exit codes of exec-run. */
enum {
    CD_RUNNER_FINALIZED = 0,    /* the run row is final (whatever its status) */
    CD_RUNNER_NOT_FINALIZED = 3 /* the parent must finalize it from what it saw */
};

int cd_exec_run(const cd_config *cfg, int64_t run_id);

#endif
