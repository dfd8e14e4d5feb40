/* host_files.c — see host_files.h. */
#include "host_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"
#include "paths.h"
#include "record_schema.h"
#include "util.h"

/* The longest remote name the ledger keeps. */
#define PATH_MAX_BYTES 4096

/* mkdir -p with mode 0700 for every component we create. Existing
 * directories are left as they are, except the last one, which is forced
 * to 0700: it holds bank files and decrypted temporaries. */
static int mkdir_private(const char *path, char **err)
{
    /* After a connector's first run its directory is there as it should
     * be: one stat instead of a mkdir per component. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700)
        return 0;
    char *p = cd_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            *err = cd_sprintf("cannot create %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    free(p);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        *err = cd_sprintf("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *err = cd_sprintf("%s is not a directory", path);
        return -1;
    }
    if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) != 0) {
        *err = cd_sprintf("cannot make %s private (chmod 0700): %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cd_host_files_setup(cd_run *run, const cd_config *cfg)
{
    free(run->work_dir);
    run->work_dir = NULL;
    if (run->info.connector_id <= 0)
        return 0;
    const char *base = cd_config_string(cfg, "runner.work_dir", NULL);
    char *alloc = base ? NULL : cd_path_state("work");
    if (!base)
        base = alloc;
    char *dir = cd_sprintf("%s/%lld", base, (long long)run->info.connector_id);
    free(alloc);
    char *err = NULL;
    if (dir[0] != '/' || mkdir_private(dir, &err) != 0) {
        cd_host_table.log(run, CD_LOG_ERROR, "work directory: %s",
                          err ? err : "runner.work_dir must be an absolute path");
        free(err);
        free(dir);
        return -1;
    }
    run->work_dir = dir;
    return 0;
}

void cd_host_files_release(cd_run *run)
{
    free(run->work_dir);
    run->work_dir = NULL;
    json_decref(run->files_loaded);
    run->files_loaded = NULL;
}

const char *cd_host_work_dir(cd_run *run) { return run->work_dir; }

/* The text forms of a file's fields as query parameters. */
typedef struct file_params {
    char connector[24];
    char size[24];
    char mtime[24];
    const char *size_p;
    const char *mtime_p;
} file_params;

static int file_params_init(cd_run *run, const cd_file_info *file, file_params *fp)
{
    if (!file || file->struct_size < offsetof(cd_file_info, sha256_hex) + sizeof(const char *) ||
        !file->remote_path || !*file->remote_path) {
        cd_host_table.log(run, CD_LOG_ERROR, "file ledger: a file without a remote_path");
        return -1;
    }
    /* The ledger keys a file by its name as text: a name PostgreSQL cannot
     * hold, or one that would have to be cut, could be recorded but never
     * found again, and the file would be loaded on every run. */
    size_t plen = strlen(file->remote_path);
    if (plen > PATH_MAX_BYTES || cd_rs_utf8_chars(file->remote_path, plen) < 0) {
        cd_host_table.log(run, CD_LOG_ERROR,
                          "file ledger: remote_path %s is %s; the driver must skip such a file "
                          "or name it in valid UTF-8",
                          file->remote_path,
                          plen > PATH_MAX_BYTES ? "too long" : "not valid UTF-8");
        return -1;
    }
    if (file->sha256_hex) {
        size_t n = strlen(file->sha256_hex);
        int ok = n == 64;
        for (size_t i = 0; ok && i < n; i++)
            ok = strchr("0123456789abcdef", file->sha256_hex[i]) != NULL;
        if (!ok) {
            cd_host_table.log(run, CD_LOG_ERROR,
                              "file ledger: sha256 of %s is not 64 lower-case hex digits",
                              file->remote_path);
            return -1;
        }
    }
    snprintf(fp->connector, sizeof fp->connector, "%lld", (long long)run->info.connector_id);
    snprintf(fp->size, sizeof fp->size, "%lld", (long long)file->size);
    snprintf(fp->mtime, sizeof fp->mtime, "%lld", (long long)file->mtime);
    fp->size_p = file->size >= 0 ? fp->size : NULL;
    fp->mtime_p = file->mtime >= 0 ? fp->mtime : NULL;
    return 0;
}

/* What this run marked LOADED (not yet written) says about a file:
 * CD_FILE_LOADED / CD_FILE_CHANGED, or -1 when it knows nothing. */
static int pending_state(cd_run *run, const cd_file_info *file)
{
    const char *key;
    json_t *v;
    int state = -1;
    json_object_foreach(run->files_loaded, key, v) {
        const char *nl = strrchr(key, '\n');
        size_t plen = (size_t)(nl - key);
        int same_path = strlen(file->remote_path) == plen &&
                        strncmp(key, file->remote_path, plen) == 0;
        if (file->sha256_hex) {
            if (strcmp(nl + 1, file->sha256_hex) == 0)
                return CD_FILE_LOADED;
            if (same_path)
                state = CD_FILE_CHANGED;
        } else if (same_path) {
            json_int_t sz = json_integer_value(json_object_get(v, "size"));
            json_int_t mt = json_integer_value(json_object_get(v, "mtime"));
            return (file->size < 0 || sz == file->size) && (file->mtime < 0 || mt == file->mtime)
                       ? CD_FILE_LOADED
                       : CD_FILE_CHANGED;
        }
    }
    return state;
}

int cd_host_file_lookup(cd_run *run, const cd_file_info *file, cd_file_state *state)
{
    file_params fp;
    if (!state || file_params_init(run, file, &fp) != 0)
        return CD_ERR_PERMANENT;
    *state = CD_FILE_NEW;
    int pending = pending_state(run, file);
    if (pending == CD_FILE_LOADED) {
        *state = CD_FILE_LOADED;
        return CD_OK;
    }
    /* The data connection may be in the middle of the sink's COPY: the
     * ledger is read on the control connection, and this run's own LOADED
     * files come from memory (pending_state). */
    PGconn *conn = cd_run_ctl(run);
    if (!conn) {
        cd_host_table.log(run, CD_LOG_ERROR, "file ledger: no database connection");
        return CD_ERR_TRANSIENT;
    }
    char *err = NULL;
    PGresult *r;
    if (file->sha256_hex) {
        /* Content first: a rename or a re-drop of loaded content is LOADED
         * whatever its name; then the path: loaded before with other
         * content means a new version. */
        const char *p[] = {fp.connector, file->sha256_hex, file->remote_path};
        r = cd_db_exec(conn, "looking up a file in the ledger", PGRES_TUPLES_OK,
                       "SELECT EXISTS (SELECT 1 FROM sp_v2_connector_files WHERE connector_id = $1"
                       "  AND sha256 = $2 AND status = 'LOADED'),"
                       " EXISTS (SELECT 1 FROM sp_v2_connector_files WHERE connector_id = $1"
                       "  AND remote_path = $3 AND status IN ('LOADED', 'SKIPPED_DUPLICATE'))",
                       3, p, &err);
        if (r) {
            if (strcmp(PQgetvalue(r, 0, 0), "t") == 0)
                *state = CD_FILE_LOADED;
            else if (strcmp(PQgetvalue(r, 0, 1), "t") == 0)
                *state = CD_FILE_CHANGED;
        }
    } else {
        /* (A SKIPPED_DUPLICATE path holds loaded content too.)
         * Without a hash: the path's newest LOADED version, compared on
         * size and mtime when the driver gave them. Same -> LOADED (no need
         * to download it again), different -> CHANGED (download, then ask
         * again with the hash). */
        const char *p[] = {fp.connector, file->remote_path, fp.size_p, fp.mtime_p};
        r = cd_db_exec(conn, "looking up a file in the ledger", PGRES_TUPLES_OK,
                       "SELECT ($3::bigint IS NULL OR size_bytes IS NOT DISTINCT FROM $3::bigint)"
                       "   AND ($4::bigint IS NULL OR remote_mtime IS NOT DISTINCT FROM"
                       "        to_timestamp($4::bigint))"
                       " FROM sp_v2_connector_files WHERE connector_id = $1 AND remote_path = $2"
                       "  AND status IN ('LOADED', 'SKIPPED_DUPLICATE') ORDER BY id DESC LIMIT 1",
                       4, p, &err);
        if (r && PQntuples(r) == 1)
            *state = strcmp(PQgetvalue(r, 0, 0), "t") == 0 ? CD_FILE_LOADED : CD_FILE_CHANGED;
    }
    if (!r) {
        cd_host_table.log(run, CD_LOG_ERROR, "%s", err);
        free(err);
        return CD_ERR_TRANSIENT;
    }
    PQclear(r);
    if (pending == CD_FILE_CHANGED && *state == CD_FILE_NEW)
        *state = CD_FILE_CHANGED;
    return CD_OK;
}

int cd_host_file_size_loaded(cd_run *run, const cd_file_info *file, int *possible)
{
    file_params fp;
    if (!possible || file_params_init(run, file, &fp) != 0)
        return CD_ERR_PERMANENT;
    *possible = 1; /* when in doubt, the driver hashes before it loads */
    if (file->size < 0)
        return CD_OK;
    const char *key;
    json_t *v;
    json_object_foreach(run->files_loaded, key, v) {
        if (json_integer_value(json_object_get(v, "size")) == file->size)
            return CD_OK;
    }
    PGconn *conn = cd_run_ctl(run);
    if (!conn) {
        cd_host_table.log(run, CD_LOG_ERROR, "file ledger: no database connection");
        return CD_ERR_TRANSIENT;
    }
    const char *p[] = {fp.connector, fp.size_p};
    char *err = NULL;
    PGresult *r = cd_db_exec(conn, "looking up a file size in the ledger", PGRES_TUPLES_OK,
                             "SELECT EXISTS (SELECT 1 FROM sp_v2_connector_files"
                             " WHERE connector_id = $1 AND size_bytes = $2::bigint"
                             " AND status IN ('LOADED', 'SKIPPED_DUPLICATE'))",
                             2, p, &err);
    if (!r) {
        cd_host_table.log(run, CD_LOG_ERROR, "%s", err);
        free(err);
        return CD_ERR_TRANSIENT;
    }
    *possible = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return CD_OK;
}

static int known_status(const char *s)
{
    static const char *const ok[] = {"SEEN", "DOWNLOADED", "LOADED", "SKIPPED_DUPLICATE",
                                     "FAILED"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (s && strcmp(s, ok[i]) == 0)
            return 1;
    return 0;
}

static int write_row(cd_run *run, PGconn *conn, const cd_file_info *file, const file_params *fp,
                     const char *status, int64_t rows, const char *reason);

int cd_host_file_record(cd_run *run, const cd_file_info *file, const char *status, int64_t rows,
                        const char *reason)
{
    file_params fp;
    if (file_params_init(run, file, &fp) != 0)
        return CD_ERR_PERMANENT;
    if (!known_status(status)) {
        cd_host_table.log(run, CD_LOG_ERROR, "file ledger: unknown status \"%s\" for %s",
                          status ? status : "(null)", file->remote_path);
        return CD_ERR_PERMANENT;
    }
    int loaded = strcmp(status, "LOADED") == 0;
    if (loaded && !file->sha256_hex) {
        cd_host_table.log(run, CD_LOG_ERROR, "file ledger: LOADED needs the sha256 of %s",
                          file->remote_path);
        return CD_ERR_PERMANENT;
    }
    if (run->info.kind == CD_RUN_TEST || run->info.kind == CD_RUN_VALIDATE)
        return CD_OK; /* a test loads nothing, so it records nothing either */
    /* path, newline, sha: split at the last newline, since a remote name
     * may hold one and a sha never does. */
    char *key = cd_sprintf("%s\n%s", file->remote_path,
                           file->sha256_hex ? file->sha256_hex : "");
    if (loaded && run->after_commit) {
        free(key);
        cd_host_table.log(run, CD_LOG_ERROR,
                          "file ledger: LOADED for %s after the commit: refused", file->remote_path);
        return CD_ERR_PERMANENT;
    }
    if (loaded) {
        /* Kept until cd_host_files_flush writes it in the load's
         * transaction: the data connection is busy with the sink's COPY
         * while the driver runs. A file without a single row (a bank's
         * header-only file on a day without transactions) opened no load
         * transaction: finish() in runner.c opens one for it at the end,
         * rather than hold one idle while the driver fetches other files. */
        if (!run->files_loaded)
            run->files_loaded = json_object();
        char *why = reason ? cd_utf8_clean(reason, strlen(reason), 2000) : NULL;
        int kept = json_object_set_new(
            run->files_loaded, key,
            json_pack("{s:I, s:I, s:I, s:s?}", "size", (json_int_t)file->size, "mtime",
                      (json_int_t)file->mtime, "rows", (json_int_t)rows, "reason", why));
        free(why);
        free(key);
        if (kept != 0) {
            cd_host_table.log(run, CD_LOG_ERROR, "file ledger: cannot keep LOADED for %s",
                              file->remote_path);
            return CD_ERR_PERMANENT;
        }
        return CD_OK;
    }
    PGconn *conn = cd_run_ctl(run);
    if (!conn) {
        free(key);
        cd_host_table.log(run, CD_LOG_ERROR, "file ledger: no database connection");
        return CD_ERR_TRANSIENT;
    }
    /* LOADED is final for this run; a later status for the same version
     * would be overwritten at commit anyway. */
    if (file->sha256_hex && json_object_get(run->files_loaded, key)) {
        cd_host_table.log(run, CD_LOG_WARNING,
                          "file ledger: %s was already recorded LOADED in this run; %s ignored",
                          file->remote_path, status);
        free(key);
        return CD_OK;
    }
    free(key);
    return write_row(run, conn, file, &fp, status, rows, reason);
}

/* One ledger row written on conn (see file_record). 0 or CD_ERR_TRANSIENT. */
static int write_row(cd_run *run, PGconn *conn, const cd_file_info *file, const file_params *fp,
                     const char *status, int64_t rows, const char *reason)
{
    char *why = reason ? cd_utf8_clean(reason, strlen(reason), 2000) : NULL;
    char *path = cd_utf8_clean(file->remote_path, strlen(file->remote_path), PATH_MAX_BYTES);
    char run_id[24], nrows[24];
    snprintf(run_id, sizeof run_id, "%lld", (long long)run->info.run_id);
    snprintf(nrows, sizeof nrows, "%lld", (long long)rows);
    const char *p[] = {fp->connector, path,  fp->size_p, fp->mtime_p, file->sha256_hex,
                       status,       why,   run_id,    rows >= 0 ? nrows : NULL};
    char *err = NULL;
    int rc = 0;
    if (file->sha256_hex) {
        /* The version's row, created or updated; the path's hash-less row
         * from the listing (SEEN) is taken over rather than left behind.
         * A LOADED row is never downgraded by a later status. */
        rc = cd_db_command(
            conn, "recording a file in the ledger",
            "WITH pending AS ("
            "  DELETE FROM sp_v2_connector_files WHERE id = (SELECT id FROM sp_v2_connector_files"
            "   WHERE connector_id = $1 AND remote_path = $2 AND sha256 IS NULL"
            "   ORDER BY id DESC LIMIT 1) RETURNING first_seen_at)"
            " INSERT INTO sp_v2_connector_files AS f (connector_id, remote_path, size_bytes,"
            "  remote_mtime, sha256, status, reason, run_id, rows_loaded, first_seen_at, loaded_at)"
            " VALUES ($1, $2, $3::bigint, to_timestamp($4::bigint), $5, $6::text, $7, $8::bigint,"
            "  $9::bigint, coalesce((SELECT first_seen_at FROM pending), clock_timestamp()),"
            "  CASE WHEN $6::text = 'LOADED' THEN clock_timestamp() END)"
            " ON CONFLICT (connector_id, remote_path, sha256) WHERE sha256 IS NOT NULL"
            " DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason,"
            "  size_bytes = EXCLUDED.size_bytes, remote_mtime = EXCLUDED.remote_mtime,"
            "  run_id = EXCLUDED.run_id, rows_loaded = coalesce(EXCLUDED.rows_loaded, f.rows_loaded),"
            "  updated_at = clock_timestamp(), loaded_at = coalesce(EXCLUDED.loaded_at, f.loaded_at)"
            " WHERE f.status <> 'LOADED' OR EXCLUDED.status = 'LOADED'",
            9, p, &err);
    } else {
        /* Before the download there is no hash: one pending row per path,
         * updated by each listing until the content is known. */
        rc = cd_db_command(
            conn, "recording a file in the ledger",
            "WITH upd AS ("
            "  UPDATE sp_v2_connector_files SET size_bytes = $3::bigint,"
            "   remote_mtime = to_timestamp($4::bigint), status = $6, reason = $7,"
            "   run_id = $8::bigint, rows_loaded = $9::bigint, updated_at = clock_timestamp()"
            "  WHERE id = (SELECT id FROM sp_v2_connector_files WHERE connector_id = $1"
            "   AND remote_path = $2 AND sha256 IS NULL ORDER BY id DESC LIMIT 1)"
            "  RETURNING id)"
            " INSERT INTO sp_v2_connector_files (connector_id, remote_path, size_bytes,"
            "  remote_mtime, sha256, status, reason, run_id, rows_loaded)"
            " SELECT $1, $2, $3::bigint, to_timestamp($4::bigint), $5, $6, $7, $8::bigint,"
            "  $9::bigint WHERE NOT EXISTS (SELECT 1 FROM upd)",
            9, p, &err);
    }
    if (rc != 0) {
        cd_host_table.log(run, CD_LOG_ERROR, "%s", err);
        free(err);
    }
    free(why);
    free(path);
    return rc == 0 ? CD_OK : CD_ERR_TRANSIENT;
}

int cd_host_files_flush(cd_run *run, char **err)
{
    const char *key;
    json_t *v;
    json_object_foreach(run->files_loaded, key, v) {
        const char *nl = strrchr(key, '\n');
        char *path = cd_xstrndup(key, (size_t)(nl - key));
        cd_file_info f = {(uint32_t)sizeof f, path,
                          (int64_t)json_integer_value(json_object_get(v, "size")),
                          (int64_t)json_integer_value(json_object_get(v, "mtime")), nl + 1};
        file_params fp;
        int rc = file_params_init(run, &f, &fp);
        if (rc == 0)
            rc = write_row(run, run->data, &f, &fp, "LOADED",
                           (int64_t)json_integer_value(json_object_get(v, "rows")),
                           json_string_value(json_object_get(v, "reason")));
        if (rc != 0) {
            *err = cd_sprintf("recording %s as LOADED in the file ledger failed", path);
            free(path);
            return -1;
        }
        free(path);
    }
    return 0;
}
