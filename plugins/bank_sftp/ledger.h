/*
 * ledger.h — the driver's use of the host's file ledger (ABI 1.1
 * file_lookup / file_record): one place that knows a remote file's
 * identity (path, size, mtime, sha256) and turns ledger trouble into log
 * lines, since a ledger write that fails must not hide the file's own
 * outcome.
 */
#ifndef BS_LEDGER_H
#define BS_LEDGER_H

#include <connectord/plugin.h>
#include <stdint.h>

typedef struct bs_ledger {
    const cd_host_api *host;
    cd_run *run;
} bs_ledger;

/* 1 if the host has the ledger entries (ABI >= 1.1). */
int bs_ledger_available(const cd_host_api *host);

/* What the ledger knows of a file; sha256 NULL before the download.
 * CD_OK with *state, or the host's error code. */
int bs_ledger_lookup(bs_ledger *l, const char *path, int64_t size, int64_t mtime,
                     const char *sha256, cd_file_state *state);
/* Records a status; failures are logged, the code returned. */
int bs_ledger_record(bs_ledger *l, const char *path, int64_t size, int64_t mtime,
                     const char *sha256, const char *status, int64_t rows, const char *reason);

#endif
