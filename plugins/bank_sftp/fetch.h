/*
 * fetch.h — downloads a remote file into the connector's work directory,
 * resumably, hashing it on the way, and optionally hands the bytes to a
 * consumer (the file's reader) while the download goes on.
 *
 * The local copy is named after the remote path's hash and carries a small
 * ".meta" note of the remote size and mtime it belongs to. A download that
 * broke off leaves both behind; the next attempt hashes what it has, asks
 * the server only for the rest (from that offset), and so checks the
 * sha256 over the whole file. A remote file that changed since (other size
 * or mtime) is fetched again from the start.
 *
 * Streaming (a consumer given): a download thread reads the SFTP file (and
 * first the part a broken attempt left, from disk), hashes and writes each
 * chunk, and passes it through a small bounded queue to the calling
 * thread, which runs the consumer: download and parse overlap and memory
 * stays flat (BS_FETCH_QUEUE chunks of BS_FETCH_CHUNK bytes at most). The
 * download thread makes no host calls and touches the SFTP session only
 * until bs_fetch returns; cancellation reaches it through the caller.
 *
 * The sha256 is known only at the end, so whether a streamed file is a
 * duplicate of loaded content, or matches its checksum sidecar, is decided
 * by the caller before (bank_sftp.c: no loaded content has this size) or
 * after (a mismatch fails the whole run, whose load then rolls back).
 */
#ifndef BS_FETCH_H
#define BS_FETCH_H

#include <stdint.h>

#include "sftp.h"

#define BS_FETCH_CHUNK ((size_t)1 << 20)
#define BS_FETCH_QUEUE 4

/* Bytes of the file in order (from offset 0, a resumed prefix included).
 * Runs on the caller's thread. Nonzero stops the download with that code. */
typedef int (*bs_consume_fn)(void *ud, const char *data, size_t len);

typedef struct bs_fetch_opts {
    int want_md5;          /* also compute the MD5 (md5 checksum sidecars) */
    bs_consume_fn consume; /* NULL: download only */
    void *consume_ud;
} bs_fetch_opts;

typedef struct bs_fetched {
    char *local_path;    /* malloc'd; set even when the download failed */
    char sha256[65];
    char md5[33];        /* "" unless want_md5 */
    uint64_t size;
    uint64_t resumed_at; /* 0, or the offset the download resumed from */
    int stopped;         /* the consumer stopped it (its code was returned) */
} bs_fetched;

/* CD_OK with *out complete; the consumer's nonzero code (out->stopped);
 * or a cd_status with *why. */
int bs_fetch(bs_sftp *c, const char *work_dir, const char *remote_path, int64_t remote_size,
             int64_t remote_mtime, const bs_fetch_opts *opts, bs_fetched *out, char **why);
/* Removes the local copy and its note. */
void bs_fetch_discard(bs_fetched *f);
void bs_fetched_free(bs_fetched *f);

/* sha256 hex of a string (for names). out[65]. */
void bs_sha256_hex(const void *data, size_t len, char out[65]);

#endif
