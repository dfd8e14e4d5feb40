/*
 * fetch.h — downloads a remote file into the connector's work directory,
 * resumably, hashing it on the way.
 *
 * The local copy is named after the remote path's hash and carries a small
 * ".meta" note of the remote size and mtime it belongs to. A download that
 * broke off leaves both behind; the next attempt hashes what it has, asks
 * the server only for the rest (from that offset), and so checks the
 * sha256 over the whole file. A remote file that changed since (other size
 * or mtime) is fetched again from the start.
 *
 * Why not parse while downloading: the sha256 must be known before the
 * first row is emitted, or a renamed re-drop of a loaded file, or a file
 * failing its checksum, would already have rows in the load. Both steps
 * stream; memory stays flat either way.
 */
#ifndef BS_FETCH_H
#define BS_FETCH_H

#include <stdint.h>

#include "sftp.h"

typedef struct bs_fetched {
    char *local_path;    /* malloc'd */
    char sha256[65];
    char md5[33];
    uint64_t size;
    uint64_t resumed_at; /* 0, or the offset the download resumed from */
} bs_fetched;

/* CD_OK with *out, or a cd_status with *why. */
int bs_fetch(bs_sftp *c, const char *work_dir, const char *remote_path, int64_t remote_size,
             int64_t remote_mtime, bs_fetched *out, char **why);
/* Removes the local copy and its note. */
void bs_fetch_discard(bs_fetched *f);
void bs_fetched_free(bs_fetched *f);

/* sha256 hex of a string (for names). out[65]. */
void bs_sha256_hex(const void *data, size_t len, char out[65]);

#endif
