/*
 * migrate.c — `connectord migrate`: applies the schema/NNN_name.sql files
 * in order, each in one transaction with its record in
 * connectord_schema_migrations, under an advisory lock shared by every
 * host (see migrate.h). Also the statement splitter of migrate_split.h,
 * which the migration runner needs to name the failing statement's line.
 */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "db.h"
#include "log.h"
#include "migrate_split.h"
#include "util.h"

/* ---------------------------------------------------------------------- */
/* Statement splitter                                                      */
/* ---------------------------------------------------------------------- */

/* Characters that may continue an unquoted identifier or keyword in
 * PostgreSQL (bytes >= 0x80 are parts of non-ASCII letters). */
static int ident_cont(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$' || c >= 0x80;
}

/* Characters that may start a dollar-quote tag: no digit (that is $1, a
 * parameter) and no '$'. */
static int tag_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int tag_cont(unsigned char c) { return tag_start(c) || (c >= '0' && c <= '9'); }

/* Adds src[start..end) with trailing blanks removed, unless that is empty. */
static void emit_statement(cd_sql_script *out, size_t *cap, const char *src, size_t start,
                           size_t end, unsigned line)
{
    while (end > start && (src[end - 1] == ' ' || src[end - 1] == '\t' || src[end - 1] == '\n' ||
                           src[end - 1] == '\r' || src[end - 1] == '\f' || src[end - 1] == '\v'))
        end--;
    if (end == start)
        return;
    if (out->count == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        out->stmts = cd_xrealloc(out->stmts, *cap * sizeof *out->stmts);
    }
    cd_sql_statement *s = &out->stmts[out->count++];
    s->text = cd_xstrndup(src + start, end - start);
    s->len = end - start;
    s->line = line;
}

/* Moves *i past the quoted text that starts at src[*i] (the opening quote),
 * counting newlines into *line. A doubled quote is an escaped one; with
 * backslashes set (E'...'), a backslash escapes the next byte. Returns 0, or
 * -1 when the input ends first. */
static int skip_quoted(const char *src, size_t len, size_t *i, unsigned *line, char quote,
                       int backslashes)
{
    size_t j = *i + 1;
    while (j < len) {
        char c = src[j];
        if (c == '\n')
            (*line)++;
        if (backslashes && c == '\\') {
            if (j + 1 < len && src[j + 1] == '\n')
                (*line)++;
            j += 2;
            continue;
        }
        if (c == quote) {
            if (j + 1 < len && src[j + 1] == quote) {
                j += 2;
                continue;
            }
            *i = j + 1;
            return 0;
        }
        j++;
    }
    return -1;
}

/* Moves *i past the (possibly nested) block comment opening at src[*i].
 * Returns 0, or -1 when the input ends first. */
static int skip_block_comment(const char *src, size_t len, size_t *i, unsigned *line)
{
    size_t j = *i + 2;
    unsigned depth = 1;
    while (j < len) {
        if (src[j] == '\n') {
            (*line)++;
            j++;
        } else if (src[j] == '/' && j + 1 < len && src[j + 1] == '*') {
            depth++;
            j += 2;
        } else if (src[j] == '*' && j + 1 < len && src[j + 1] == '/') {
            j += 2;
            if (--depth == 0) {
                *i = j;
                return 0;
            }
        } else {
            j++;
        }
    }
    return -1;
}

/* If src[i] ('$') opens a dollar quote, returns the tag's length including
 * both '$' ("$$" is 2, "$body$" is 6); else 0 ($1, or '$' inside a name). */
static size_t dollar_tag_len(const char *src, size_t len, size_t i, size_t stmt_start)
{
    /* "a$b$" is one identifier: a '$' right after a name character
     * continues the name. */
    if (i > stmt_start && ident_cont((unsigned char)src[i - 1]))
        return 0;
    size_t j = i + 1;
    if (j < len && tag_start((unsigned char)src[j])) {
        while (j < len && tag_cont((unsigned char)src[j]))
            j++;
    }
    if (j < len && src[j] == '$')
        return j - i + 1;
    return 0;
}

int cd_sql_split(const char *src, size_t len, cd_sql_script *out, char **err)
{
    out->stmts = NULL;
    out->count = 0;
    size_t cap = 0;
    unsigned line = 1;
    size_t i = 0;
    int in_stmt = 0;
    size_t start = 0;
    unsigned start_line = 0;
    unsigned parens = 0;

    /* Checked up front, as a NUL inside a quote or comment would otherwise
     * cut the statement short when PQexec reads it as a C string. */
    const char *nul = memchr(src, '\0', len);
    if (nul) {
        for (const char *p = src; p < nul; p++)
            line += *p == '\n';
        *err = cd_sprintf("NUL byte at line %u (not a text file?)", line);
        return -1;
    }
    while (i < len) {
        unsigned char c = (unsigned char)src[i];
        if (c == '\n') {
            line++;
            i++;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            i++;
            continue;
        }
        if (c == '-' && i + 1 < len && src[i + 1] == '-') {
            /* The newline is left for the main loop to count. */
            while (i < len && src[i] != '\n')
                i++;
            continue;
        }
        if (c == '/' && i + 1 < len && src[i + 1] == '*') {
            unsigned opened = line;
            if (skip_block_comment(src, len, &i, &line) < 0) {
                *err = cd_sprintf("unterminated /* comment starting at line %u", opened);
                return -1;
            }
            continue;
        }

        /* Comments and blanks before a statement are not part of it, so
         * that its line is the line of its first word. */
        if (!in_stmt) {
            in_stmt = 1;
            start = i;
            start_line = line;
            parens = 0;
        }

        if (c == ';' && parens == 0) {
            emit_statement(out, &cap, src, start, i, start_line);
            in_stmt = 0;
            i++;
        } else if (c == '(') {
            parens++;
            i++;
        } else if (c == ')') {
            /* An unbalanced ')' is PostgreSQL's syntax error to report. */
            if (parens)
                parens--;
            i++;
        } else if (c == '\'' || c == '"') {
            /* E'...' takes backslash escapes, unless the E ends a longer
             * name ("date'2024-01-01'" is a typed literal, not E-string). */
            int backslashes = c == '\'' && i > start && (src[i - 1] == 'E' || src[i - 1] == 'e') &&
                              (i - 1 == start || !ident_cont((unsigned char)src[i - 2]));
            unsigned opened = line;
            if (skip_quoted(src, len, &i, &line, (char)c, backslashes) < 0) {
                *err = cd_sprintf("unterminated %s starting at line %u",
                                  c == '"' ? "quoted identifier" : "quoted string", opened);
                return -1;
            }
        } else if (c == '$') {
            size_t tag = dollar_tag_len(src, len, i, start);
            if (tag == 0) {
                i++;
                continue;
            }
            unsigned opened = line;
            size_t j = i + tag;
            for (;;) {
                if (j + tag > len) {
                    *err = cd_sprintf("unterminated dollar-quoted string %.*s starting at line %u",
                                      (int)tag, src + i, opened);
                    return -1;
                }
                if (src[j] == '$' && memcmp(src + j, src + i, tag) == 0)
                    break;
                if (src[j] == '\n')
                    line++;
                j++;
            }
            i = j + tag;
        } else {
            i++;
        }
    }
    if (in_stmt)
        emit_statement(out, &cap, src, start, len, start_line);
    return 0;
}

void cd_sql_script_free(cd_sql_script *script)
{
    if (!script)
        return;
    for (size_t k = 0; k < script->count; k++)
        free(script->stmts[k].text);
    free(script->stmts);
    script->stmts = NULL;
    script->count = 0;
}

/* ---------------------------------------------------------------------- */
/* Migration files                                                         */
/* ---------------------------------------------------------------------- */

/* One lock for every connectord migrating this database, from any host:
 * "connmigr" read as a big-endian 64-bit number. */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_xact_lock(7165066952730830706)"

#define MIGRATIONS_TABLE_SQL                                   \
    "CREATE TABLE IF NOT EXISTS connectord_schema_migrations (" \
    " filename TEXT PRIMARY KEY,"                              \
    " checksum TEXT NOT NULL,"                                 \
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"

/* How much of a failing statement the error quotes. */
#define EXCERPT_CHARS 80

typedef struct file_list {
    char **names;
    size_t count;
} file_list;

static void file_list_free(file_list *fl)
{
    for (size_t k = 0; k < fl->count; k++)
        free(fl->names[k]);
    free(fl->names);
    fl->names = NULL;
    fl->count = 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* 1 for "NNN_something.sql" (three digits, an underscore, a non-empty
 * name). Exactly three digits, so that name order is number order. */
static int is_migration_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 3 + 1 + 1 + 4)
        return 0;
    for (int k = 0; k < 3; k++)
        if (name[k] < '0' || name[k] > '9')
            return 0;
    return name[3] == '_' && ends_with(name, ".sql");
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the migration files of dir, sorted by name. Files not ending in
 * .sql and hidden files (editor backups) are ignored; a .sql file that is
 * not named NNN_name.sql, is not a regular file, or repeats a number is an
 * error: silently skipping a misnamed migration would leave the database
 * behind without anyone noticing. No file at all is an error too (a broken
 * install, not an up-to-date database). */
static int list_migrations(const char *dir, file_list *out, char **err)
{
    out->names = NULL;
    out->count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        *err = cd_sprintf("cannot open schema directory %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) {
                *err = cd_sprintf("cannot read schema directory %s: %s", dir, strerror(errno));
                rc = -1;
            }
            break;
        }
        const char *name = e->d_name;
        if (name[0] == '.' || !ends_with(name, ".sql"))
            continue;
        if (!is_migration_name(name)) {
            *err = cd_sprintf("%s/%s: a migration must be named NNN_name.sql (three digits, "
                              "an underscore, a name); rename or remove it",
                              dir, name);
            rc = -1;
            break;
        }
        char *path = cd_sprintf("%s/%s", dir, name);
        struct stat st;
        int st_rc = stat(path, &st);
        int st_errno = errno;
        free(path);
        if (st_rc != 0) {
            *err = cd_sprintf("%s/%s: %s", dir, name, strerror(st_errno));
            rc = -1;
            break;
        }
        if (!S_ISREG(st.st_mode)) {
            *err = cd_sprintf("%s/%s: not a regular file", dir, name);
            rc = -1;
            break;
        }
        if (out->count == cap) {
            cap = cap ? cap * 2 : 16;
            out->names = cd_xrealloc(out->names, cap * sizeof *out->names);
        }
        out->names[out->count++] = cd_xstrdup(name);
    }
    closedir(d);
    if (rc == 0 && out->count == 0) {
        *err = cd_sprintf("schema directory %s holds no NNN_name.sql migrations", dir);
        rc = -1;
    }
    if (rc == 0) {
        qsort(out->names, out->count, sizeof *out->names, compare_names);
        for (size_t k = 1; k < out->count; k++) {
            if (memcmp(out->names[k - 1], out->names[k], 3) == 0) {
                *err = cd_sprintf("%s: %s and %s have the same number; renumber one", dir,
                                  out->names[k - 1], out->names[k]);
                rc = -1;
                break;
            }
        }
    }
    if (rc != 0)
        file_list_free(out);
    return rc;
}

/* Reads path whole into a malloc'd buffer (NUL-terminated, *len without
 * the NUL). */
static char *read_file(const char *path, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = cd_sprintf("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    cd_buf b;
    cd_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cd_buf_append(&b, chunk, n);
    if (ferror(f)) {
        *err = cd_sprintf("cannot read %s: %s", path, strerror(errno));
        fclose(f);
        cd_buf_free(&b);
        return NULL;
    }
    fclose(f);
    *len = b.len;
    return cd_buf_take(&b);
}

/* The start of a statement on one line for an error message: runs of
 * blanks become one space, and at most EXCERPT_CHARS characters are kept
 * (never cutting a UTF-8 sequence), with "..." when cut. */
static char *statement_excerpt(const char *text)
{
    cd_buf b;
    cd_buf_init(&b);
    size_t chars = 0;
    int blank = 0;
    const unsigned char *p = (const unsigned char *)text;
    for (; *p; p++) {
        int is_blank = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
                       *p == '\v';
        if (is_blank) {
            blank = 1;
            continue;
        }
        /* Continuation bytes belong to the character already counted. */
        int starts_char = (*p & 0xC0) != 0x80;
        if (starts_char && chars + (blank ? 1 : 0) >= EXCERPT_CHARS) {
            cd_buf_puts(&b, "...");
            return cd_buf_take(&b);
        }
        if (blank) {
            cd_buf_putc(&b, ' ');
            chars++;
            blank = 0;
        }
        cd_buf_putc(&b, (char)*p);
        if (starts_char)
            chars++;
    }
    return cd_buf_take(&b);
}

/* PostgreSQL's message for a failed result on one line: the primary
 * message, then detail and hint when present. Falls back to libpq's text
 * (connection lost, out of memory). */
static char *server_message(PGconn *conn, const PGresult *res)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary) {
        char *full = res ? cd_db_result_error(res, "error") : cd_db_error(conn, "error");
        /* Strip the "error: " prefix those helpers add. */
        char *out = cd_xstrdup(full + strlen("error: "));
        free(full);
        return out;
    }
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_puts(&b, primary);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
    const char *where = PQresultErrorField(res, PG_DIAG_CONTEXT);
    if (detail)
        cd_buf_printf(&b, " (DETAIL: %s)", detail);
    if (hint)
        cd_buf_printf(&b, " (HINT: %s)", hint);
    /* Inside a DO block the context names the PL/pgSQL line. */
    if (where) {
        cd_buf_puts(&b, " (CONTEXT: ");
        for (const char *w = where; *w; w++)
            cd_buf_putc(&b, *w == '\n' ? ' ' : *w);
        cd_buf_putc(&b, ')');
    }
    return cd_buf_take(&b);
}

/* Ends a failed transaction. The original error is what matters; a failed
 * ROLLBACK is added to it, since the connection is then likely gone (the
 * server rolls back on disconnect anyway). */
static void rollback(PGconn *conn, char **err)
{
    char *rb_err = NULL;
    if (cd_db_command(conn, "ROLLBACK", "ROLLBACK", 0, NULL, &rb_err) != 0) {
        char *combined = cd_sprintf("%s; also %s", *err ? *err : "error", rb_err);
        free(*err);
        free(rb_err);
        *err = combined;
    }
}

/* Begins a transaction holding the migration lock; notices are silenced
 * because IF NOT EXISTS on an up-to-date database emits one per object,
 * which would bury real warnings. Rolls back itself on failure. */
static int begin_locked(PGconn *conn, char **err)
{
    if (cd_db_command(conn, "cannot begin the migration transaction", "BEGIN", 0, NULL, err) != 0)
        return -1;
    if (cd_db_command(conn, "cannot take the migration lock", MIGRATE_LOCK_SQL, 0, NULL, err) !=
            0 ||
        cd_db_command(conn, "cannot set client_min_messages",
                      "SET LOCAL client_min_messages = warning", 0, NULL, err) != 0) {
        rollback(conn, err);
        return -1;
    }
    return 0;
}

static int commit(PGconn *conn, const char *what, char **err)
{
    if (cd_db_command(conn, what, "COMMIT", 0, NULL, err) != 0) {
        rollback(conn, err);
        return -1;
    }
    return 0;
}

/* Creates connectord_schema_migrations under the lock: two hosts running
 * CREATE TABLE IF NOT EXISTS at the same moment can otherwise both try to
 * create it, and one fails on the catalog's unique key. */
static int ensure_migrations_table(PGconn *conn, char **err)
{
    if (begin_locked(conn, err) != 0)
        return -1;
    if (cd_db_command(conn, "cannot create connectord_schema_migrations", MIGRATIONS_TABLE_SQL, 0,
                      NULL, err) != 0) {
        rollback(conn, err);
        return -1;
    }
    return commit(conn, "cannot commit connectord_schema_migrations", err);
}

/* 1 if the statement would end or start a transaction itself: the file's
 * transaction is the runner's, and a COMMIT inside the file would leave the
 * database half migrated with no record. */
static int is_transaction_control(const char *text)
{
    static const char *const words[] = {"BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "START"};
    size_t n = 0;
    while (text[n] && ((text[n] >= 'a' && text[n] <= 'z') || (text[n] >= 'A' && text[n] <= 'Z')))
        n++;
    for (size_t k = 0; k < sizeof words / sizeof words[0]; k++)
        if (strlen(words[k]) == n && strncasecmp(text, words[k], n) == 0)
            return 1;
    return 0;
}

/* Runs the statements of one file inside the open transaction. */
static int run_statements(PGconn *conn, const char *path, const cd_sql_script *script,
                          char **err)
{
    for (size_t k = 0; k < script->count; k++) {
        const cd_sql_statement *st = &script->stmts[k];
        if (is_transaction_control(st->text)) {
            char *excerpt = statement_excerpt(st->text);
            *err = cd_sprintf("%s: statement at line %u: %s: a migration must not control "
                              "transactions (each file already runs in one)",
                              path, st->line, excerpt);
            free(excerpt);
            return -1;
        }
        /* PQexec, not PQexecParams: the statement is the file's own DDL and
         * may legitimately hold anything PostgreSQL accepts. */
        PGresult *res = PQexec(conn, st->text);
        ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            char *excerpt = statement_excerpt(st->text);
            char *msg = server_message(conn, res);
            *err = cd_sprintf("%s: statement at line %u failed: %s: %s", path, st->line, excerpt,
                              msg);
            free(excerpt);
            free(msg);
            PQclear(res);
            return -1;
        }
        PQclear(res);
        if (PQtransactionStatus(conn) != PQTRANS_INTRANS) {
            *err = cd_sprintf("%s: statement at line %u left the migration transaction", path,
                              st->line);
            return -1;
        }
    }
    return 0;
}

/* Applies one file unless it is recorded. Returns 1 applied, 0 already
 * recorded, -1 error (rolled back, *err set). */
static int apply_file(PGconn *conn, const char *dir, const char *name, char **err)
{
    char *path = cd_sprintf("%s/%s", dir, name);
    size_t len = 0;
    char *content = read_file(path, &len, err);
    if (!content) {
        free(path);
        return -1;
    }
    if (len > INT_MAX) {
        *err = cd_sprintf("%s: too large for a migration (%zu bytes)", path, len);
        free(content);
        free(path);
        return -1;
    }

    int rc = -1;
    PGresult *res = NULL;
    char *checksum = NULL;
    cd_sql_script script = {NULL, 0};
    if (begin_locked(conn, err) != 0)
        goto out;

    /* The checksum is of the file's bytes, as sha256sum prints it, so ops
     * can compare by hand; sent as bytea so no encoding rule touches it. */
    {
        const char *values[2] = {name, content};
        const Oid types[2] = {25 /* text */, 17 /* bytea */};
        const int lengths[2] = {0, (int)len};
        const int formats[2] = {0, 1};
        res = PQexecParams(conn,
                           "SELECT encode(sha256($2), 'hex'),"
                           " (SELECT checksum FROM connectord_schema_migrations"
                           "   WHERE filename = $1)",
                           2, types, values, lengths, formats, 0);
    }
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        char *what = cd_sprintf("%s: cannot read its migration record", path);
        *err = res ? cd_db_result_error(res, what) : cd_db_error(conn, what);
        free(what);
        rollback(conn, err);
        goto out;
    }
    checksum = cd_xstrdup(PQgetvalue(res, 0, 0));
    if (!PQgetisnull(res, 0, 1)) {
        const char *recorded = PQgetvalue(res, 0, 1);
        if (strcmp(recorded, checksum) != 0)
            cd_warn("%s changed after it was applied (recorded sha256 %s, file now %s); "
                    "not applied again: put schema changes in a new migration",
                    path, recorded, checksum);
        rc = commit(conn, "cannot end the migration transaction", err) == 0 ? 0 : -1;
        goto out;
    }

    char *split_err = NULL;
    if (cd_sql_split(content, len, &script, &split_err) != 0) {
        *err = cd_sprintf("%s: %s", path, split_err);
        free(split_err);
        rollback(conn, err);
        goto out;
    }
    if (run_statements(conn, path, &script, err) != 0) {
        rollback(conn, err);
        goto out;
    }
    {
        const char *params[2] = {name, checksum};
        char *what = cd_sprintf("%s: cannot record the migration", path);
        int ins = cd_db_command(conn, what,
                                "INSERT INTO connectord_schema_migrations (filename, checksum)"
                                " VALUES ($1, $2)",
                                2, params, err);
        free(what);
        if (ins != 0) {
            rollback(conn, err);
            goto out;
        }
    }
    {
        char *what = cd_sprintf("%s: cannot commit", path);
        int c = commit(conn, what, err);
        free(what);
        if (c != 0)
            goto out;
    }
    cd_info("migration %s applied (%zu statements)", name, script.count);
    rc = 1;

out:
    cd_sql_script_free(&script);
    PQclear(res);
    free(checksum);
    free(content);
    free(path);
    return rc;
}

static int check_connected(PGconn *conn, char **err)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        *err = conn ? cd_db_error(conn, "no usable database connection")
                    : cd_xstrdup("no database connection");
        return -1;
    }
    return 0;
}

/* Refuses a connection already inside a transaction: ours would nest into
 * it and COMMIT the caller's work. */
static int check_idle(PGconn *conn, char **err)
{
    if (check_connected(conn, err) != 0)
        return -1;
    if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
        *err = cd_xstrdup("cannot migrate: the connection is inside a transaction");
        return -1;
    }
    return 0;
}

int cd_migrate(PGconn *conn, const char *schema_dir, cd_migrate_result *result, char **err)
{
    if (result)
        result->applied = result->skipped = 0;
    if (check_idle(conn, err) != 0)
        return -1;
    file_list files;
    if (list_migrations(schema_dir, &files, err) != 0)
        return -1;
    if (ensure_migrations_table(conn, err) != 0) {
        file_list_free(&files);
        return -1;
    }
    int rc = 0;
    for (size_t k = 0; k < files.count; k++) {
        int applied = apply_file(conn, schema_dir, files.names[k], err);
        if (applied < 0) {
            rc = -1;
            break;
        }
        if (result) {
            if (applied)
                result->applied++;
            else
                result->skipped++;
        }
    }
    file_list_free(&files);
    return rc;
}

int cd_migrate_pending(PGconn *conn, const char *schema_dir, char **err)
{
    /* Only reads, so any transaction state of the caller is fine. */
    if (check_connected(conn, err) != 0)
        return -1;
    file_list files;
    if (list_migrations(schema_dir, &files, err) != 0)
        return -1;

    int rc = -1;
    PGresult *res = cd_db_exec(conn, "cannot look for connectord_schema_migrations",
                               PGRES_TUPLES_OK,
                               "SELECT to_regclass('connectord_schema_migrations') IS NOT NULL",
                               0, NULL, err);
    if (!res)
        goto out;
    int have_table = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!have_table) {
        rc = 1;
        goto out;
    }
    res = cd_db_exec(conn, "cannot read connectord_schema_migrations", PGRES_TUPLES_OK,
                     "SELECT filename FROM connectord_schema_migrations ORDER BY filename", 0,
                     NULL, err);
    if (!res)
        goto out;
    int n = PQntuples(res);
    rc = 0;
    for (size_t k = 0; k < files.count; k++) {
        int found = 0;
        for (int r = 0; r < n && !found; r++)
            found = strcmp(PQgetvalue(res, r, 0), files.names[k]) == 0;
        if (!found) {
            rc = 1;
            break;
        }
    }
    /* A record without its file: a newer connectord migrated this database.
     * Not an error (forward-only migrations keep old code working), but
     * worth saying. */
    for (int r = 0; r < n; r++) {
        const char *recorded = PQgetvalue(res, r, 0);
        if (!bsearch(&recorded, files.names, files.count, sizeof *files.names, compare_names))
            cd_warn("database has migration %s, which %s does not hold (applied by a newer "
                    "connectord?)",
                    recorded, schema_dir);
    }
    PQclear(res);
out:
    file_list_free(&files);
    return rc;
}
