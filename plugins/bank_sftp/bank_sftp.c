/*
 * bank_sftp.c — the built-in BANK_SFTP driver: bank statement files from an
 * SFTP drop box, fetched once, verified, read and loaded into
 * sp_v2_bank_statements.
 *
 * This file holds the descriptor, the configuration rules, test() and the
 * run's flow; the pieces live beside it, one idea each: sftp.c (session,
 * host key pinning), discover.c (patterns, sidecars, temporary names),
 * fetch.c (resumable download + sha256), ledger.c (the file ledger),
 * format.c (templates and inline formats), reader.c / csv.c / xlsx.c
 * (readers), mapper.c (rows to records), amount.c, date.c, pgp.c.
 *
 * A run: post actions earlier runs could not do (files the ledger says
 * were loaded, still in the drop box) -> per file: complete? (age, size
 * stable over two listings, done marker, checksum sidecar present) ->
 * already loaded by path, size and mtime? (skip without downloading) ->
 * can the content be a duplicate (a loaded version has this size)?
 *   no (the usual case): stream it: download (resuming a broken one) and
 *      read and emit at the same time; sha256 and sidecar checked at the
 *      end (a mismatch then fails the run, whose load rolls back);
 *   yes, or XLSX / PGP: download first -> checksum sidecar -> loaded
 *      before under any name (same sha256)? -> decrypt -> read and emit;
 * -> LOADED in the ledger, in the load's transaction. The post action
 * (move / delete) waits until the host has committed the run (the ABI 1.2
 * committed callback).
 */
#include <connectord/plugin.h>

#include "cdc.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "discover.h"
#include "fetch.h"
#include "format.h"
#include "ledger.h"
#include "mapper.h"
#include "pgp.h"
#include "reader.h"
#include "sftp.h"

static const cd_host_api *hostapi;

static const cd_driver_magic bank_sftp_magic = CD_DRIVER_MAGIC_INIT(
    "bank_sftp", "1.2.0", "connectord", CD_CATEGORY_BANK_SFTP, CD_DATASET_BANK_STATEMENT,
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
    "\"lookback_days\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 366, \"default\": 3,"
    "\"description\": \"a test run counts the matching files of the run date and this many days "
    "before it (a run takes its own date's files)\"},"
    "\"min_file_age_seconds\": {\"type\": \"integer\", \"minimum\": 0, \"default\": 120},"
    "\"size_stable_seconds\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 60, \"default\": 3,"
    "\"description\": \"Seconds between the two listings whose sizes must agree\"},"
    "\"checksum\": {\"enum\": [\"none\", \"sha256_sidecar\", \"md5_sidecar\"], \"default\": \"none\"},"
    "\"done_marker_suffix\": {\"type\": \"string\"},"
    "\"post_action\": {\"enum\": [\"none\", \"move\", \"delete\"], \"default\": \"none\"},"
    "\"processed_path\": {\"type\": \"string\", \"pattern\": \"^/\"},"
    "\"template\": {\"type\": \"string\"},"
    "\"format\": {\"type\": \"object\"},"
    "\"template_format\": {\"type\": \"object\","
    "\"description\": \"Set by connectord from conf.d/templates; not stored\"},"
    "\"pgp\": {\"type\": \"object\", \"properties\": {"
    "\"private_key\": " SECRET_SCHEMA("Armored PGP private key") ","
    "\"passphrase\": " SECRET_SCHEMA("PGP key passphrase") ","
    "\"signer_key\": {\"type\": \"string\", \"description\": \"Armored public key whose "
    "signature every file must carry (verification on when set)\"}}}"
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

static void format_problem(void *ud, const char *path, const char *msg)
{
    report(ud, path, "%s", msg);
}

/* The format must be complete whether it comes from a template, inline, or
 * both. */
static int check_format(cd_run *run, const json_t *root)
{
    bs_format f;
    int bad = bs_format_load(root, &f, format_problem, run);
    if (!bad)
        bs_format_free(&f);
    return bad;
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
    const char *at = NULL;
    size_t unknown = bs_pattern_unknown_placeholder(cdc_json_str(root, "file_pattern", "*"), &at);
    if (unknown) {
        report(run, "file_pattern",
               "has an unknown placeholder %.*s (use {YYYYMMDD}, {YYYY-MM-DD}, {DDMMYYYY}, "
               "{DD-MM-YYYY}, {YYMMDD}, {DDMMMYYYY}, {date} or {SEQ})",
               (int)(unknown > 40 ? 40 : unknown), at);
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
    bad += check_format(run, root);
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
    return cdc_validate_with(hostapi, run, &validating, check_config);
}


/* Days from..to (ISO, inclusive), at most 400. Malloc'd array of 11-byte
 * strings; *n days. */
static char (*date_range(const char *from, const char *to, size_t *n))[11]
{
    *n = 0;
    if (!cdc_is_iso_date(from) || !cdc_is_iso_date(to))
        return NULL;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = atoi(from) - 1900;
    tm.tm_mon = atoi(from + 5) - 1;
    tm.tm_mday = atoi(from + 8);
    tm.tm_hour = 12;
    char (*out)[11] = calloc(400, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < 400; i++) {
        time_t t = timegm(&tm);
        struct tm d;
        gmtime_r(&t, &d);
        strftime(out[i], 11, "%Y-%m-%d", &d);
        (*n)++;
        if (strcmp(out[i], to) >= 0)
            break;
        tm.tm_mday++;
    }
    return out;
}

/* The run date minus k days. */
static void minus_days(const char *iso, int k, char out[11])
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = atoi(iso) - 1900;
    tm.tm_mon = atoi(iso + 5) - 1;
    tm.tm_mday = atoi(iso + 8) - k;
    tm.tm_hour = 12;
    time_t t = timegm(&tm);
    struct tm d;
    gmtime_r(&t, &d);
    strftime(out, 11, "%Y-%m-%d", &d);
}

static int test(cd_run *run)
{
    json_error_t err;
    json_t *root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!root) {
        hostapi->set_message(run, "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    bs_sftp c;
    memset(&c, 0, sizeof c);
    c.fd = -1;
    bs_entry *ents = NULL;
    size_t nents = 0;
    char *why = NULL;
    int rc;
    if (check_config(run, root) > 0) {
        hostapi->test_step(run, "config", 0, "connection_config is invalid (see the log)");
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    rc = bs_sftp_open(&c, hostapi, run, root, 1);
    if (rc != CD_OK)
        goto out;
    const char *remote = cdc_json_str(root, "remote_path", "/");
    rc = bs_sftp_list(&c, remote, &ents, &nents, &why);
    if (rc != CD_OK) {
        hostapi->test_step(run, "list", 0, "%s", why);
        hostapi->set_message(run, "%s", why);
        goto out;
    }
    /* Files matching the pattern for each of the last lookback_days days
     * (the run date included). */
    const char *rd = hostapi->run_info(run)->run_date;
    long days = (long)cdc_json_int(root, "lookback_days", 3);
    const char *marker = cdc_json_str(root, "done_marker_suffix", NULL);
    unsigned long matches = 0;
    char *shown = NULL;
    /* A file counts once, whichever of the days' patterns it matches
     * ("*.csv" matches on every day). */
    unsigned char *counted = calloc(nents ? nents : 1, 1);
    for (long k = 0; counted && k <= days && cdc_is_iso_date(rd); k++) {
        char day[11];
        minus_days(rd, (int)k, day);
        char *pat = bs_pattern_expand(cdc_json_str(root, "file_pattern", "*"), day);
        if (!pat)
            continue;
        if (!shown)
            shown = bs_pattern_display(pat);
        for (size_t i = 0; i < nents; i++)
            if (!counted[i] && ents[i].is_file && !bs_is_temp_name(ents[i].name) &&
                !bs_is_sidecar(ents[i].name, marker) && bs_pattern_match(pat, ents[i].name)) {
                counted[i] = 1;
                matches++;
            }
        free(pat);
    }
    free(counted);
    hostapi->test_step(run, "list", 1, "%zu entries in %s, %lu matching %s over the last %ld day(s)",
                       nents, remote, matches, shown ? shown : "*", days + 1);
    hostapi->set_message(run, "SFTP reachable (%s): %lu file(s) in %s match %s over the last %ld "
                              "day(s)",
                         c.fingerprint, matches, remote, shown ? shown : "*", days + 1);
    free(shown);
out:
    bs_entries_free(ents, nents);
    bs_sftp_close(&c);
    free(why);
    json_decref(root);
    return rc;
}

/* ---- run ---- */

typedef struct candidate {
    const bs_entry *e;
    char *path;
    char *reason; /* why it is not complete, or NULL */
    int loaded;   /* already loaded (ledger): neither checked for completeness nor read */
} candidate;

static int cand_cmp(const void *a, const void *b)
{
    return bs_natural_cmp(((const candidate *)a)->e->name, ((const candidate *)b)->e->name);
}

static const bs_entry *find_entry(const bs_entry *e, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0)
            return &e[i];
    return NULL;
}

typedef struct run_ctx {
    cd_run *run;
    json_t *root;
    bs_format fmt;
    int have_fmt;
    bs_sftp c;
    bs_ledger ledger;
    const char *work_dir;
    const char *remote;
    json_t *files;        /* details.files */
    json_t *new_versions; /* details.new_versions */
    int records_started;
    int64_t loaded_files, skipped, failed_files;
    char *first_failure;
    int first_failure_rc;
} run_ctx;

static char *join_path(const char *dir, const char *name)
{
    size_t n = strlen(dir);
    return cdc_printf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

static void file_detail(run_ctx *x, const char *name, const char *status, int64_t rows,
                        const char *sha, const char *reason)
{
    json_t *o = json_pack("{s:s, s:s}", "file", name, "status", status);
    if (rows >= 0)
        json_object_set_new(o, "rows", json_integer(rows));
    if (sha)
        json_object_set_new(o, "sha256", json_string(sha));
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    json_array_append_new(x->files, o);
}

/* A file that failed on its own (checksum, header, decryption): FAILED in
 * the ledger, a record error naming it, and the run goes on with the
 * others. */
static void file_failed(run_ctx *x, const candidate *cd, const char *sha, int rc,
                        const char *reason)
{
    hostapi->log(x->run, CD_LOG_ERROR, "%s", reason);
    bs_ledger_record(&x->ledger, cd->path, cd->e->size, cd->e->mtime, sha, "FAILED", 0, reason);
    hostapi->record_error(x->run, cd->e->name, reason, NULL, 0);
    file_detail(x, cd->e->name, "FAILED", 0, sha, reason);
    x->failed_files++;
    if (!x->first_failure) {
        x->first_failure = strdup(reason);
        x->first_failure_rc = rc;
    }
}

/* The digest a .sha256 / .md5 sidecar announces, read before the file is
 * downloaded (so a streamed file can be checked at its end). CD_OK with
 * want[] (lower-case hex, "" when no checksum is configured), or a code
 * with *why. */
static int read_sidecar(run_ctx *x, const candidate *cd, char want[65], int *incomplete,
                        char **why)
{
    *incomplete = 0;
    want[0] = '\0';
    const char *mode = cdc_json_str(x->root, "checksum", "none");
    if (strcmp(mode, "none") == 0)
        return CD_OK;
    int sha = strcmp(mode, "sha256_sidecar") == 0;
    char *side = cdc_printf("%s.%s", cd->path, sha ? "sha256" : "md5");
    char *text = NULL;
    size_t n = 0;
    int rc = bs_sftp_read_small(&x->c, side, 4096, &text, &n, why);
    if (rc != CD_OK) {
        free(side);
        return rc;
    }
    /* "hexdigest" or "hexdigest  filename" (sha256sum / md5sum output) */
    size_t len = sha ? 64 : 32;
    size_t k = 0;
    while (k < n && (text[k] == ' ' || text[k] == '\t'))
        k++;
    size_t g = 0;
    while (k < n && g < len && strchr("0123456789abcdefABCDEF", text[k]) && text[k])
        want[g++] = (char)(text[k] | 0x20), k++;
    want[g] = '\0';
    if (g < len && k == n) {
        /* the text ends inside the digest: an empty or half-written sidecar
         * (it is written after the data file), to be read again later */
        *why = cdc_printf("%s: checksum sidecar %s holds %zu of the %zu hex digits of a %s digest: "
                          "not complete yet",
                          cd->e->name, side, g, len, sha ? "SHA-256" : "MD5");
        want[0] = '\0';
        *incomplete = 1;
        rc = CD_ERR_TRANSIENT;
    } else if (g != len || (k < n && !strchr(" \t\r\n*", text[k]))) {
        *why = cdc_printf("%s: checksum sidecar %s does not hold a %s digest", cd->e->name, side,
                          sha ? "SHA-256" : "MD5");
        want[0] = '\0';
        rc = CD_ERR_PERMANENT;
    }
    free(text);
    free(side);
    return rc;
}

/* read_sidecar for a file about to be fetched: 0 with want[] set; -1
 * when the sidecar cannot be read, the file then recorded as failed (the
 * run goes on with the other files); or CD_ERR_TRANSIENT (*end_rc) when
 * the sidecar is still being written: the file is not complete, and as
 * with any file not complete, nothing of the day is loaded yet. */
static int expect_digest(run_ctx *x, const candidate *cd, char want[65], int *end_rc)
{
    char *why = NULL;
    int incomplete = 0;
    *end_rc = CD_OK;
    int rc = read_sidecar(x, cd, want, &incomplete, &why);
    if (rc != CD_OK && incomplete) {
        hostapi->log(x->run, CD_LOG_INFO, "%s: not taken: %s", cd->e->name, why);
        bs_ledger_record(&x->ledger, cd->path, cd->e->size, cd->e->mtime, NULL, "SEEN", -1, why);
        file_detail(x, cd->e->name, "NOT_COMPLETE", -1, NULL, why);
        hostapi->set_message(x->run, "%s in %s is not complete yet: %s", cd->e->name, x->remote,
                             why);
        *end_rc = CD_ERR_TRANSIENT;
    } else if (rc != CD_OK) {
        file_failed(x, cd, NULL, rc, why ? why : "checksum sidecar unreadable");
    }
    free(why);
    return rc == CD_OK ? 0 : -1;
}

/* Whether the fetch must also compute an MD5 (checksum md5_sidecar). */
static int wants_md5(const run_ctx *x)
{
    return strcmp(cdc_json_str(x->root, "checksum", "none"), "md5_sidecar") == 0;
}

/* The downloaded file against the sidecar's digest. CD_OK, or
 * CD_ERR_TRANSIENT with *why. */
static int check_sidecar(run_ctx *x, const candidate *cd, const char *want, const bs_fetched *f,
                         char **why)
{
    if (!want[0])
        return CD_OK;
    const char *mode = cdc_json_str(x->root, "checksum", "none");
    int sha = strcmp(mode, "sha256_sidecar") == 0;
    const char *actual = sha ? f->sha256 : f->md5;
    if (strcmp(want, actual) == 0)
        return CD_OK;
    *why = cdc_printf("%s: checksum mismatch: %s.%s says %s, the downloaded file is %s",
                      cd->e->name, cd->path, sha ? "sha256" : "md5", want, actual);
    return CD_ERR_TRANSIENT;
}

static int start_records(run_ctx *x)
{
    if (x->records_started)
        return CD_OK;
    int rc = hostapi->records_begin(x->run, bs_record_columns, bs_record_ncolumns);
    if (rc == CD_OK)
        x->records_started = 1;
    return rc;
}

/* Decrypts a .pgp/.gpg download next to it. CD_OK with *plain (malloc'd
 * path) or a code with *why. */
static int decrypt(run_ctx *x, const candidate *cd, const bs_fetched *f, char **plain, char **why)
{
    json_t *pgp = json_object_get(x->root, "pgp");
    const char *key = cdc_secret_str(pgp, "private_key");
    if (!key) {
        *why = cdc_printf("%s is encrypted but connection_config.pgp.private_key is not set",
                          cd->e->name);
        return CD_ERR_CONFIG;
    }
    char *home = cdc_printf("%s/gnupg", x->work_dir);
    *plain = cdc_printf("%s.plain", f->local_path);
    char *err = NULL;
    int rc = bs_pgp_decrypt(f->local_path, *plain, home, key, cdc_secret_str(pgp, "passphrase"),
                            cdc_json_str(pgp, "signer_key", NULL), &err);
    free(home);
    if (rc != 0) {
        *why = cdc_printf("%s: %s", cd->e->name, err ? err : "decryption failed");
        free(err);
        unlink(*plain);
        free(*plain);
        *plain = NULL;
        return CD_ERR_PERMANENT;
    }
    return CD_OK;
}

/* The rows' batch_id: the file as loaded by this run, known before the
 * file's sha256 is (a streamed file gets its hash at the end). */
static char *batch_id(run_ctx *x, const candidate *cd)
{
    /* batch_id holds at most 100 characters: the name is cut to 80 bytes,
     * at a character boundary. Cut inside a UTF-8 sequence, every row of
     * the file was refused as not valid UTF-8, and the file, LOADED in the
     * ledger, was never read again. (Names are valid UTF-8: sftp.c skips
     * the others.) */
    const char *name = cd->e->name;
    size_t n = strlen(name);
    if (n > 80) {
        n = 80;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
    }
    return cdc_printf("run:%lld:%.*s", (long long)hostapi->run_info(x->run)->run_id, (int)n, name);
}

static const char *bank_name(run_ctx *x)
{
    const cd_run_info *ri = hostapi->run_info(x->run);
    return ri->source_entity && *ri->source_entity ? ri->source_entity
           : x->fmt.template_name                   ? x->fmt.template_name
                                                    : "BANK";
}

static void forget_checked(const run_ctx *x, const char *remote_path);

/* The file's rows are in the load: LOADED in the ledger (in the load's
 * transaction: gone again if the run fails). A file whose every row was
 * refused (a bank that changed its date format) is FAILED instead: LOADED,
 * it would be skipped by every later run, so the day could not be loaded
 * once the connector's format is fixed. Its rows are record errors of the
 * run either way. */
static int file_loaded(run_ctx *x, const candidate *cd, bs_fetched *f, bs_mapper *m)
{
    const bs_entry *e = cd->e;
    int64_t rows = bs_mapper_emitted(m), bad = bs_mapper_errors(m);
    int refused = rows == 0 && bad > 0;
    char *reason = refused ? cdc_printf("%s: every row refused (%lld bad); the file is read again"
                                        " by the next run for its date",
                                        e->name, (long long)bad)
                           : NULL;
    int rc = bs_ledger_record(&x->ledger, cd->path, e->size, e->mtime, f->sha256,
                              refused ? "FAILED" : "LOADED", rows, reason);
    if (rc != CD_OK) {
        free(reason);
        hostapi->set_message(x->run, "%s: the file ledger could not record it", e->name);
        return rc;
    }
    if (refused)
        hostapi->log(x->run, CD_LOG_ERROR, "%s", reason);
    else
        hostapi->log(x->run, CD_LOG_INFO, "%s: %lld row(s) read, %lld bad", e->name,
                     (long long)rows, (long long)bad);
    json_t *d = json_pack("{s:s, s:s, s:I, s:I, s:s}", "file", e->name, "status",
                          refused ? "REFUSED" : "LOADED", "rows", (json_int_t)rows, "bad_rows",
                          (json_int_t)bad, "sha256", f->sha256);
    free(reason);
    json_array_append_new(x->files, d);
    x->loaded_files++;
    bs_fetch_discard(f);
    forget_checked(x, cd->path); /* another version of the path now */
    return CD_OK;
}

/* What the reader's code means for the file and the run: CD_OK to go on
 * with the next file, or the code that ends the run. */
static int read_outcome(run_ctx *x, const candidate *cd, bs_fetched *f, bs_mapper *m, int rc,
                        const char *why)
{
    const bs_entry *e = cd->e;
    int64_t rows = bs_mapper_emitted(m);
    const char *sha = f->sha256[0] ? f->sha256 : NULL;
    if (rc == BS_STOP_HEADER) {
        /* the header comes before any row: nothing of the file is loaded */
        file_failed(x, cd, sha, CD_ERR_PERMANENT,
                    bs_mapper_error(m) ? bs_mapper_error(m) : "header mismatch");
        bs_fetch_discard(f);
        return CD_OK;
    }
    if (rc == CD_ERR_PERMANENT && why) {
        char *r = cdc_printf("%s: %s", e->name, why);
        file_failed(x, cd, sha, CD_ERR_PERMANENT, r);
        free(r);
        if (rows == 0) {
            bs_fetch_discard(f);
            return CD_OK; /* nothing of it went into the load: the others may */
        }
        hostapi->set_message(x->run, "%s: %s", e->name, why);
        return rc;
    }
    if (why)
        hostapi->set_message(x->run, "%s: %s", e->name, why);
    return rc;
}

/* A streamed file that failed its checksum had its rows in the load
 * already, so it failed the whole run; streamed again on the retry, it
 * would fail it again, and every other file of the day with it. The note
 * "verify-KEY" in the work directory (it outlives the run) says: this
 * version (size and mtime) is downloaded and checked before it is read,
 * so it fails alone. */
static char *verify_note_path(const run_ctx *x, const candidate *cd)
{
    char key[65];
    bs_sha256_hex(cd->path, strlen(cd->path), key);
    return cdc_printf("%s/verify-%.24s", x->work_dir, key);
}

static void note_verify_first(const run_ctx *x, const candidate *cd)
{
    char *path = verify_note_path(x, cd);
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%lld %lld\n", (long long)cd->e->size, (long long)cd->e->mtime);
        fclose(f);
    }
    free(path);
}

/* The version verified: a later stream of it would pass as well. */
static void forget_verify_first(const run_ctx *x, const candidate *cd)
{
    char *path = verify_note_path(x, cd);
    if (path && unlink(path) != 0 && errno != ENOENT)
        hostapi->log(x->run, CD_LOG_WARNING, "cannot remove %s: %s", path, strerror(errno));
    free(path);
}

static int must_verify_first(const run_ctx *x, const candidate *cd)
{
    char *path = verify_note_path(x, cd);
    FILE *f = path ? fopen(path, "r") : NULL;
    long long size = -1, mtime = -1;
    int hit = f && fscanf(f, "%lld %lld", &size, &mtime) == 2 && size == cd->e->size &&
              mtime == cd->e->mtime;
    if (f)
        fclose(f);
    if (f && !hit)
        unlink(path); /* another version now: stream it again */
    free(path);
    return hit;
}

/* A loaded file put again under its name with the same content (a bank
 * re-uploading it, a new mtime): the ledger keeps the loaded version's size
 * and mtime, so every run downloaded it again to learn, by its sha256, that
 * it was loaded. The note "checked-KEY" in the work directory remembers what
 * that download found: this version (size and mtime) of the path holds
 * content of this sha256. The next run asks the ledger about that sha256
 * instead of downloading: LOADED is skipped. The ledger stays the judge (a
 * ledger row removed to have the file loaded again is honoured); the note
 * only stands in for the download, on the same terms as the ledger's own
 * size and mtime. */
static char *checked_note_path(const run_ctx *x, const char *path)
{
    char key[65];
    bs_sha256_hex(path, strlen(path), key);
    return cdc_printf("%s/checked-%.24s", x->work_dir, key);
}

static void note_checked(const run_ctx *x, const candidate *cd, const char *sha)
{
    char *path = checked_note_path(x, cd->path);
    char *tmp = path ? cdc_printf("%s.tmp", path) : NULL;
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    int ok = f && fprintf(f, "%lld %lld %s\n", (long long)cd->e->size, (long long)cd->e->mtime,
                          sha) > 0;
    if (f && fclose(f) != 0)
        ok = 0;
    /* renamed into place: a half-written note is never read */
    if (!ok || rename(tmp, path) != 0) {
        hostapi->log(x->run, CD_LOG_WARNING,
                     "%s: cannot keep a note of its check in %s (%s); the next run downloads "
                     "it again",
                     cd->e->name, x->work_dir, strerror(errno));
        if (tmp)
            unlink(tmp);
    }
    free(tmp);
    free(path);
}

static void forget_checked(const run_ctx *x, const char *remote_path)
{
    if (!x->work_dir)
        return;
    char *path = checked_note_path(x, remote_path);
    if (path && unlink(path) != 0 && errno != ENOENT)
        hostapi->log(x->run, CD_LOG_WARNING, "cannot remove %s: %s", path, strerror(errno));
    free(path);
}

/* The sha256 the note holds for this version of the path: 1 with sha[],
 * or 0 (no note, or one of another version, which is removed). */
static int checked_sha(const run_ctx *x, const char *remote_path, int64_t size, int64_t mtime,
                       char sha[65])
{
    char *path = checked_note_path(x, remote_path);
    FILE *f = path ? fopen(path, "r") : NULL;
    long long sz = -1, mt = -1;
    char hexd[65] = "";
    int hit = f && fscanf(f, "%lld %lld %64s", &sz, &mt, hexd) == 3 && sz == size &&
              mt == mtime && size >= 0 && mtime >= 0 && strlen(hexd) == 64 &&
              strspn(hexd, "0123456789abcdef") == 64;
    if (f)
        fclose(f);
    if (f && !hit)
        unlink(path); /* another version now */
    free(path);
    if (hit)
        memcpy(sha, hexd, 65);
    return hit;
}

/* What the ledger says of a listed file before any download: by path,
 * size and mtime, then, for a version checked by an earlier download (a
 * re-drop), by the content that download found. *via_sha (when not NULL)
 * is set to that content's sha256, or "". CD_OK or the ledger's error. */
static int lookup_listed(run_ctx *x, const char *path, const bs_entry *e, cd_file_state *st,
                         char via_sha[65])
{
    if (via_sha)
        via_sha[0] = '\0';
    int rc = bs_ledger_lookup(&x->ledger, path, e->size, e->mtime, NULL, st);
    if (rc != CD_OK || *st == CD_FILE_LOADED)
        return rc;
    char sha[65];
    if (!checked_sha(x, path, e->size, e->mtime, sha))
        return CD_OK;
    cd_file_state by_sha = CD_FILE_NEW;
    rc = bs_ledger_lookup(&x->ledger, path, e->size, e->mtime, sha, &by_sha);
    if (rc != CD_OK)
        return rc;
    if (by_sha == CD_FILE_LOADED) {
        *st = CD_FILE_LOADED;
        if (via_sha)
            memcpy(via_sha, sha, 65);
    } else {
        forget_checked(x, path); /* no longer loaded: it is read again */
    }
    return CD_OK;
}

/* A file no loaded content can equal (no loaded version has its size):
 * its rows go to the load while it downloads; its sha256 is known at the
 * end. A checksum mismatch found then fails the run, whose load rolls
 * back (the bank's copy is retried). Returns as process_file. */
static int process_streamed(run_ctx *x, const candidate *cd)
{
    const bs_entry *e = cd->e;
    char want[65];
    int end_rc;
    if (expect_digest(x, cd, want, &end_rc) != 0)
        return end_rc;
    char *why = NULL;
    int rc = start_records(x);
    if (rc != CD_OK)
        return rc;
    char *batch = batch_id(x, cd);
    bs_mapper *m = bs_mapper_new(&x->fmt, hostapi, x->run, e->name, bank_name(x), batch);
    free(batch);
    if (!m) {
        hostapi->set_message(x->run, "out of memory");
        return CD_ERR_TRANSIENT;
    }
    bs_text_reader *tr = bs_text_reader_new(&x->fmt, m, &rc, &why);
    if (!tr) {
        rc = read_outcome(x, cd, &(bs_fetched){0}, m, rc, why);
        free(why);
        bs_mapper_free(m);
        return rc;
    }
    bs_fetch_opts opts = {wants_md5(x), bs_text_reader_feed, tr};
    bs_fetched f;
    rc = bs_fetch(&x->c, x->work_dir, cd->path, e->size, e->mtime, &opts, &f, &why);
    if (f.resumed_at)
        file_detail(x, e->name, "RESUMED", (int64_t)f.resumed_at, NULL,
                    "download resumed at this byte offset");
    if (rc != CD_OK && !f.stopped) {
        /* the transfer broke off: the partial copy stays for the next
         * attempt to resume; the rows read so far go with this run */
        hostapi->set_message(x->run, "%s", why ? why : "download failed");
        bs_ledger_record(&x->ledger, cd->path, e->size, e->mtime, NULL, "FAILED", 0, why);
        goto out;
    }
    if (rc == CD_OK)
        rc = bs_text_reader_finish(tr);
    if (rc != CD_OK) {
        rc = read_outcome(x, cd, &f, m, rc, why);
        goto out;
    }
    rc = check_sidecar(x, cd, want, &f, &why);
    if (rc != CD_OK) {
        bs_fetch_discard(&f); /* a bad copy must not be resumed */
        if (bs_mapper_emitted(m) == 0) {
            file_failed(x, cd, f.sha256, rc, why);
            rc = CD_OK;
            goto out;
        }
        /* its rows are in the load already: the run must not commit them */
        file_failed(x, cd, f.sha256, rc, why);
        note_verify_first(x, cd);
        hostapi->set_message(x->run, "%s", why);
        goto out;
    }
    cd_file_state st = CD_FILE_NEW;
    rc = bs_ledger_lookup(&x->ledger, cd->path, e->size, e->mtime, f.sha256, &st);
    if (rc != CD_OK)
        goto out;
    if (st == CD_FILE_LOADED) {
        /* only if another writer loaded this content meanwhile */
        hostapi->set_message(x->run, "%s: the same content (sha256 %s) was loaded by another run "
                                     "while this one read it; retrying",
                             e->name, f.sha256);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    if (st == CD_FILE_CHANGED) {
        hostapi->log(x->run, CD_LOG_WARNING,
                     "%s: content changed since it was loaded; loading it as a new version",
                     e->name);
        json_array_append_new(x->new_versions, json_pack("{s:s, s:s}", "file", e->name,
                                                         "sha256", f.sha256));
    }
    bs_ledger_record(&x->ledger, cd->path, e->size, e->mtime, f.sha256, "DOWNLOADED", -1, NULL);
    rc = file_loaded(x, cd, &f, m);
out:
    free(why);
    bs_text_reader_free(tr);
    bs_mapper_free(m);
    bs_fetched_free(&f);
    return rc;
}

/* Downloaded completely first, then read from the local copy: XLSX (a zip
 * is read from its end), PGP (decrypted as a whole), and files whose
 * content may have been loaded before (a loaded version has this size), so
 * the sha256 decides before any row is loaded. Returns as process_file. */
/* Removes and frees a decrypted copy: decrypted bank data never outlives
 * its use, whichever way the file's processing ends. */
static void drop_plain(char *plain)
{
    if (plain)
        unlink(plain);
    free(plain);
}

static int process_downloaded(run_ctx *x, const candidate *cd, cd_file_state listed)
{
    const bs_entry *e = cd->e;
    char want[65];
    int end_rc;
    if (expect_digest(x, cd, want, &end_rc) != 0)
        return end_rc;
    char *why = NULL;
    bs_fetch_opts opts = {wants_md5(x), NULL, NULL};
    bs_fetched f;
    int rc = bs_fetch(&x->c, x->work_dir, cd->path, e->size, e->mtime, &opts, &f, &why);
    if (rc != CD_OK) {
        /* the partial copy stays for the next attempt to resume */
        hostapi->set_message(x->run, "%s", why ? why : "download failed");
        bs_ledger_record(&x->ledger, cd->path, e->size, e->mtime, NULL, "FAILED", 0, why);
        free(why);
        bs_fetched_free(&f);
        return rc;
    }
    if (f.resumed_at)
        file_detail(x, e->name, "RESUMED", (int64_t)f.resumed_at, NULL, "download resumed at this byte offset");
    rc = check_sidecar(x, cd, want, &f, &why);
    if (rc != CD_OK) {
        bs_fetch_discard(&f); /* a bad copy must not be resumed */
        file_failed(x, cd, f.sha256, rc, why ? why : "checksum check failed");
        free(why);
        bs_fetched_free(&f);
        return CD_OK;
    }
    if (want[0])
        forget_verify_first(x, cd);
    cd_file_state st = CD_FILE_NEW;
    rc = bs_ledger_lookup(&x->ledger, cd->path, e->size, e->mtime, f.sha256, &st);
    if (rc != CD_OK) {
        bs_fetched_free(&f);
        return rc;
    }
    if (st == CD_FILE_LOADED) {
        char *r = cdc_printf("same content (sha256 %s) was loaded before", f.sha256);
        hostapi->log(x->run, CD_LOG_INFO, "%s: %s; not loaded again", e->name, r);
        bs_ledger_record(&x->ledger, cd->path, e->size, e->mtime, f.sha256, "SKIPPED_DUPLICATE",
                         0, r);
        file_detail(x, e->name, "SKIPPED_DUPLICATE", 0, f.sha256, r);
        free(r);
        /* The path was loaded with another size or mtime (a re-drop of
         * loaded content): the ledger's row of this content keeps the
         * loaded version's, and would send every run to download it
         * again. (A path never loaded, a renamed copy, gets a
         * SKIPPED_DUPLICATE row of its own with this size and mtime.) */
        if (listed == CD_FILE_CHANGED)
            note_checked(x, cd, f.sha256);
        x->skipped++;
        bs_fetch_discard(&f);
        bs_fetched_free(&f);
        return CD_OK;
    }
    if (st == CD_FILE_CHANGED) {
        hostapi->log(x->run, CD_LOG_WARNING,
                     "%s: content changed since it was loaded; loading it as a new version",
                     e->name);
        json_array_append_new(x->new_versions, json_pack("{s:s, s:s}", "file", e->name,
                                                         "sha256", f.sha256));
    }
    bs_ledger_record(&x->ledger, cd->path, e->size, e->mtime, f.sha256, "DOWNLOADED", -1, NULL);

    char *plain = NULL;
    if (bs_pgp_name(e->name)) {
        rc = decrypt(x, cd, &f, &plain, &why);
        if (rc != CD_OK) {
            bs_fetch_discard(&f);
            file_failed(x, cd, f.sha256, rc, why);
            free(why);
            bs_fetched_free(&f);
            return CD_OK;
        }
    }
    rc = start_records(x);
    if (rc != CD_OK) {
        bs_fetched_free(&f);
        drop_plain(plain);
        return rc;
    }
    char *batch = batch_id(x, cd);
    bs_mapper *m = bs_mapper_new(&x->fmt, hostapi, x->run, e->name, bank_name(x), batch);
    free(batch);
    if (!m) {
        hostapi->set_message(x->run, "out of memory");
        bs_fetched_free(&f);
        drop_plain(plain);
        return CD_ERR_TRANSIENT;
    }
    rc = bs_read_file(plain ? plain : f.local_path, &x->fmt, m, &why);
    drop_plain(plain);
    if (rc != CD_OK)
        rc = read_outcome(x, cd, &f, m, rc, why);
    else
        rc = file_loaded(x, cd, &f, m);
    free(why);
    bs_mapper_free(m);
    bs_fetched_free(&f);
    return rc;
}

/* A listed file the ledger knows as loaded (lookup_listed): skipped,
 * without a download. */
static void settle_loaded(run_ctx *x, const candidate *cd, const char *via)
{
    if (via && via[0])
        hostapi->log(x->run, CD_LOG_INFO,
                     "%s: already loaded (same size and mtime as when an earlier run checked "
                     "it: sha256 %s, loaded before), skipped",
                     cd->e->name, via);
    else
        hostapi->log(x->run, CD_LOG_INFO, "%s: already loaded (same size and mtime), skipped",
                     cd->e->name);
    file_detail(x, cd->e->name, "ALREADY_LOADED", -1, via && via[0] ? via : NULL, NULL);
    x->skipped++;
}

/* One complete file. Returns CD_OK to go on with the next file, or the
 * code that ends the run. */
static int process_file(run_ctx *x, const candidate *cd)
{
    cd_file_state st = CD_FILE_NEW;
    const bs_entry *e = cd->e;
    char via[65];
    int rc = lookup_listed(x, cd->path, e, &st, via);
    if (rc != CD_OK)
        return rc;
    if (st == CD_FILE_LOADED) {
        settle_loaded(x, cd, via);
        return CD_OK;
    }
    bs_ledger_record(&x->ledger, cd->path, e->size, e->mtime, NULL, "SEEN", -1, NULL);
    /* Stream when the sha256 cannot make it a duplicate: no loaded content
     * has this size (ABI 1.2 file_size_loaded). */
    int possible = 1;
    if (x->fmt.type != BS_XLSX && !bs_pgp_name(e->name) && e->size >= 0 &&
        CD_HOST_HAS(hostapi, file_size_loaded) && hostapi->file_size_loaded) {
        cd_file_info fi = {(uint32_t)sizeof fi, cd->path, e->size, e->mtime, NULL};
        rc = hostapi->file_size_loaded(x->run, &fi, &possible);
        if (rc != CD_OK)
            return rc;
    }
    if (!possible && must_verify_first(x, cd)) {
        hostapi->log(x->run, CD_LOG_INFO,
                     "%s: failed its checksum when streamed before: downloaded and verified "
                     "before it is read", e->name);
        possible = 1;
    }
    return possible ? process_downloaded(x, cd, st) : process_streamed(x, cd);
}

/* ---- post_action: only once the data is committed ----
 *
 * Moving or deleting a file before its rows are committed loses it when
 * the commit fails. So run() only notes which files qualify (loaded now,
 * or loaded before: ALREADY_LOADED, SKIPPED_DUPLICATE) and the host calls
 * committed() after the commit (ABI 1.2). If that never happens or fails
 * (runner killed after the commit, SFTP down), the ledger still says the
 * files were loaded while the drop box still holds them: that pair is the
 * bookkeeping. Each run starts by catching up: every file of the pattern
 * (any date) still in remote_path that the ledger knows as loaded with
 * this size and mtime gets its post action then. A file changed since it
 * was loaded is never touched (it is a new version to load). */

/* Per-run state (one process per run): the files committed() acts on. */
static json_t *after_commit;
static int host_calls_committed;

static const char *post_action_of(const json_t *root)
{
    return cdc_json_str(root, "post_action", "none");
}

/* Moves or deletes one remote file. CD_OK, or a code with *why. */
static int act_on_file(bs_sftp *c, const json_t *root, const char *path, const char *name,
                       char **why)
{
    if (strcmp(post_action_of(root), "delete") == 0)
        return bs_sftp_unlink(c, path, why);
    char *to = join_path(cdc_json_str(root, "processed_path", "/"), name);
    int rc = bs_sftp_rename(c, path, to, why);
    free(to);
    return rc;
}

/* The data file's companions go with it: its checksum sidecars and its done
 * marker. Left behind, a marker would vouch for the next file of the same
 * name before that one is complete. A companion that is not there is
 * skipped; one that cannot be moved is a warning, the data file's action
 * stands. */
static void act_on_companions(bs_sftp *c, const json_t *root, const char *path, const char *name)
{
    const char *suffixes[] = {".sha256", ".md5", cdc_json_str(root, "done_marker_suffix", NULL)};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (!suffixes[i] || !*suffixes[i])
            continue;
        char *cpath = cdc_printf("%s%s", path, suffixes[i]);
        char *cname = cdc_printf("%s%s", name, suffixes[i]);
        char *why = NULL;
        int64_t sz = -1, mt = -1;
        if (cpath && cname && bs_sftp_stat(c, cpath, &sz, &mt, &why) == CD_OK &&
            act_on_file(c, root, cpath, cname, &why) != CD_OK)
            c->host->log(c->run, CD_LOG_WARNING, "post_action %s: %s left in place: %s",
                         post_action_of(root), cname, why ? why : "?");
        free(why);
        free(cpath);
        free(cname);
    }
}

static int do_post_action(bs_sftp *c, const json_t *root, const char *path, const char *name,
                          char **why)
{
    int rc = act_on_file(c, root, path, name, why);
    if (rc == CD_OK)
        act_on_companions(c, root, path, name);
    return rc;
}

/* Acts on a file only while it is the version that was loaded. */
static int post_action_if_unchanged(run_ctx *x, bs_sftp *c, const char *path, const char *name,
                                    int64_t size, int64_t mtime)
{
    const char *action = post_action_of(x->root);
    int64_t sz = -1, mt = -1;
    char *why = NULL;
    int rc = bs_sftp_stat(c, path, &sz, &mt, &why);
    if (rc == 1) {
        hostapi->log(x->run, CD_LOG_INFO, "post_action %s: %s is gone already", action, name);
        return CD_OK;
    }
    if (rc == CD_OK && (sz != size || mt != mtime)) {
        hostapi->log(x->run, CD_LOG_WARNING,
                     "post_action %s: %s changed since it was loaded (size %lld -> %lld); left "
                     "in place for the next run to load",
                     action, name, (long long)size, (long long)sz);
        return CD_OK;
    }
    if (rc == CD_OK)
        rc = do_post_action(c, x->root, path, name, &why);
    if (rc != CD_OK)
        hostapi->log(x->run, CD_LOG_WARNING, "post_action %s of %s failed: %s; a later run tries "
                                             "again", action, name, why ? why : "?");
    else {
        hostapi->log(x->run, CD_LOG_INFO, "post_action %s: %s %s", action, name,
                     strcmp(action, "delete") == 0 ? "deleted" : "moved");
        forget_checked(x, path);
    }
    free(why);
    return rc;
}

/* The start of a run: files loaded by earlier runs and still in place get
 * their post action now (their rows are committed). Sets acted[i] for the
 * entries it moved or deleted. Returns CD_OK or the ledger's error. */
static int catch_up(run_ctx *x, const bs_entry *ents, size_t nents, unsigned char *acted)
{
    if (strcmp(post_action_of(x->root), "none") == 0)
        return CD_OK;
    const char *marker = cdc_json_str(x->root, "done_marker_suffix", NULL);
    char *any = bs_pattern_any_date(cdc_json_str(x->root, "file_pattern", "*"));
    if (!any)
        return CD_ERR_TRANSIENT;
    json_t *done = json_array();
    int rc = CD_OK;
    for (size_t i = 0; i < nents && rc == CD_OK; i++) {
        const bs_entry *e = &ents[i];
        if (!e->is_file || bs_is_temp_name(e->name) || bs_is_sidecar(e->name, marker) ||
            !bs_pattern_match(any, e->name))
            continue;
        char *path = join_path(x->remote, e->name);
        cd_file_state st = CD_FILE_NEW;
        rc = lookup_listed(x, path, e, &st, NULL);
        if (rc == CD_OK && st == CD_FILE_LOADED) {
            char *why = NULL;
            if (do_post_action(&x->c, x->root, path, e->name, &why) == CD_OK) {
                acted[i] = 1;
                forget_checked(x, path);
                json_array_append_new(done, json_string(e->name));
                hostapi->log(x->run, CD_LOG_INFO,
                             "post_action %s: %s (loaded by an earlier run) %s now",
                             post_action_of(x->root), e->name,
                             strcmp(post_action_of(x->root), "delete") == 0 ? "deleted" : "moved");
            } else {
                hostapi->log(x->run, CD_LOG_WARNING, "post_action %s of %s failed: %s",
                             post_action_of(x->root), e->name, why ? why : "?");
            }
            free(why);
        }
        free(path);
    }
    if (json_array_size(done)) {
        char *t = json_dumps(done, JSON_COMPACT);
        if (t)
            hostapi->set_detail(x->run, "post_action_caught_up", t);
        free(t);
    }
    json_decref(done);
    free(any);
    return rc;
}

/* The end of run(): which files committed() acts on. */
static void queue_post_action(run_ctx *x, const candidate *cands, size_t n)
{
    json_decref(after_commit);
    after_commit = NULL;
    if (strcmp(post_action_of(x->root), "none") == 0)
        return;
    after_commit = json_array();
    json_t *names = json_array();
    for (size_t i = 0; i < n; i++) {
        size_t k;
        json_t *f;
        int take = 0;
        json_array_foreach(x->files, k, f) {
            const char *st = json_string_value(json_object_get(f, "status"));
            if (strcmp(json_string_value(json_object_get(f, "file")), cands[i].e->name) == 0 &&
                (strcmp(st, "LOADED") == 0 || strcmp(st, "ALREADY_LOADED") == 0 ||
                 strcmp(st, "SKIPPED_DUPLICATE") == 0))
                take = 1;
        }
        if (!take)
            continue;
        json_array_append_new(after_commit,
                              json_pack("{s:s, s:s, s:I, s:I}", "path", cands[i].path, "name",
                                        cands[i].e->name, "size", (json_int_t)cands[i].e->size,
                                        "mtime", (json_int_t)cands[i].e->mtime));
        json_array_append_new(names, json_string(cands[i].e->name));
    }
    /* The host calls back only after committing records: a run that
     * loaded no file leaves its (already loaded) files to the next run's
     * catch-up. */
    int called_back = host_calls_committed && x->loaded_files > 0;
    if (json_array_size(names)) {
        json_t *d = json_pack("{s:s, s:O}", "action", post_action_of(x->root),
                              called_back ? "after_commit" : "next_run", names);
        char *t = json_dumps(d, JSON_COMPACT);
        if (t)
            hostapi->set_detail(x->run, "post_action", t);
        free(t);
        json_decref(d);
        if (!called_back && host_calls_committed)
            hostapi->log(x->run, CD_LOG_INFO,
                         "post_action %s of the files loaded before waits for the next run",
                         post_action_of(x->root));
        else if (!called_back)
            hostapi->log(x->run, CD_LOG_INFO,
                         "post_action %s waits for the next run: this connectord does not call "
                         "drivers back after the commit (plugin ABI < 1.2)",
                         post_action_of(x->root));
    }
    json_decref(names);
}

/* ABI 1.2: the run's rows and ledger rows are committed; move or delete
 * the files now. Failures are warnings: the next run catches up. */
static void committed(cd_run *run)
{
#ifdef CD_TEST_HOOKS
    /* Tests: the runner dies between the commit and the post action. */
    if (getenv("CD_TEST_BANK_SFTP_DIE_AFTER_COMMIT"))
        raise(SIGKILL);
#endif
    if (!after_commit || json_array_size(after_commit) == 0)
        return;
    run_ctx x;
    memset(&x, 0, sizeof x);
    x.run = run;
    x.work_dir = hostapi->work_dir(run);
    json_error_t err;
    x.root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!x.root)
        return;
    int rc = bs_sftp_open(&x.c, hostapi, run, x.root, 0);
    if (rc != CD_OK) {
        hostapi->log(run, CD_LOG_WARNING,
                     "post_action %s: cannot connect after the commit (%s); the next run does it",
                     post_action_of(x.root), x.c.error ? x.c.error : "?");
    } else {
        size_t i;
        json_t *f;
        json_array_foreach(after_commit, i, f) {
            if (hostapi->is_cancelled(run)) {
                hostapi->log(run, CD_LOG_WARNING, "post_action %s: stopped (deadline or "
                                                  "cancel); the next run does the rest",
                             post_action_of(x.root));
                break;
            }
            post_action_if_unchanged(&x, &x.c, json_string_value(json_object_get(f, "path")),
                                     json_string_value(json_object_get(f, "name")),
                                     json_integer_value(json_object_get(f, "size")),
                                     json_integer_value(json_object_get(f, "mtime")));
        }
    }
    bs_sftp_close(&x.c);
    json_decref(x.root);
    json_decref(after_commit);
    after_commit = NULL;
}

static int run_driver(cd_run *run)
{
    run_ctx x;
    memset(&x, 0, sizeof x);
    x.run = run;
    x.c.fd = -1;
    x.ledger.host = hostapi;
    x.ledger.run = run;
    x.files = json_array();
    x.new_versions = json_array();
    candidate *cands = NULL;
    size_t ncands = 0;
    bs_entry *ents = NULL;
    size_t nents = 0;
    char (*days)[11] = NULL;
    unsigned char *acted = NULL;
    char *why = NULL, *shown = NULL;
    int rc;
    json_error_t err;

    x.root = cdc_config_parse(hostapi->run_info(run), &err);
    if (!x.root) {
        hostapi->set_message(run, "connection_config is not valid JSON: %s", err.text);
        rc = CD_ERR_CONFIG;
        goto out;
    }
    if (check_config(run, x.root) > 0) {
        hostapi->set_message(run, "connection_config is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    if (!bs_ledger_available(hostapi)) {
        hostapi->set_message(run, "bank_sftp needs a connectord with plugin ABI 1.1 (file ledger)");
        rc = CD_ERR_PERMANENT;
        goto out;
    }
    x.work_dir = hostapi->work_dir(run);
    if (!x.work_dir) {
        hostapi->set_message(run, "no work directory for downloads (see the run's log)");
        rc = CD_ERR_PERMANENT;
        goto out;
    }
    if (bs_format_load(x.root, &x.fmt, format_problem, run) != 0) {
        hostapi->set_message(run, "connection_config format is invalid (see the run's log)");
        rc = CD_ERR_CONFIG;
        goto out;
    }
    x.have_fmt = 1;
    const cd_run_info *ri = hostapi->run_info(run);
    size_t ndays = 0;
    days = date_range(ri->window_from, ri->window_to, &ndays);
    if (!days || ndays == 0) {
        hostapi->set_message(run, "the run's window %s..%s is not a date range", ri->window_from,
                             ri->window_to);
        rc = CD_ERR_CONFIG;
        goto out;
    }
    rc = bs_sftp_open(&x.c, hostapi, run, x.root, 0);
    if (rc != CD_OK)
        goto out;
    x.remote = cdc_json_str(x.root, "remote_path", "/");
    rc = bs_sftp_list(&x.c, x.remote, &ents, &nents, &why);
    if (rc != CD_OK) {
        hostapi->set_message(run, "%s", why);
        goto out;
    }
    const char *marker = cdc_json_str(x.root, "done_marker_suffix", NULL);
    const char *checksum = cdc_json_str(x.root, "checksum", "none");
    const char *pattern = cdc_json_str(x.root, "file_pattern", "*");
    cands = calloc(nents ? nents : 1, sizeof *cands);
    acted = calloc(nents ? nents : 1, 1);
    if (!cands || !acted) {
        rc = CD_ERR_TRANSIENT;
        hostapi->set_message(run, "out of memory");
        goto out;
    }
    rc = catch_up(&x, ents, nents, acted);
    if (rc != CD_OK) {
        hostapi->set_message(run, "the file ledger could not be read (see the run's log)");
        goto out;
    }
    for (size_t i = 0; i < nents; i++) {
        const bs_entry *e = &ents[i];
        if (!e->is_file || bs_is_temp_name(e->name) || bs_is_sidecar(e->name, marker))
            continue;
        int match = 0;
        for (size_t d = 0; d < ndays && !match; d++) {
            char *pat = bs_pattern_expand(pattern, days[d]);
            match = pat && bs_pattern_match(pat, e->name);
            if (!shown && pat)
                shown = bs_pattern_display(pat);
            free(pat);
        }
        if (match && acted[i]) {
            /* loaded before; its post action was just caught up */
            file_detail(&x, e->name, "ALREADY_LOADED", -1, NULL, NULL);
            x.skipped++;
        } else if (match) {
            cands[ncands++] = (candidate){e, join_path(x.remote, e->name), NULL, 0};
        }
    }
    if (ncands == 0 && x.skipped > 0) {
        hostapi->set_message(run, "nothing new: %lld file(s) for %s already loaded",
                             (long long)x.skipped, ri->run_date);
        rc = CD_OK;
        goto out;
    }
    if (ncands == 0) {
        if (!shown) {
            char *pat = bs_pattern_expand(pattern, days[0]);
            shown = pat ? bs_pattern_display(pat) : strdup(pattern);
            free(pat);
        }
        hostapi->set_message(run, "no file matching %s in %s", shown ? shown : pattern, x.remote);
        rc = CD_ERR_TRANSIENT; /* banks are late: the retry policy decides */
        goto out;
    }
    qsort(cands, ncands, sizeof *cands, cand_cmp);

    /* Completeness: age, marker, sidecar, then the size over two listings;
     * not asked of a file already loaded in this very version. Its marker
     * or sidecar may be gone since (a bank cleaning up after the pickup),
     * which failed the day as "not complete" on every later run of it. */
    long min_age = (long)cdc_json_int(x.root, "min_file_age_seconds", 120);
    time_t now = time(NULL);
    size_t pending_stable = 0;
    for (size_t i = 0; i < ncands; i++) {
        candidate *cd = &cands[i];
        const bs_entry *e = cd->e;
        cd_file_state st = CD_FILE_NEW;
        char via[65];
        rc = lookup_listed(&x, cd->path, e, &st, via);
        if (rc != CD_OK) {
            hostapi->set_message(run, "the file ledger could not be read (see the run's log)");
            goto out;
        }
        if (st == CD_FILE_LOADED) {
            cd->loaded = 1;
            settle_loaded(&x, cd, via);
            continue;
        }
        if (e->mtime >= 0 && (long)(now - e->mtime) < min_age) {
            cd->reason = cdc_printf("modified %ld s ago, younger than min_file_age_seconds (%ld)",
                                    (long)(now - e->mtime), min_age);
            continue;
        }
        if (marker && *marker) {
            char *mk = cdc_printf("%s%s", e->name, marker);
            if (!find_entry(ents, nents, mk))
                cd->reason = cdc_printf("done marker %s is not there yet", mk);
            free(mk);
            if (cd->reason)
                continue;
        }
        if (strcmp(checksum, "none") != 0) {
            char *sc = cdc_printf("%s.%s", e->name, strcmp(checksum, "md5_sidecar") == 0 ? "md5" : "sha256");
            if (!find_entry(ents, nents, sc))
                cd->reason = cdc_printf("checksum sidecar %s is not there yet", sc);
            free(sc);
            if (cd->reason)
                continue;
        }
        pending_stable++;
    }
    long stable_s = (long)cdc_json_int(x.root, "size_stable_seconds", 3);
    if (pending_stable && stable_s > 0) {
        for (long w = 0; w < stable_s * 10; w++) {
            if (hostapi->is_cancelled(run)) {
                rc = CD_CANCELLED;
                goto out;
            }
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        for (size_t i = 0; i < ncands; i++) {
            candidate *cd = &cands[i];
            if (cd->reason || cd->loaded)
                continue;
            int64_t sz = -1, mt = -1;
            int src = bs_sftp_stat(&x.c, cd->path, &sz, &mt, &why);
            if (src == 1) {
                cd->reason = cdc_printf("disappeared while being checked");
            } else if (src != CD_OK) {
                hostapi->set_message(run, "%s", why);
                rc = src;
                goto out;
            } else if (sz != cd->e->size || mt != cd->e->mtime) {
                cd->reason = cdc_printf("still being written: size %lld -> %lld bytes in %ld s",
                                        (long long)cd->e->size, (long long)sz, stable_s);
            }
        }
    }
    size_t complete = 0;
    const candidate *first_incomplete = NULL;
    for (size_t i = 0; i < ncands; i++) {
        if (cands[i].reason) {
            hostapi->log(run, CD_LOG_INFO, "%s: not taken: %s", cands[i].e->name, cands[i].reason);
            bs_ledger_record(&x.ledger, cands[i].path, cands[i].e->size, cands[i].e->mtime, NULL,
                             "SEEN", -1, cands[i].reason);
            file_detail(&x, cands[i].e->name, "NOT_COMPLETE", -1, NULL, cands[i].reason);
            if (!first_incomplete)
                first_incomplete = &cands[i];
        } else if (!cands[i].loaded) {
            complete++;
        }
    }
    /* The day loads whole or waits: loading the complete files and ending
     * SUCCESS would leave the incomplete one behind for good, since the
     * date is not fetched again. */
    if (first_incomplete) {
        if (complete)
            hostapi->set_message(run, "%s in %s is not complete yet: %s (the %zu complete file(s) "
                                      "of the day wait for it)",
                                 first_incomplete->e->name, x.remote, first_incomplete->reason,
                                 complete);
        else
            hostapi->set_message(run, "%s in %s is not complete yet: %s", first_incomplete->e->name,
                                 x.remote, first_incomplete->reason);
        rc = CD_ERR_TRANSIENT;
        goto out;
    }
    for (size_t i = 0; i < ncands; i++) {
        if (cands[i].reason || cands[i].loaded)
            continue;
        if (hostapi->is_cancelled(run)) {
            rc = CD_CANCELLED;
            goto out;
        }
        rc = process_file(&x, &cands[i]);
        if (rc != CD_OK)
            goto out;
    }
    if (x.loaded_files == 0 && x.failed_files > 0) {
        hostapi->set_message(run, "%s", x.first_failure);
        rc = x.first_failure_rc ? x.first_failure_rc : CD_ERR_PERMANENT;
        goto out;
    }
    queue_post_action(&x, cands, ncands);
    if (x.loaded_files == 0)
        hostapi->set_message(run, "nothing new: %lld file(s) for %s already loaded",
                             (long long)x.skipped, ri->run_date);
    rc = CD_OK;
out:
    if (x.files) {
        char *t = json_dumps(x.files, JSON_COMPACT);
        if (t && json_array_size(x.files))
            hostapi->set_detail(run, "files", t);
        free(t);
        if (json_array_size(x.new_versions)) {
            t = json_dumps(x.new_versions, JSON_COMPACT);
            if (t)
                hostapi->set_detail(run, "new_versions", t);
            free(t);
        }
    }
    json_decref(x.files);
    json_decref(x.new_versions);
    for (size_t i = 0; i < ncands; i++) {
        free(cands[i].path);
        free(cands[i].reason);
    }
    free(cands);
    free(acted);
    bs_entries_free(ents, nents);
    bs_sftp_close(&x.c);
    if (x.have_fmt)
        bs_format_free(&x.fmt);
    free(x.first_failure);
    free(days);
    free(why);
    free(shown);
    json_decref(x.root);
    return rc;
}

static void destroy(void)
{
    json_decref(after_commit);
    after_commit = NULL;
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
    host_calls_committed = CD_CALLBACKS_HAS(cb, committed);
    if (host_calls_committed)
        cb->committed = committed;
    return CD_OK;
}

CONNECTORD_DRIVER(bank_sftp_magic, bank_sftp_init)
