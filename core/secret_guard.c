/*
 * secret_guard.c — what a connector's secret reference may not reach.
 *
 * References are resolved by the service's own process, so without a rule
 * any connector could name the service's credentials and hand them to a
 * driver that sends them wherever the connector points: env:PGPASSWORD,
 * env:CONNECTORD_DATABASE_URL, file:/proc/self/environ, or the
 * configuration file itself. Two checks stop that:
 *  - by name, before anything is read: the service's variables
 *    (CONNECTORD_*, libpq's PGPASSWORD, PGPASSFILE, ...), the kernel's
 *    pseudo-files (/proc, /sys, /dev) and libpq's own credential files
 *    (~/.pgpass or PGPASSFILE, ~/.postgresql, the service file) are
 *    refused;
 *  - by content, after: a value holding the database URL, or the password
 *    in it, is refused whatever way it was reached (a copy of the
 *    configuration, a credential holding the URL).
 * systemd credentials (cred:) are granted to the service for its
 * connectors, and pass the content check like the rest.
 */
#include "secret_guard.h"

#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "secrets.h"
#include "util.h"

/* The service's database URL and the password in it; set once per
 * process (the runner) before any reference is resolved. */
static char *guarded_url;
static char *guarded_password;

void cd_secret_guard_set(const char *database_url)
{
    free(guarded_url);
    free(guarded_password);
    guarded_url = database_url && *database_url ? cd_xstrdup(database_url) : NULL;
    guarded_password = NULL;
    if (!guarded_url)
        return;
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(guarded_url, &perr);
    PQfreemem(perr);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && strlen(o->val) >= 4)
            guarded_password = cd_xstrdup(o->val);
    PQconninfoFree(opts);
}

static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* 1 when path (as written) or real (resolved) is, or is under, one of
 * the given file or directory, itself compared as written and resolved. */
static int same_or_under(const char *path, const char *real, const char *file)
{
    if (!file || !*file)
        return 0;
    if (under(path, file) || under(real, file))
        return 1;
    char rfile[PATH_MAX];
    return realpath(file, rfile) && (under(path, rfile) || under(real, rfile));
}

/* The files libpq reads the service's credentials from when the URL
 * carries no password (conf.d/connectord.yaml recommends ~/.pgpass or
 * PGPASSFILE): the password file, wherever PGPASSFILE or the URL's
 * passfile= puts it, the service file (it may hold password=), and
 * ~/.postgresql with the client key (or PGSSLKEY, sslkey=). The
 * content check cannot catch them: the URL is not in them. */
static int is_libpq_file(const char *path, const char *real)
{
    if (same_or_under(path, real, getenv("PGPASSFILE")) ||
        same_or_under(path, real, getenv("PGSSLKEY")) ||
        same_or_under(path, real, getenv("PGSERVICEFILE")))
        return 1;
    /* libpq's own order: HOME, then the password database. */
    const char *home = getenv("HOME");
    struct passwd pw, *found = NULL;
    char pwbuf[16384];
    if ((!home || !*home) && getpwuid_r(geteuid(), &pw, pwbuf, sizeof pwbuf, &found) == 0 &&
        found)
        home = found->pw_dir;
    if (home && *home) {
        char *pgpass = cd_sprintf("%s/.pgpass", home);
        char *pgdir = cd_sprintf("%s/.postgresql", home);
        char *service = cd_sprintf("%s/.pg_service.conf", home);
        int hit = same_or_under(path, real, pgpass) || same_or_under(path, real, pgdir) ||
                  same_or_under(path, real, service);
        free(pgpass);
        free(service);
        free(pgdir);
        if (hit)
            return 1;
    }
    int hit = 0;
    if (guarded_url) {
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(guarded_url, &perr);
        PQfreemem(perr);
        for (PQconninfoOption *o = opts; o && o->keyword && !hit; o++)
            if (o->val && (strcmp(o->keyword, "passfile") == 0 ||
                           strcmp(o->keyword, "sslkey") == 0))
                hit = same_or_under(path, real, o->val);
        PQconninfoFree(opts);
    }
    return hit;
}

int cd_secret_guard_check_reference(const char *reference, char **why)
{
    if (!reference)
        return 0;
    if (strncmp(reference, "env:", 4) == 0) {
        const char *name = reference + 4;
        /* libpq's own credentials (PGP_PASS, say, is a connector's) */
        static const char *const libpq[] = {"PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE",
                                            "PGSSLKEY"};
        int own = strncmp(name, "CONNECTORD_", 11) == 0;
        for (size_t i = 0; !own && i < sizeof libpq / sizeof libpq[0]; i++)
            own = strcmp(name, libpq[i]) == 0;
        if (own) {
            *why = cd_sprintf("secret %s names one of the service's own settings "
                              "(CONNECTORD_*, libpq's PGPASSWORD and the like), not a "
                              "connector's secret",
                              reference);
            return -1;
        }
        return 0;
    }
    if (strncmp(reference, "file:", 5) == 0) {
        const char *path = reference + 5;
        /* The file as it is reached: through symbolic links and "..". */
        char real[PATH_MAX];
        const char *p = realpath(path, real) ? real : path;
        if (is_libpq_file(path, p)) {
            *why = cd_sprintf("secret %s is one of libpq's own files (the password file, "
                              "~/.postgresql): the service's database credentials, not a "
                              "connector's secret",
                              reference);
            return -1;
        }
        static const char *const kernel[] = {"/proc", "/sys", "/dev"};
        for (size_t i = 0; i < sizeof kernel / sizeof kernel[0]; i++)
            if (under(p, kernel[i]) || under(path, kernel[i])) {
                *why = cd_sprintf("secret %s is under %s: the kernel's files hold the "
                                  "service's own state, not a connector's secret",
                                  reference, kernel[i]);
                return -1;
            }
    }
    return 0;
}

int cd_secret_guard_check_value(const char *reference, const char *value, size_t len, char **why)
{
    (void)len; /* values are NUL-terminated; one with a NUL inside is cut there, and
                  strstr then sees less, never more */
    if ((guarded_url && strstr(value, guarded_url)) ||
        (guarded_password && strstr(value, guarded_password))) {
        *why = cd_sprintf("secret %s holds the service's own database credentials: refused",
                          reference ? reference : "(null)");
        return -1;
    }
    return 0;
}

int cd_secret_resolve_guarded(const char *reference, char **out, size_t *out_len, char **err)
{
    *out = NULL;
    *out_len = 0;
    if (cd_secret_guard_check_reference(reference, err) != 0)
        return -1;
    if (cd_secret_resolve(reference, out, out_len, err) != 0)
        return -1;
    if (cd_secret_guard_check_value(reference, *out, *out_len, err) != 0) {
        explicit_bzero(*out, *out_len);
        free(*out);
        *out = NULL;
        *out_len = 0;
        return -1;
    }
    return 0;
}
