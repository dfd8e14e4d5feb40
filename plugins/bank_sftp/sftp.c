/* sftp.c — see sftp.h. */
#include "sftp.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cdc.h"
#include "cdc_resolve.h"

const char *bs_sftp_error(const bs_sftp *c)
{
    char *msg = NULL;
    if (c->s)
        libssh2_session_last_error(c->s, &msg, NULL, 0);
    return msg && *msg ? msg : "unknown libssh2 error";
}

/* Milliseconds a network step may take: the operator's connect timeout,
 * bounded by what is left of the run. 0 means no time left. */
static long step_budget_ms(const cd_host_api *hostapi, cd_run *run, uint32_t limit_s)
{
    long ms = limit_s ? (long)limit_s * 1000 : 30000;
    int64_t left = hostapi->remaining_ms(run);
    if (left >= 0) {
        int64_t b = left > 1000 ? left - 500 : left;
        if (b < ms)
            ms = (long)b;
    }
    return ms > 0 ? ms : 0;
}

/* Connects to host:port within timeout_ms (non-blocking connect + poll per
 * address). Returns the connected, blocking socket or -1 with *why set. */
static int tcp_connect(const cd_host_api *hostapi, const char *hostname, int port,
                       long timeout_ms, cd_run *run, char **why)
{
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (cdc_resolve(hostapi, run, hostname, service, timeout_ms, &res, why) != 0)
        return -1;
    /* The name's lookup and the connect share the one connect timeout. */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    timeout_ms -= (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (timeout_ms < 1)
        timeout_ms = 1;
    int fd = -1, last_err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            last_err = errno;
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            /* poll in slices so a cancel is noticed within 200 ms */
            long waited = 0;
            rc = -1;
            errno = ETIMEDOUT;
            while (waited < timeout_ms && !hostapi->is_cancelled(run)) {
                struct pollfd pfd = {fd, POLLOUT, 0};
                int slice = timeout_ms - waited < 200 ? (int)(timeout_ms - waited) : 200;
                int pr = poll(&pfd, 1, slice);
                if (pr > 0) {
                    int soerr = 0;
                    socklen_t sl = sizeof soerr;
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                    rc = soerr ? -1 : 0;
                    errno = soerr;
                    break;
                }
                if (pr < 0 && errno != EINTR)
                    break;
                waited += slice;
                errno = ETIMEDOUT;
            }
        }
        if (rc != 0) {
            last_err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        *why = cdc_printf("cannot connect to %s:%d: %s", hostname, port,
                          last_err == ETIMEDOUT ? "timed out" : strerror(last_err));
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        *why = cdc_printf("cannot set up the socket: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Standard base64 of n bytes without '=' padding, as OpenSSH prints key
 * fingerprints. out needs 4*ceil(n/3)+1 bytes. */
static void base64_nopad(const unsigned char *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tbl[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = tbl[v & 63];
    }
    out[o] = '\0';
}

/* Why bs_sftp_open failed: the run's message, and c->error for a caller
 * that must log it instead (after the commit the message is final). */
static void open_error(bs_sftp *c, const char *fmt, ...) CD_PRINTF(2, 3);
static void open_error(bs_sftp *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    c->host->set_message(c->run, "%s", msg ? msg : "out of memory");
    free(c->error);
    c->error = msg;
}

/* Checks the server key against known_hosts_file. CD_OK, or CD_ERR_CONFIG
 * with the message set; *notfound: the file has no key of this type for
 * the host (another type may still be there), as against a key of this
 * type that does not match. */
static int check_known_hosts(bs_sftp *c, const char *file,
                             const char *hostname, int port, int *notfound)
{
    *notfound = 0;
    size_t keylen = 0;
    int keytype = 0;
    const char *key = libssh2_session_hostkey(c->s, &keylen, &keytype);
    LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(c->s);
    if (!key || !kh) {
        open_error(c, "cannot read the server's host key: %s", bs_sftp_error(c));
        if (kh)
            libssh2_knownhost_free(kh);
        return CD_ERR_TRANSIENT;
    }
    if (libssh2_knownhost_readfile(kh, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
        open_error(c, "cannot read known_hosts_file %s: %s", file, bs_sftp_error(c));
        libssh2_knownhost_free(kh);
        return CD_ERR_CONFIG;
    }
    int typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW;
    switch (keytype) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: typemask |= LIBSSH2_KNOWNHOST_KEY_SSHRSA; break;
    case LIBSSH2_HOSTKEY_TYPE_DSS: typemask |= LIBSSH2_KNOWNHOST_KEY_SSHDSS; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: typemask |= LIBSSH2_KNOWNHOST_KEY_ECDSA_256; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: typemask |= LIBSSH2_KNOWNHOST_KEY_ECDSA_384; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: typemask |= LIBSSH2_KNOWNHOST_KEY_ECDSA_521; break;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: typemask |= LIBSSH2_KNOWNHOST_KEY_ED25519; break;
    default: typemask |= LIBSSH2_KNOWNHOST_KEY_UNKNOWN; break;
    }
    int r = libssh2_knownhost_checkp(kh, hostname, port, key, keylen, typemask, NULL);
    libssh2_knownhost_free(kh);
    if (r == LIBSSH2_KNOWNHOST_CHECK_MATCH)
        return CD_OK;
    *notfound = r == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND;
    open_error(c, "host key of %s:%d %s known_hosts_file %s", hostname, port,
                         r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH ? "does not match" : "is not in",
                         file);
    return CD_ERR_CONFIG;
}

void bs_sftp_close(bs_sftp *c)
{
    if (c->sftp)
        libssh2_sftp_shutdown(c->sftp);
    if (c->s) {
        libssh2_session_disconnect(c->s, "connectord done");
        libssh2_session_free(c->s);
    }
    if (c->fd >= 0)
        close(c->fd);
    c->sftp = NULL;
    c->s = NULL;
    c->fd = -1;
    free(c->error);
    c->error = NULL;
}

void bs_sftp_abort(bs_sftp *c)
{
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
}

const char *bs_sftp_status_text(const bs_sftp *c)
{
    unsigned long e = c->sftp ? libssh2_sftp_last_error(c->sftp) : 0;
    switch (e) {
    case LIBSSH2_FX_NO_SUCH_FILE: return "no such file or directory";
    case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
    case LIBSSH2_FX_FAILURE: return "failure";
    case LIBSSH2_FX_NO_SUCH_PATH: return "no such path";
    case LIBSSH2_FX_FILE_ALREADY_EXISTS: return "file already exists";
    default: return bs_sftp_error(c);
    }
}

#define STEP(name, ok, ...)                                \
    do {                                                   \
        if (steps)                                         \
            host->test_step(run, name, ok, __VA_ARGS__);   \
    } while (0)

/* OpenSSH's order of host key types: the fingerprint reported (and
 * checked) is then the one `ssh` shows and `ssh-keygen -lf
 * ssh_host_ed25519_key.pub` prints, and the entry `ssh` wrote to
 * known_hosts; libssh2's own order puts ECDSA first. Only types this
 * libssh2 has are named: dropping an unknown one, libssh2 1.10 copies
 * within its list with memcpy (overlapping ranges). */
static const char *const host_key_order[] = {"ssh-ed25519",        "ecdsa-sha2-nistp256",
                                             "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                                             "rsa-sha2-512",        "rsa-sha2-256",
                                             "ssh-rsa"};
#define N_HOST_KEY_TYPES (sizeof host_key_order / sizeof host_key_order[0])

/* only: offer that one type alone (a second try), or NULL for them all. */
static int prefer_openssh_host_keys(bs_sftp *c, const char *only)
{
    const char *const *order = only ? &only : host_key_order;
    size_t norder = only ? 1 : N_HOST_KEY_TYPES;
    const char **algs = NULL;
    int n = libssh2_session_supported_algs(c->s, LIBSSH2_METHOD_HOSTKEY, &algs);
    if (n <= 0)
        return 0;
    char pref[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < norder; i++)
        for (int k = 0; k < n; k++)
            if (algs[k] && strcmp(algs[k], order[i]) == 0 &&
                len + strlen(order[i]) + 2 < sizeof pref)
                len += (size_t)snprintf(pref + len, sizeof pref - len, "%s%s", len ? "," : "",
                                        order[i]);
    libssh2_free(c->s, algs);
    if (len && libssh2_session_method_pref(c->s, LIBSSH2_METHOD_HOSTKEY, pref) != 0) {
        c->host->log(c->run, CD_LOG_DEBUG, "host key preference not set: %s", bs_sftp_error(c));
        return 0;
    }
    return len > 0;
}

/* A refused credential is the configuration's to fix, never retried; a
 * connection that broke or stalled during authentication (a server
 * throttling logins drops them) is retried. */
static int auth_failure_code(int ar)
{
    switch (ar) {
    case LIBSSH2_ERROR_AUTHENTICATION_FAILED: /* also PUBLICKEY_UNRECOGNIZED */
    case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
    case LIBSSH2_ERROR_PASSWORD_EXPIRED:
    case LIBSSH2_ERROR_METHOD_NOT_SUPPORTED:
    case LIBSSH2_ERROR_FILE:
        return CD_ERR_CONFIG;
    default:
        return CD_ERR_TRANSIENT;
    }
}

/* libssh2's key type for a host key algorithm of host_key_order. */
static int key_type_of(const char *alg)
{
    if (strcmp(alg, "ssh-ed25519") == 0)
        return LIBSSH2_HOSTKEY_TYPE_ED25519;
    if (strcmp(alg, "ecdsa-sha2-nistp256") == 0)
        return LIBSSH2_HOSTKEY_TYPE_ECDSA_256;
    if (strcmp(alg, "ecdsa-sha2-nistp384") == 0)
        return LIBSSH2_HOSTKEY_TYPE_ECDSA_384;
    if (strcmp(alg, "ecdsa-sha2-nistp521") == 0)
        return LIBSSH2_HOSTKEY_TYPE_ECDSA_521;
    return LIBSSH2_HOSTKEY_TYPE_RSA;
}

/* Closes the SSH session and its connection, to try again. */
static void session_end(bs_sftp *c)
{
    if (c->s) {
        libssh2_session_disconnect(c->s, "connectord: another host key type");
        libssh2_session_free(c->s);
        c->s = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* TCP connection, SSH handshake, the server key's fingerprint. only: the
 * one host key type to offer (a second try), or NULL for OpenSSH's order;
 * a second try sets no test step and no message. */
static int session_start(bs_sftp *c, const json_t *root, const char *only, int steps)
{
    const cd_host_api *host = c->host;
    cd_run *run = c->run;
    int quiet = only != NULL;
    char *why = NULL;
    const char *hostname = cdc_json_str(root, "host", NULL);
    int port = (int)cdc_json_int(root, "port", 22);
    const cd_http_defaults *d = host->http_defaults(run);

    long budget = step_budget_ms(host, run, d ? d->connect_timeout_s : 0);
    if (budget == 0) {
        if (!quiet)
            open_error(c, "no time left before the run's deadline to connect");
        return CD_ERR_TRANSIENT;
    }
    c->fd = tcp_connect(host, hostname, port, budget, run, &why);
    if (c->fd < 0) {
        if (!quiet) {
            STEP("connect", 0, "%s", why ? why : "failed");
            open_error(c, "%s", why ? why : "cannot connect");
        }
        free(why);
        return host->is_cancelled(run) ? CD_CANCELLED : CD_ERR_TRANSIENT;
    }
    if (!quiet)
        STEP("connect", 1, "TCP connection to %s:%d", hostname, port);

    c->s = libssh2_session_init();
    if (!c->s) {
        if (!quiet)
            open_error(c, "libssh2_session_init failed");
        return CD_ERR_TRANSIENT;
    }
    libssh2_session_set_blocking(c->s, 1);
    if (!prefer_openssh_host_keys(c, only) && only)
        return CD_ERR_CONFIG; /* this libssh2 lacks the type */
    /* Every blocking libssh2 call below is bounded by the same budget. */
    budget = step_budget_ms(host, run, d ? d->request_timeout_s : 0);
    libssh2_session_set_timeout(c->s, budget > 0 ? budget : 1);
    if (libssh2_session_handshake(c->s, c->fd) != 0) {
        if (!quiet) {
            STEP("handshake", 0, "%s", bs_sftp_error(c));
            open_error(c, "SSH handshake with %s:%d failed: %s", hostname, port,
                       bs_sftp_error(c));
        }
        return CD_ERR_TRANSIENT;
    }
    if (!quiet)
        STEP("handshake", 1, "SSH session established");

    const char *hash = libssh2_hostkey_hash(c->s, LIBSSH2_HOSTKEY_HASH_SHA256);
    if (!hash) {
        if (!quiet) {
            STEP("host key", 0, "server key fingerprint unavailable");
            open_error(c, "cannot compute the server's SHA256 key fingerprint: %s",
                       bs_sftp_error(c));
        }
        return CD_ERR_TRANSIENT;
    }
    memcpy(c->fingerprint, "SHA256:", 8);
    base64_nopad((const unsigned char *)hash, 32, c->fingerprint + 7);
    return CD_OK;
}

/* The pin's length without the one '=' of padding ssh-keygen may print. */
static size_t pin_length(const char *pin)
{
    size_t n = strlen(pin);
    return n == 51 && pin[50] == '=' ? 50 : n;
}

/* CD_OK when the session's host key is the pinned one or in
 * known_hosts_file; else the failure's code (CD_ERR_CONFIG, or
 * CD_ERR_TRANSIENT when the server's key could not be read), with
 * *other_type saying whether a key of another type may still be accepted
 * (a pin is one key of one type; known_hosts may lack only this type), as
 * against a key of this type that does not match (*other_type 0). */
static int host_key_accepted(bs_sftp *c, const char *pin, const char *known, const char *hostname,
                             int port, int *other_type)
{
    *other_type = 0;
    if (pin && *pin) {
        size_t n = pin_length(pin);
        if (strlen(c->fingerprint) == n && strncmp(c->fingerprint, pin, n) == 0)
            return CD_OK;
        *other_type = 1;
        return CD_ERR_CONFIG;
    }
    int notfound = 0;
    int rc = check_known_hosts(c, known, hostname, port, &notfound);
    *other_type = rc == CD_ERR_CONFIG && notfound;
    return rc;
}

/* The server's key types, one try each after the first (OpenSSH's order,
 * ed25519 first) found its key not trusted: a known_hosts_file written
 * with an ECDSA or RSA line, or a pin of one, is the same server's other
 * key, as `ssh` accepts it. A key of a type that is there but differs
 * ends the search: that is a changed key, not another type. */
static int verify_host_key(bs_sftp *c, const json_t *root, int steps)
{
    const cd_host_api *host = c->host;
    cd_run *run = c->run;
    const char *hostname = cdc_json_str(root, "host", NULL);
    int port = (int)cdc_json_int(root, "port", 22);
    const char *pin = cdc_json_str(root, "host_key_sha256", NULL);
    const char *known = cdc_json_str(root, "known_hosts_file", NULL);
    int other_type = 0;
    int rc = host_key_accepted(c, pin, known, hostname, port, &other_type);
    if (rc == CD_OK)
        return CD_OK;
    if (rc != CD_ERR_CONFIG) { /* the key could not even be read: message set */
        STEP("host key", 0, "%s", c->error ? c->error : "cannot read the server's host key");
        return rc;
    }
    /* What the first try saw is what the failure reports. */
    char first[sizeof c->fingerprint];
    memcpy(first, c->fingerprint, sizeof first);
    char *first_error = c->error ? strdup(c->error) : NULL;
    int got = 0;
    size_t klen = 0;
    libssh2_session_hostkey(c->s, &klen, &got);
    unsigned seen = 1u << got; /* libssh2's key types, seen so far */
    for (size_t i = 0; other_type && i < N_HOST_KEY_TYPES && !host->is_cancelled(run); i++) {
        if (seen & (1u << key_type_of(host_key_order[i])))
            continue; /* that key was checked already (rsa-sha2-* and ssh-rsa are one key) */
        session_end(c);
        if (session_start(c, root, host_key_order[i], steps) != CD_OK)
            continue; /* the server has no key of this type */
        libssh2_session_hostkey(c->s, &klen, &got);
        seen |= 1u << got;
        if (host_key_accepted(c, pin, known, hostname, port, &other_type) == CD_OK) {
            free(first_error);
            host->log(run, CD_LOG_INFO, "host key %s (%s) accepted", c->fingerprint,
                      host_key_order[i]);
            return CD_OK;
        }
    }
    if (pin && *pin) {
        STEP("host key", 0, "expected %s, got %s", pin, first);
        open_error(c, "host key mismatch: expected %.*s, got %s", (int)pin_length(pin), pin,
                   first);
    } else {
        STEP("host key", 0, "%s not accepted by %s", first, known);
        if (other_type || !c->error) /* keep the first try's words when nothing better came */
            open_error(c, "%s", first_error ? first_error : "host key not accepted");
    }
    free(first_error);
    return CD_ERR_CONFIG;
}

int bs_sftp_open(bs_sftp *c, const cd_host_api *host, cd_run *run, const json_t *root, int steps)
{
    memset(c, 0, sizeof *c);
    c->host = host;
    c->run = run;
    c->fd = -1;
    const char *user = cdc_json_str(root, "username", NULL);
    const char *auth = cdc_json_str(root, "auth_type", "password");
    int rc = session_start(c, root, NULL, steps);
    if (rc != CD_OK)
        return rc;
    rc = verify_host_key(c, root, steps);
    if (rc != CD_OK)
        return rc;
    STEP("host key", 1, "%s", c->fingerprint);

    int ar;
    int have_credential;
    if (strcmp(auth, "private_key") == 0) {
        const char *key = cdc_secret_str(root, "private_key");
        const char *pass = cdc_secret_str(root, "private_key_passphrase");
        have_credential = key != NULL;
        ar = key ? libssh2_userauth_publickey_frommemory(c->s, user, strlen(user), NULL, 0, key,
                                                         strlen(key), pass)
                 : LIBSSH2_ERROR_AUTHENTICATION_FAILED;
    } else {
        const char *pw = cdc_secret_str(root, "password");
        have_credential = pw != NULL;
        ar = pw ? libssh2_userauth_password(c->s, user, pw) : LIBSSH2_ERROR_AUTHENTICATION_FAILED;
    }
    if (ar != 0) {
        const char *what = have_credential ? bs_sftp_error(c) : "no credential configured";
        STEP("auth", 0, "%s as %s: %s", auth, user, what);
        open_error(c, "SSH authentication as %s failed: %s", user, what);
        return auth_failure_code(ar);
    }
    STEP("auth", 1, "%s as %s", auth, user);

    c->sftp = libssh2_sftp_init(c->s);
    if (!c->sftp) {
        STEP("sftp", 0, "%s", bs_sftp_error(c));
        open_error(c, "SFTP subsystem unavailable: %s", bs_sftp_error(c));
        return CD_ERR_PERMANENT;
    }
    return CD_OK;
}

void bs_entries_free(bs_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].name);
    free(e);
}

/* SFTP status to the driver's code: a missing or forbidden path is the
 * configuration's fault, anything else may pass. */
static int status_code(const bs_sftp *c)
{
    unsigned long e = libssh2_sftp_last_error(c->sftp);
    return e == LIBSSH2_FX_NO_SUCH_FILE || e == LIBSSH2_FX_NO_SUCH_PATH ||
                   e == LIBSSH2_FX_PERMISSION_DENIED
               ? CD_ERR_CONFIG
               : CD_ERR_TRANSIENT;
}

int bs_sftp_list(bs_sftp *c, const char *dir, bs_entry **out, size_t *n, char **why)
{
    *out = NULL;
    *n = 0;
    LIBSSH2_SFTP_HANDLE *h = libssh2_sftp_opendir(c->sftp, dir);
    if (!h) {
        *why = cdc_printf("cannot list %s: %s", dir, bs_sftp_status_text(c));
        return status_code(c);
    }
    size_t cap = 0;
    /* SFTP file names are bounded by the server's path limit; libssh2
     * refuses (never overflows) a longer one, which is then skipped. */
    char name[4096];
    LIBSSH2_SFTP_ATTRIBUTES a;
    int rc = CD_OK;
    for (;;) {
        if (c->host->is_cancelled(c->run)) {
            rc = CD_CANCELLED;
            *why = cdc_printf("cancelled while listing %s", dir);
            break;
        }
        int r = libssh2_sftp_readdir(h, name, sizeof name, &a);
        if (r == LIBSSH2_ERROR_BUFFER_TOO_SMALL) {
            c->host->log(c->run, CD_LOG_WARNING, "%s: skipped a name longer than %zu bytes", dir,
                         sizeof name - 1);
            continue;
        }
        if (r < 0) {
            *why = cdc_printf("listing %s failed: %s", dir, bs_sftp_error(c));
            rc = CD_ERR_TRANSIENT;
            break;
        }
        if (r == 0)
            break;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        /* The ledger and the run's details hold names as text: a name in
         * another encoding could be neither looked up nor recorded, and
         * would fail every run of the directory. It is skipped, visibly. */
        if (!cdc_utf8_valid(name, (size_t)r)) {
            char shown[64];
            size_t k = 0;
            for (int j = 0; j < r && k + 5 < sizeof shown; j++) {
                unsigned char ch = (unsigned char)name[j];
                k += (size_t)snprintf(shown + k, sizeof shown - k, ch >= 0x20 && ch < 0x7f ? "%c" : "\\x%02x", ch);
            }
            c->host->log(c->run, CD_LOG_WARNING, "%s: skipped \"%s\": the name is not UTF-8",
                         dir, shown);
            continue;
        }
        if (*n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            bs_entry *ne = realloc(*out, ncap * sizeof *ne);
            if (!ne) {
                rc = CD_ERR_TRANSIENT;
                *why = cdc_printf("out of memory listing %s", dir);
                break;
            }
            *out = ne;
            cap = ncap;
        }
        bs_entry *e = &(*out)[*n];
        e->name = strndup(name, (size_t)r);
        if (!e->name) {
            rc = CD_ERR_TRANSIENT;
            *why = cdc_printf("out of memory listing %s", dir);
            break;
        }
        e->size = a.flags & LIBSSH2_SFTP_ATTR_SIZE ? (int64_t)a.filesize : -1;
        e->mtime = a.flags & LIBSSH2_SFTP_ATTR_ACMODTIME ? (int64_t)a.mtime : -1;
        e->is_file = !(a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) || LIBSSH2_SFTP_S_ISREG(a.permissions);
        (*n)++;
    }
    libssh2_sftp_closedir(h);
    if (rc != CD_OK) {
        bs_entries_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int bs_sftp_stat(bs_sftp *c, const char *path, int64_t *size, int64_t *mtime, char **why)
{
    LIBSSH2_SFTP_ATTRIBUTES a;
    if (libssh2_sftp_stat(c->sftp, path, &a) != 0) {
        unsigned long e = libssh2_sftp_last_error(c->sftp);
        if (e == LIBSSH2_FX_NO_SUCH_FILE || e == LIBSSH2_FX_NO_SUCH_PATH)
            return 1;
        *why = cdc_printf("cannot stat %s: %s", path, bs_sftp_status_text(c));
        return status_code(c);
    }
    *size = a.flags & LIBSSH2_SFTP_ATTR_SIZE ? (int64_t)a.filesize : -1;
    *mtime = a.flags & LIBSSH2_SFTP_ATTR_ACMODTIME ? (int64_t)a.mtime : -1;
    return CD_OK;
}

typedef struct small_buf {
    cdc_buf b;
    size_t max;
} small_buf;

static int small_chunk(void *ud, const char *data, size_t len)
{
    small_buf *s = ud;
    if (s->b.len + len > s->max)
        return CD_ERR_PERMANENT;
    return cdc_buf_append(&s->b, data, len) == 0 ? 0 : CD_ERR_TRANSIENT;
}

int bs_sftp_read_small(bs_sftp *c, const char *path, size_t max, char **out, size_t *n,
                       char **why)
{
    small_buf s = {{0}, max};
    uint64_t got = 0;
    int rc = bs_sftp_download(c, path, 0, small_chunk, &s, &got, why);
    if (rc == CD_ERR_PERMANENT && !*why)
        *why = cdc_printf("%s is larger than %zu bytes", path, max);
    if (rc != CD_OK) {
        cdc_buf_free(&s.b);
        return rc;
    }
    if (cdc_buf_append(&s.b, "", 0) != 0) {
        *why = cdc_printf("out of memory reading %s", path);
        return CD_ERR_TRANSIENT;
    }
    *out = s.b.data;
    *n = s.b.len;
    return CD_OK;
}

int bs_sftp_open_read(bs_sftp *c, const char *path, uint64_t offset, LIBSSH2_SFTP_HANDLE **h,
                      char **why)
{
    *h = libssh2_sftp_open(c->sftp, path, LIBSSH2_FXF_READ, 0);
    if (!*h) {
        /* The file was in the listing: gone or forbidden now is the bank's
         * upload at work (moved into place, or kept 0600 until done), so
         * it is retried, unlike a directory that cannot be listed. */
        *why = cdc_printf("cannot open %s: %s", path, bs_sftp_status_text(c));
        return CD_ERR_TRANSIENT;
    }
    if (offset)
        libssh2_sftp_seek64(*h, offset);
    return CD_OK;
}

int bs_sftp_download(bs_sftp *c, const char *path, uint64_t offset, bs_chunk_fn on_chunk,
                     void *ud, uint64_t *got, char **why)
{
    *got = 0;
    LIBSSH2_SFTP_HANDLE *h = NULL;
    int orc = bs_sftp_open_read(c, path, offset, &h, why);
    if (orc != CD_OK)
        return orc;
    /* A large buffer lets libssh2 keep many READ requests in flight: the
     * transfer is then bound by bandwidth, not by the round trip. */
    size_t cap = (size_t)2 << 20;
    char *buf = malloc(cap);
    int rc = CD_OK;
    if (!buf) {
        *why = cdc_printf("out of memory downloading %s", path);
        rc = CD_ERR_TRANSIENT;
    }
    while (buf) {
        if (c->host->is_cancelled(c->run)) {
            rc = CD_CANCELLED;
            break;
        }
        ssize_t r = libssh2_sftp_read(h, buf, cap);
        if (r == 0)
            break;
        if (r < 0) {
            *why = cdc_printf("download of %s broke off after %llu bytes: %s", path,
                              (unsigned long long)(offset + *got),
                              r == LIBSSH2_ERROR_TIMEOUT ? "timed out" : bs_sftp_error(c));
            rc = CD_ERR_TRANSIENT;
            break;
        }
        int cr = on_chunk(ud, buf, (size_t)r);
        if (cr != 0) {
            rc = cr;
            break;
        }
        *got += (uint64_t)r;
    }
    free(buf);
    libssh2_sftp_close(h);
    return rc;
}

static int rename_once(bs_sftp *c, const char *from, const char *to)
{
    return libssh2_sftp_rename_ex(c->sftp, from, (unsigned)strlen(from), to, (unsigned)strlen(to),
                                  LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
                                      LIBSSH2_SFTP_RENAME_NATIVE);
}

int bs_sftp_rename(bs_sftp *c, const char *from, const char *to, char **why)
{
    if (rename_once(c, from, to) == 0)
        return CD_OK;
    /* SFTP version 3 (OpenSSH's) has no rename flags: the overwrite asked
     * for is ignored, and the rename fails when the target exists (the
     * version moved before a corrected file came under the same name).
     * The target is then the older copy of a file already loaded and
     * replaced: it goes, and the rename is tried once more. */
    LIBSSH2_SFTP_ATTRIBUTES st;
    if (libssh2_sftp_stat_ex(c->sftp, to, (unsigned)strlen(to), LIBSSH2_SFTP_LSTAT, &st) == 0 &&
        LIBSSH2_SFTP_S_ISREG(st.permissions) && libssh2_sftp_unlink(c->sftp, to) == 0 &&
        rename_once(c, from, to) == 0)
        return CD_OK;
    *why = cdc_printf("cannot move %s to %s: %s", from, to, bs_sftp_status_text(c));
    return status_code(c);
}

int bs_sftp_unlink(bs_sftp *c, const char *path, char **why)
{
    if (libssh2_sftp_unlink(c->sftp, path) != 0) {
        *why = cdc_printf("cannot delete %s: %s", path, bs_sftp_status_text(c));
        return status_code(c);
    }
    return CD_OK;
}
