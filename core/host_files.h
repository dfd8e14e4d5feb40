/*
 * host_files.h — the host side of the ABI 1.1 file entries: the file ledger
 * (sp_v2_connector_files, schema/005_file_ledger.sql) and a work directory
 * per connector.
 *
 * Which connection writes what is the point of this module: LOADED rows go
 * on the run's data connection, inside the load transaction, so they are
 * committed with the records and vanish with them when the run fails; every
 * other status goes on the autocommit control connection at once, so ops
 * see why a file was skipped or failed even when the run rolled back.
 * While the driver runs, the data connection is busy with the sink's COPY:
 * LOADED rows wait in memory until cd_host_files_flush, and lookups read
 * the control connection plus those pending rows.
 */
#ifndef CD_HOST_FILES_H
#define CD_HOST_FILES_H

#include "config.h"
#include "host.h"

/* Creates <runner.work_dir or <prefix>/var/lib/connectord/work>/<connector
 * id>, mode 0700, and stores it in run->work_dir. On failure logs why and
 * leaves run->work_dir NULL (work_dir() then returns NULL and a driver that
 * needs it fails with that reason). 0 or -1. */
int cd_host_files_setup(cd_run *run, const cd_config *cfg);

/* Writes the files the driver recorded LOADED on the data connection, in
 * the load's transaction: called after the sink's merge (its COPY is over)
 * and before the run row is finalized and committed. 0, or -1 with *err. */
int cd_host_files_flush(cd_run *run, char **err);

/* Frees what cd_host_files_setup and file_record keep in run. */
void cd_host_files_release(cd_run *run);

/* The table entries (see plugin.h). */
int cd_host_file_lookup(cd_run *run, const cd_file_info *file, cd_file_state *state);
int cd_host_file_record(cd_run *run, const cd_file_info *file, const char *status, int64_t rows,
                        const char *reason);
const char *cd_host_work_dir(cd_run *run);
int cd_host_file_size_loaded(cd_run *run, const cd_file_info *file, int *possible);

#endif
