/*
 * sftp.h — one SFTP session to a bank: a bounded TCP connect, the SSH
 * handshake, the server key checked against the pinned SHA256 fingerprint
 * or a known_hosts file BEFORE any credential is sent, authentication, and
 * the few SFTP operations the driver needs. Every blocking libssh2 call is
 * bounded by the session timeout (the operator's request timeout, cut to
 * what is left of the run); loops check host->is_cancelled.
 */
#ifndef BS_SFTP_H
#define BS_SFTP_H

#include <connectord/plugin.h>
#include <jansson.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <stdint.h>

typedef struct bs_sftp {
    const cd_host_api *host;
    cd_run *run;
    int fd;
    LIBSSH2_SESSION *s;
    LIBSSH2_SFTP *sftp;
    char fingerprint[64]; /* "SHA256:..." of the server key, once known */
    char *error;          /* why bs_sftp_open failed (also the run's message) */
} bs_sftp;

/* Connects, verifies the host key, authenticates and starts SFTP, using
 * the connection fields of a connection_config. With steps, reports each
 * step through host->test_step (connect, handshake, host key, auth, sftp).
 * Returns a cd_status; on failure the message is set. */
int bs_sftp_open(bs_sftp *c, const cd_host_api *host, cd_run *run, const json_t *config,
                 int steps);
void bs_sftp_close(bs_sftp *c);
/* Cuts the connection at once (shutdown of the socket), so that a thread
 * blocked in a read the server never answers returns now, not after the
 * request timeout. The session is unusable afterwards: for a run that is
 * ending (cancelled). Safe to call from any thread. */
void bs_sftp_abort(bs_sftp *c);

/* libssh2's last error text. */
const char *bs_sftp_error(const bs_sftp *c);
/* "no such file", "permission denied", ... for the last SFTP status. */
const char *bs_sftp_status_text(const bs_sftp *c);

typedef struct bs_entry {
    char *name;
    int64_t size;  /* -1 unknown */
    int64_t mtime; /* -1 unknown */
    int is_file;
} bs_entry;

/* Lists dir. CD_OK with *out (free with bs_entries_free), or a cd_status
 * with *why (malloc'd). */
int bs_sftp_list(bs_sftp *c, const char *dir, bs_entry **out, size_t *n, char **why);
void bs_entries_free(bs_entry *e, size_t n);

/* Size and mtime of path. CD_OK, 1 when it does not exist, or a cd_status
 * with *why. */
int bs_sftp_stat(bs_sftp *c, const char *path, int64_t *size, int64_t *mtime, char **why);

/* Reads a small file (a checksum sidecar) of at most max bytes. */
int bs_sftp_read_small(bs_sftp *c, const char *path, size_t max, char **out, size_t *n,
                       char **why);

/* Called with each chunk read; nonzero stops the transfer with that code. */
typedef int (*bs_chunk_fn)(void *ud, const char *data, size_t len);

/* Streams path from byte offset to the end into on_chunk. *got counts the
 * bytes delivered. CD_OK, CD_CANCELLED, or CD_ERR_TRANSIENT with *why for a
 * transfer that broke off (the caller resumes from offset + *got). */
int bs_sftp_download(bs_sftp *c, const char *path, uint64_t offset, bs_chunk_fn on_chunk,
                     void *ud, uint64_t *got, char **why);

/* Opens path for reading from byte offset (libssh2_sftp_read it, then
 * libssh2_sftp_close). Makes no host calls, so a download thread may use
 * it while nothing else touches the session. CD_OK or a code with *why. */
int bs_sftp_open_read(bs_sftp *c, const char *path, uint64_t offset, LIBSSH2_SFTP_HANDLE **h,
                      char **why);

int bs_sftp_rename(bs_sftp *c, const char *from, const char *to, char **why);
int bs_sftp_unlink(bs_sftp *c, const char *path, char **why);

#endif
