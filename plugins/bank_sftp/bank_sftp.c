/*
 * bank_sftp.c — the built-in BANK_SFTP driver: bank statement files from an
 * SFTP drop box.
 *
 * test() is real: a bounded TCP connect, the SSH handshake, the server key
 * checked against the pinned SHA256 fingerprint or a known_hosts file
 * BEFORE any credential is sent, authentication, and a listing of
 * remote_path counting the files that match file_pattern.
 *
 * run() — download, checksum, parse and post-action of files — is issue #6
 * and not in this version: it fails permanently with a message saying so,
 * rather than pretending to succeed with zero rows.
 */
#include <connectord/plugin.h>

#include "cdc.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const cd_host_api *hostapi;

static const cd_driver_magic bank_sftp_magic = CD_DRIVER_MAGIC_INIT(
    "bank_sftp", "1.0.0", "connectord", CD_CATEGORY_BANK_SFTP, CD_DATASET_BANK_STATEMENT,
    "Bank statement files from an SFTP server (host key pinned)");

#define SECRET_SCHEMA(desc)                                                             \
    "{\"description\": \"" desc "\", \"writeOnly\": true, \"oneOf\": ["               \
    "{\"type\": \"string\", \"minLength\": 1},"                                        \
    "{\"type\": \"object\", \"required\": [\"secret\"], \"additionalProperties\": false," \
    "\"properties\": {\"secret\": {\"type\": \"string\","                              \
    "\"pattern\": \"^(env|file|cred):.+\"}}}]}"

static const char bank_sftp_schema[] =
    "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
    "\"title\": \"Bank SFTP drop box\","
    "\"type\": \"object\","
    "\"required\": [\"host\", \"username\", \"remote_path\"],"
    "\"additionalProperties\": false,"
    "\"properties\": {"
    "\"host\": {\"type\": \"string\", \"minLength\": 1},"
    "\"port\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 65535, \"default\": 22},"
    "\"username\": {\"type\": \"string\", \"minLength\": 1},"
    "\"auth_type\": {\"enum\": [\"password\", \"private_key\"], \"default\": \"password\"},"
    "\"password\": " SECRET_SCHEMA("Password for auth_type password") ","
    "\"private_key\": " SECRET_SCHEMA("PEM/OpenSSH private key text for auth_type private_key") ","
    "\"private_key_passphrase\": " SECRET_SCHEMA("Passphrase of private_key") ","
    "\"host_key_sha256\": {\"type\": \"string\", \"pattern\": \"^SHA256:[A-Za-z0-9+/]{43}=?$\","
    "\"description\": \"Server key fingerprint as ssh-keygen -lf prints it\"},"
    "\"known_hosts_file\": {\"type\": \"string\", \"minLength\": 1},"
    "\"remote_path\": {\"type\": \"string\", \"pattern\": \"^/\"},"
    "\"file_pattern\": {\"type\": \"string\", \"default\": \"*\","
    "\"description\": \"Anchored glob with * and ?, may use {YYYYMMDD} style date placeholders\"},"
    "\"lookback_days\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 366, \"default\": 0},"
    "\"min_file_age_seconds\": {\"type\": \"integer\", \"minimum\": 0, \"default\": 60},"
    "\"checksum\": {\"enum\": [\"none\", \"sha256_sidecar\", \"md5_sidecar\"], \"default\": \"none\"},"
    "\"done_marker_suffix\": {\"type\": \"string\"},"
    "\"post_action\": {\"enum\": [\"none\", \"move\", \"delete\"], \"default\": \"none\"},"
    "\"processed_path\": {\"type\": \"string\", \"pattern\": \"^/\"},"
    "\"template\": {\"type\": \"string\"},"
    "\"format\": {\"type\": \"object\"},"
    "\"pgp\": {\"type\": \"object\", \"properties\": {"
    "\"private_key\": " SECRET_SCHEMA("Armored PGP private key") ","
    "\"passphrase\": " SECRET_SCHEMA("PGP key passphrase") "}}"
    "}}";

static const char *describe_config(void)
{
    return bank_sftp_schema;
}

/* 1 while validate() runs; otherwise problems go to the run log. */
static int validating;

static void report(cd_run *run, const char *field, const char *fmt, ...) CD_PRINTF(3, 4);
/* Reports one problem of connection_config at a JSON path. */
static void report(cd_run *run, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (validating)
        hostapi->config_error(run, field, "%s", msg ? msg : "invalid");
    else
        hostapi->log(run, CD_LOG_ERROR, "connection_config.%s: %s", field, msg ? msg : "invalid");
    free(msg);
}

/* Required non-empty string field; reports and returns 1 when missing. */
static int need_string(cd_run *run, const json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    if (!json_is_string(v) || json_string_length(v) == 0) {
        report(run, key, v ? "must be a non-empty string" : "is required");
        return 1;
    }
    return 0;
}

/* Checks what the schema cannot (and its required fields, so a host that
 * does not apply the schema still gets field paths). Returns problems. */
static int check_config(cd_run *run, const json_t *root)
{
    int bad = need_string(run, root, "host") + need_string(run, root, "username") +
              need_string(run, root, "remote_path");
    const char *rp = cdc_json_str(root, "remote_path", NULL);
    if (rp && *rp && rp[0] != '/') {
        report(run, "remote_path", "must be an absolute path");
        bad++;
    }
    json_t *port = json_object_get(root, "port");
    if (port && (!json_is_integer(port) || json_integer_value(port) < 1 ||
                 json_integer_value(port) > 65535)) {
        report(run, "port", "must be an integer from 1 to 65535");
        bad++;
    }
    const char *auth = cdc_json_str(root, "auth_type", "password");
    if (strcmp(auth, "password") == 0) {
        if (!cdc_secret_present(root, "password")) {
            report(run, "password", "is required for auth_type password");
            bad++;
        }
    } else if (strcmp(auth, "private_key") == 0) {
        if (!cdc_secret_present(root, "private_key")) {
            report(run, "private_key", "is required for auth_type private_key");
            bad++;
        }
    } else {
        report(run, "auth_type", "must be password or private_key, not \"%s\"", auth);
        bad++;
    }
    const char *secrets[] = {"password", "private_key", "private_key_passphrase"};
    for (size_t i = 0; i < 3; i++)
        bad += cdc_check_secret_shape(hostapi, run, root, secrets[i], secrets[i]);

    const char *fp = cdc_json_str(root, "host_key_sha256", NULL);
    const char *kh = cdc_json_str(root, "known_hosts_file", NULL);
    if ((!fp || !*fp) && (!kh || !*kh)) {
        report(run, "host_key_sha256",
               "one of host_key_sha256 or known_hosts_file is required: the server's key must "
               "be pinned before a password or key is sent");
        bad++;
    }
    if (fp && *fp) {
        size_t n = strlen(fp);
        int ok = strncmp(fp, "SHA256:", 7) == 0 && (n == 50 || (n == 51 && fp[50] == '='));
        for (size_t i = 7; ok && i < 50; i++)
            if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", fp[i]))
                ok = 0;
        if (!ok) {
            report(run, "host_key_sha256",
                   "must look like \"SHA256:\" followed by 43 base64 characters (ssh-keygen -lf)");
            bad++;
        }
    }
    if (kh && *kh && kh[0] != '/') {
        report(run, "known_hosts_file", "must be an absolute path");
        bad++;
    }
    const char *post = cdc_json_str(root, "post_action", "none");
    const char *pp = cdc_json_str(root, "processed_path", NULL);
    if (strcmp(post, "move") == 0 && (!pp || pp[0] != '/')) {
        report(run, "processed_path", "an absolute path is required for post_action move");
        bad++;
    }
    return bad;
}

static int validate(cd_run *run)
{
    json_error_t err;
    json_t *root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!root) {
        hostapi->config_error(run, "", "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    validating = 1;
    int bad = check_config(run, root);
    validating = 0;
    json_decref(root);
    return bad ? CD_ERR_CONFIG : CD_OK;
}

/* Milliseconds a network step may take: the operator's connect timeout,
 * bounded by what is left of the run. 0 means no time left. */
static long step_budget_ms(cd_run *run, uint32_t limit_s)
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
static int tcp_connect(const char *hostname, int port, long timeout_ms, cd_run *run, char **why)
{
    struct addrinfo hints, *res = NULL;
    char service[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    int gai = getaddrinfo(hostname, service, &hints, &res);
    if (gai != 0) {
        *why = cdc_printf("cannot resolve %s: %s", hostname, gai_strerror(gai));
        return -1;
    }
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

/* libssh2's last error text for a message. */
static const char *ssh_error(LIBSSH2_SESSION *s)
{
    char *msg = NULL;
    libssh2_session_last_error(s, &msg, NULL, 0);
    return msg && *msg ? msg : "unknown libssh2 error";
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

/* Checks the server key against known_hosts_file. CD_OK or CD_ERR_CONFIG
 * with the message set. */
static int check_known_hosts(cd_run *run, LIBSSH2_SESSION *s, const char *file,
                             const char *hostname, int port)
{
    size_t keylen = 0;
    int keytype = 0;
    const char *key = libssh2_session_hostkey(s, &keylen, &keytype);
    LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s);
    if (!key || !kh) {
        hostapi->set_message(run, "cannot read the server's host key: %s", ssh_error(s));
        if (kh)
            libssh2_knownhost_free(kh);
        return CD_ERR_TRANSIENT;
    }
    if (libssh2_knownhost_readfile(kh, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
        hostapi->set_message(run, "cannot read known_hosts_file %s: %s", file, ssh_error(s));
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
    hostapi->set_message(run, "host key of %s:%d %s known_hosts_file %s", hostname, port,
                         r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH ? "does not match" : "is not in",
                         file);
    return CD_ERR_CONFIG;
}

static int test(cd_run *run)
{
    json_error_t err;
    json_t *root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!root) {
        hostapi->set_message(run, "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    int rc = CD_OK;
    int fd = -1;
    LIBSSH2_SESSION *s = NULL;
    LIBSSH2_SFTP *sftp = NULL;
    LIBSSH2_SFTP_HANDLE *dir = NULL;
    char *why = NULL, *pattern = NULL;

    if (check_config(run, root) > 0) {
        hostapi->test_step(run, "config", 0, "connection_config is invalid (see the log)");
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    const char *hostname = cdc_json_str(root, "host", NULL);
    int port = (int)cdc_json_int(root, "port", 22);
    const char *user = cdc_json_str(root, "username", NULL);
    const char *auth = cdc_json_str(root, "auth_type", "password");
    const char *pin = cdc_json_str(root, "host_key_sha256", NULL);
    const char *known = cdc_json_str(root, "known_hosts_file", NULL);
    const char *remote = cdc_json_str(root, "remote_path", "/");
    const cd_http_defaults *d = hostapi->http_defaults(run);

    long budget = step_budget_ms(run, d ? d->connect_timeout_s : 0);
    if (budget == 0) {
        hostapi->set_message(run, "no time left before the run's deadline to connect");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    fd = tcp_connect(hostname, port, budget, run, &why);
    if (fd < 0) {
        rc = hostapi->is_cancelled(run) ? CD_CANCELLED : CD_ERR_TRANSIENT;
        hostapi->test_step(run, "connect", 0, "%s", why ? why : "failed");
        hostapi->set_message(run, "%s", why ? why : "cannot connect");
        goto out;
    }
    hostapi->test_step(run, "connect", 1, "TCP connection to %s:%d", hostname, port);

    s = libssh2_session_init();
    if (!s) {
        hostapi->set_message(run, "libssh2_session_init failed");
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    libssh2_session_set_blocking(s, 1);
    /* Every blocking libssh2 call below is bounded by the same budget. */
    budget = step_budget_ms(run, d ? d->request_timeout_s : 0);
    libssh2_session_set_timeout(s, budget > 0 ? budget : 1);
    if (libssh2_session_handshake(s, fd) != 0) {
        hostapi->test_step(run, "handshake", 0, "%s", ssh_error(s));
        hostapi->set_message(run, "SSH handshake with %s:%d failed: %s", hostname, port,
                             ssh_error(s));
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    hostapi->test_step(run, "handshake", 1, "SSH session established");

    const char *hash = libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256);
    char fingerprint[64] = "SHA256:";
    if (!hash) {
        hostapi->test_step(run, "host key", 0, "server key fingerprint unavailable");
        hostapi->set_message(run, "cannot compute the server's SHA256 key fingerprint: %s",
                             ssh_error(s));
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    base64_nopad((const unsigned char *)hash, 32, fingerprint + 7);
    if (pin && *pin) {
        size_t n = strlen(pin);
        if (n == 51 && pin[50] == '=')
            n = 50;
        if (strlen(fingerprint) != n || strncmp(fingerprint, pin, n) != 0) {
            hostapi->test_step(run, "host key", 0, "expected %s, got %s", pin, fingerprint);
            hostapi->set_message(run, "host key mismatch: expected %.*s, got %s", (int)n, pin,
                                 fingerprint);
            rc = CD_ERR_CONFIG;
            goto out;
        }
    } else if ((rc = check_known_hosts(run, s, known, hostname, port)) != CD_OK) {
        hostapi->test_step(run, "host key", 0, "%s not accepted by %s", fingerprint, known);
        goto out;
    }
    hostapi->test_step(run, "host key", 1, "%s", fingerprint);

    int ar;
    if (strcmp(auth, "private_key") == 0) {
        const char *key = cdc_secret_str(root, "private_key");
        const char *pass = cdc_secret_str(root, "private_key_passphrase");
        ar = key ? libssh2_userauth_publickey_frommemory(s, user, strlen(user), NULL, 0, key,
                                                         strlen(key), pass)
                 : -1;
    } else {
        const char *pw = cdc_secret_str(root, "password");
        ar = pw ? libssh2_userauth_password(s, user, pw) : -1;
    }
    if (ar != 0) {
        hostapi->test_step(run, "auth", 0, "%s as %s: %s", auth, user, ssh_error(s));
        hostapi->set_message(run, "SSH authentication as %s failed: %s", user, ssh_error(s));
        rc = ar == LIBSSH2_ERROR_TIMEOUT || ar == LIBSSH2_ERROR_SOCKET_RECV ? CD_ERR_TRANSIENT
                                                                           : CD_ERR_CONFIG;
        goto out;
    }
    hostapi->test_step(run, "auth", 1, "%s as %s", auth, user);

    sftp = libssh2_sftp_init(s);
    if (!sftp) {
        hostapi->test_step(run, "sftp", 0, "%s", ssh_error(s));
        hostapi->set_message(run, "SFTP subsystem unavailable: %s", ssh_error(s));
        rc = CD_ERR_PERMANENT;
        goto out;
    }
    dir = libssh2_sftp_opendir(sftp, remote);
    if (!dir) {
        unsigned long e = libssh2_sftp_last_error(sftp);
        hostapi->test_step(run, "list", 0, "cannot open %s (SFTP error %lu)", remote, e);
        hostapi->set_message(run, "cannot list %s: SFTP error %lu (%s)", remote, e,
                             e == LIBSSH2_FX_NO_SUCH_FILE ? "no such directory"
                             : e == LIBSSH2_FX_PERMISSION_DENIED ? "permission denied"
                                                                 : ssh_error(s));
        rc = CD_ERR_CONFIG;
        goto out;
    }
    pattern = cdc_expand_date_placeholders(cdc_json_str(root, "file_pattern", "*"),
                                           hostapi->run_info(run)->run_date);
    if (!pattern)
        pattern = strdup(cdc_json_str(root, "file_pattern", "*"));
    unsigned long entries = 0, matches = 0;
    char name[1024];
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    for (;;) {
        if (hostapi->is_cancelled(run)) {
            rc = CD_CANCELLED;
            hostapi->set_message(run, "cancelled while listing %s", remote);
            goto out;
        }
        /* Names longer than the buffer are cut by libssh2 (rc = length
         * written), never overflowed; such files cannot match a pattern
         * we could use anyway. */
        int n = libssh2_sftp_readdir(dir, name, sizeof name, &attrs);
        if (n < 0) {
            hostapi->test_step(run, "list", 0, "reading %s failed: %s", remote, ssh_error(s));
            hostapi->set_message(run, "listing %s failed: %s", remote, ssh_error(s));
            rc = CD_ERR_TRANSIENT;
            goto out;
        }
        if (n == 0)
            break;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        entries++;
        int is_file = !(attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) ||
                      LIBSSH2_SFTP_S_ISREG(attrs.permissions);
        if (is_file && pattern && cdc_glob_match(pattern, name))
            matches++;
    }
    hostapi->test_step(run, "list", 1, "%lu entries in %s, %lu matching %s", entries, remote,
                       matches, pattern ? pattern : "*");
    hostapi->set_message(run, "SFTP reachable (%s): %lu file(s) in %s match %s", fingerprint,
                         matches, remote, pattern ? pattern : "*");
out:
    if (dir)
        libssh2_sftp_closedir(dir);
    if (sftp)
        libssh2_sftp_shutdown(sftp);
    if (s) {
        libssh2_session_disconnect(s, "connectord test done");
        libssh2_session_free(s);
    }
    if (fd >= 0)
        close(fd);
    free(why);
    free(pattern);
    json_decref(root);
    return rc;
}

static int run_driver(cd_run *run)
{
    hostapi->set_message(run, "bank_sftp run: the file download and parse pipeline is not "
                              "available in this version (issue #6); use test to check access");
    return CD_ERR_PERMANENT;
}

static void destroy(void)
{
    libssh2_exit();
}

static int bank_sftp_init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    if (h->abi_major != CD_PLUGIN_ABI_MAJOR || !CD_HOST_HAS(h, init_error))
        return CD_ERR_PERMANENT;
    int rc = libssh2_init(0);
    if (rc != 0) {
        h->init_error("libssh2_init failed (%d)", rc);
        return CD_ERR_PERMANENT;
    }
    hostapi = h;
    cb->describe_config = describe_config;
    cb->validate = validate;
    cb->test = test;
    cb->run = run_driver;
    cb->destroy = destroy;
    return CD_OK;
}

CONNECTORD_DRIVER(bank_sftp_magic, bank_sftp_init)
