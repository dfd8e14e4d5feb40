/*
 * test_secrets.c — unit tests of core/secrets.c: each reference scheme and
 * its failures, tree resolution with JSON paths, scrubbing, and collection
 * of writeOnly fields. Secret files live in a fresh temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_mask.h"
#include "secret_guard.h"
#include "secrets.h"
#include "util.h"

#define PLAINTEXT "s3cr3t-value"

typedef struct fixture {
    char dir[64];
} fixture;

/* Writes len bytes to dir/name and returns the malloc'd path. */
static char *write_file(const fixture *fx, const char *name, const char *data, size_t len)
{
    char *path = cd_sprintf("%s/%s", fx->dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static int setup(void **state)
{
    fixture *fx = cd_xcalloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/cd_test_secrets.XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    setenv("CREDENTIALS_DIRECTORY", fx->dir, 1);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    static const char *const names[] = {"plain", "nl", "crlf", "two", "big", "limit", "sub", "cred1",
                                        ".pgpass", "pgpass-elsewhere", ".postgresql"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = cd_sprintf("%s/%s", fx->dir, names[i]);
        if (unlink(p) < 0)
            rmdir(p);
        free(p);
    }
    rmdir(fx->dir);
    free(fx);
    unsetenv("CREDENTIALS_DIRECTORY");
    return 0;
}

/* Resolves ref, which must succeed with want. */
static void resolves_to(const char *ref, const char *want, size_t want_len)
{
    char *out = NULL, *err = NULL;
    size_t len = 99;
    if (cd_secret_resolve(ref, &out, &len, &err) != 0)
        fail_msg("%s: unexpected error %s", ref, err);
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[len], '\0');
    free(out);
}

/* Resolves ref, which must fail with a message containing want and never
 * the test's plaintext. */
static void resolve_fails(const char *ref, const char *want)
{
    char *out = (char *)"untouched", *err = NULL;
    size_t len = 99;
    assert_int_equal(cd_secret_resolve(ref, &out, &len, &err), -1);
    assert_null(out);
    assert_non_null(err);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    assert_null(strstr(err, PLAINTEXT));
    free(err);
}

static void test_env(void **state)
{
    setenv("CD_TEST_SECRET", PLAINTEXT, 1);
    resolves_to("env:CD_TEST_SECRET", PLAINTEXT, strlen(PLAINTEXT));
    unsetenv("CD_TEST_SECRET");
    resolve_fails("env:CD_TEST_SECRET", "secret env:CD_TEST_SECRET is not set");
    resolve_fails("env:", "invalid variable name");
}

static void test_file(void **state)
{
    fixture *fx = *state;
    char *p;
    p = write_file(fx, "plain", PLAINTEXT, strlen(PLAINTEXT));
    char *ref = cd_sprintf("file:%s", p);
    resolves_to(ref, PLAINTEXT, strlen(PLAINTEXT));
    free(ref), free(p);

    p = write_file(fx, "nl", PLAINTEXT "\n", strlen(PLAINTEXT) + 1);
    ref = cd_sprintf("file:%s", p);
    resolves_to(ref, PLAINTEXT, strlen(PLAINTEXT));
    free(ref), free(p);

    p = write_file(fx, "crlf", PLAINTEXT "\r\n", strlen(PLAINTEXT) + 2);
    ref = cd_sprintf("file:%s", p);
    resolves_to(ref, PLAINTEXT, strlen(PLAINTEXT));
    free(ref), free(p);

    /* Only one newline is dropped. */
    p = write_file(fx, "two", "abcd\n\n", 6);
    ref = cd_sprintf("file:%s", p);
    resolves_to(ref, "abcd\n", 5);
    free(ref), free(p);

    /* Exactly 64 KiB is accepted, one byte more is not. */
    char *data = cd_xmalloc(64 * 1024 + 1);
    memset(data, 'x', 64 * 1024 + 1);
    p = write_file(fx, "limit", data, 64 * 1024);
    ref = cd_sprintf("file:%s", p);
    resolves_to(ref, data, 64 * 1024);
    free(ref), free(p);
    p = write_file(fx, "big", data, 64 * 1024 + 1);
    ref = cd_sprintf("file:%s", p);
    resolve_fails(ref, "larger than 64 KiB");
    free(ref), free(p), free(data);
}

static void test_file_failures(void **state)
{
    fixture *fx = *state;
    resolve_fails("file:relative/path", "secret file:relative/path: the path must be absolute");
    resolve_fails("file:", "must be absolute");
    char *ref = cd_sprintf("file:%s/missing", fx->dir);
    resolve_fails(ref, "No such file or directory");
    free(ref);
    char *sub = cd_sprintf("%s/sub", fx->dir);
    mkdir(sub, 0700);
    ref = cd_sprintf("file:%s", sub);
    resolve_fails(ref, "not a regular file");
    free(ref), free(sub);
}

static void test_cred(void **state)
{
    fixture *fx = *state;
    char *p = write_file(fx, "cred1", PLAINTEXT "\n", strlen(PLAINTEXT) + 1);
    free(p);
    resolves_to("cred:cred1", PLAINTEXT, strlen(PLAINTEXT));
    resolve_fails("cred:nothere", "secret cred:nothere: No such file");
    resolve_fails("cred:a/b", "secret cred:a/b: invalid credential name");
    resolve_fails("cred:..", "invalid credential name");
    resolve_fails("cred:.", "invalid credential name");
    resolve_fails("cred:", "invalid credential name");
    unsetenv("CREDENTIALS_DIRECTORY");
    resolve_fails("cred:cred1", "secret cred:cred1: CREDENTIALS_DIRECTORY is not set "
                                "(LoadCredential= in the unit)");
}

static void test_unknown_scheme(void **state)
{
    /* A plaintext password typed where a reference belongs is not echoed. */
    resolve_fails(PLAINTEXT, "env:NAME, file:/ABS/PATH, cred:NAME");
    resolve_fails("vault:" PLAINTEXT, "unknown scheme");
    resolve_fails(NULL, "missing");
}

static void test_is_reference(void **state)
{
    json_t *v = json_pack("{s:s}", "secret", "env:X");
    assert_true(cd_secret_is_reference(v));
    json_decref(v);
    v = json_pack("{s:s, s:s}", "secret", "env:X", "other", "y");
    assert_false(cd_secret_is_reference(v));
    json_decref(v);
    v = json_pack("{s:i}", "secret", 5);
    assert_false(cd_secret_is_reference(v));
    json_decref(v);
    v = json_string("env:X");
    assert_false(cd_secret_is_reference(v));
    json_decref(v);
    assert_false(cd_secret_is_reference(NULL));
}

static void test_resolve_tree(void **state)
{
    setenv("CD_TEST_A", "alpha-value", 1);
    setenv("CD_TEST_B", "bravo-value", 1);
    json_error_t jerr;
    json_t *cfg = json_loads("{\"host\": \"h\", \"password\": {\"secret\": \"env:CD_TEST_A\"},"
                             " \"keys\": [1, {\"secret\": \"env:CD_TEST_B\"}, {\"k\": {\"secret\": \"env:CD_TEST_A\"}}],"
                             " \"not_ref\": {\"secret\": \"env:CD_TEST_A\", \"note\": \"x\"}}",
                             0, &jerr);
    assert_non_null(cfg);
    cd_secret_set *set = cd_secret_set_new();
    char *err = NULL;
    assert_int_equal(cd_secrets_resolve_tree(cfg, set, &err), 0);
    char *dump = json_dumps(cfg, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(dump, "{\"host\":\"h\",\"keys\":[1,\"bravo-value\",{\"k\":\"alpha-value\"}],"
                              "\"not_ref\":{\"note\":\"x\",\"secret\":\"env:CD_TEST_A\"},"
                              "\"password\":\"alpha-value\"}");
    free(dump);
    char *s = cd_secret_scrub(set, "a=alpha-value b=bravo-value");
    assert_string_equal(s, "a=******** b=********");
    free(s);
    cd_secret_set_free(set);
    json_decref(cfg);
    unsetenv("CD_TEST_A");
    unsetenv("CD_TEST_B");
}

/* resolve_tree on json must fail with exactly want. */
static void tree_fails(const char *json, const char *want)
{
    json_error_t jerr;
    json_t *cfg = json_loads(json, 0, &jerr);
    assert_non_null(cfg);
    char *err = NULL;
    assert_int_equal(cd_secrets_resolve_tree(cfg, NULL, &err), -1);
    assert_string_equal(err, want);
    free(err);
    json_decref(cfg);
}

static void test_resolve_tree_errors(void **state)
{
    unsetenv("CD_TEST_NONE");
    tree_fails("{\"connection\": {\"pgp\": [{}, {}, {\"passphrase\": {\"secret\": \"env:CD_TEST_NONE\"}}]}}",
               "connection.pgp[2].passphrase: secret env:CD_TEST_NONE is not set");
    tree_fails("[{\"secret\": \"env:CD_TEST_NONE\"}]", "[0]: secret env:CD_TEST_NONE is not set");
    tree_fails("{\"a\": {\"secret\": 5}}", "a: \"secret\" must be a string such as \"env:NAME\"");
    tree_fails("{\"secret\": \"env:CD_TEST_NONE\"}",
               "(root): a secret reference cannot stand for the whole configuration");
}

/* A connector's references may not reach the service's own credentials
 * (secret_guard.h). */
static void test_guard(void **state)
{
    fixture *fx = *state;
    cd_secret_guard_set("postgresql://svc:db-pass-123@127.0.0.1/connectord");
    setenv("CONNECTORD_DATABASE_URL", "postgresql://svc:db-pass-123@127.0.0.1/connectord", 1);
    setenv("PGPASSWORD", "db-pass-123", 1);
    setenv("PGP_PASS", "pgp-passphrase", 1);
    setenv("CD_TEST_HOLDS_PW", "prefix db-pass-123 suffix", 1);
    tree_fails("{\"password\": {\"secret\": \"env:CONNECTORD_DATABASE_URL\"}}",
               "password: secret env:CONNECTORD_DATABASE_URL names one of the service's own settings "
               "(CONNECTORD_*, libpq's PGPASSWORD and the like), not a connector's secret");
    tree_fails("{\"password\": {\"secret\": \"env:PGPASSWORD\"}}",
               "password: secret env:PGPASSWORD names one of the service's own settings "
               "(CONNECTORD_*, libpq's PGPASSWORD and the like), not a connector's secret");
    tree_fails("{\"password\": {\"secret\": \"file:/proc/self/environ\"}}",
               "password: secret file:/proc/self/environ is under /proc: the kernel's files hold the "
               "service's own state, not a connector's secret");
    /* reached through a link: the same file */
    char *link = cd_sprintf("%s/sub", fx->dir);
    assert_int_equal(symlink("/proc/self/environ", link), 0);
    char *json = cd_sprintf("{\"k\": {\"secret\": \"file:%s\"}}", link);
    json_error_t jerr;
    json_t *cfg = json_loads(json, 0, &jerr);
    char *err = NULL;
    assert_int_equal(cd_secrets_resolve_tree(cfg, NULL, &err), -1);
    assert_non_null(strstr(err, "is under /proc"));
    free(err);
    json_decref(cfg);
    free(json);
    free(link);
    /* by content: any way to the database password is refused */
    tree_fails("{\"token\": {\"secret\": \"env:CD_TEST_HOLDS_PW\"}}",
               "token: secret env:CD_TEST_HOLDS_PW holds the service's own database credentials: "
               "refused");
    char *path = write_file(fx, "plain", "url: postgresql://svc:db-pass-123@127.0.0.1/connectord\n", 55);
    char *ref = cd_sprintf("file:%s", path);
    char *out = NULL, *why = NULL;
    size_t len = 0;
    assert_int_equal(cd_secret_resolve_guarded(ref, &out, &len, &why), -1);
    assert_null(out);
    assert_non_null(strstr(why, "holds the service's own database credentials"));
    free(why);
    free(ref);
    free(path);
    /* a connector's own secrets pass, PGP_* included */
    resolves_to("env:PGP_PASS", "pgp-passphrase", 14);
    assert_int_equal(cd_secret_guard_check_reference("env:PGP_PASS", &why), 0);
    assert_int_equal(cd_secret_guard_check_reference("file:/etc/connectord/bank.key", &why), 0);
    /* libpq's password file: the database password when the URL carries
     * none, as conf.d/connectord.yaml recommends */
    {
        char *home = getenv("HOME") ? cd_xstrdup(getenv("HOME")) : NULL;
        setenv("HOME", fx->dir, 1);
        char *pgpass = write_file(fx, ".pgpass", "127.0.0.1:5432:connectord:svc:pw-in-pgpass\n",
                                   strlen("127.0.0.1:5432:connectord:svc:pw-in-pgpass\n"));
        char *pref = cd_sprintf("file:%s", pgpass);
        why = NULL;
        assert_int_equal(cd_secret_guard_check_reference(pref, &why), -1);
        assert_non_null(strstr(why, "libpq"));
        free(why);
        free(pref);
        /* PGPASSFILE moves it */
        char *moved = write_file(fx, "pgpass-elsewhere", "*:*:*:*:pw\n", 11);
        setenv("PGPASSFILE", moved, 1);
        pref = cd_sprintf("file:%s", moved);
        why = NULL;
        assert_int_equal(cd_secret_guard_check_reference(pref, &why), -1);
        free(why);
        free(pref);
        unsetenv("PGPASSFILE");
        /* and the client key libpq reads under ~/.postgresql */
        char *pgdir = cd_sprintf("%s/.postgresql", fx->dir);
        assert_int_equal(mkdir(pgdir, 0700), 0);
        pref = cd_sprintf("file:%s/postgresql.key", pgdir);
        why = NULL;
        assert_int_equal(cd_secret_guard_check_reference(pref, &why), -1);
        free(why);
        free(pref);
        free(pgdir);
        /* without HOME, the password database's home, as libpq does */
        unsetenv("HOME");
        struct passwd *pw = getpwuid(geteuid());
        if (pw && pw->pw_dir && *pw->pw_dir) {
            pref = cd_sprintf("file:%s/.pgpass", pw->pw_dir);
            why = NULL;
            assert_int_equal(cd_secret_guard_check_reference(pref, &why), -1);
            free(why);
            free(pref);
        }
        free(moved);
        free(pgpass);
        if (home) {
            setenv("HOME", home, 1);
            free(home);
        } else {
            unsetenv("HOME");
        }
    }
    cd_secret_guard_set(NULL);
    unsetenv("CONNECTORD_DATABASE_URL");
    unsetenv("PGPASSWORD");
    unsetenv("PGP_PASS");
    unsetenv("CD_TEST_HOLDS_PW");
}

static void test_scrub(void **state)
{
    cd_secret_set *set = cd_secret_set_new();
    cd_secret_set_add(set, "abc", 3); /* too short: not added */
    cd_secret_set_add(set, "pass", 4);
    cd_secret_set_add(set, "password123", 11);
    cd_secret_set_add(set, "token-xyz", 9);
    cd_secret_set_add(set, "token-xyz", 9); /* duplicates are harmless */
    char *s;
    s = cd_secret_scrub(set, "abc user pass");
    assert_string_equal(s, "abc user ********");
    free(s);
    /* The longer value wins where one contains the other. */
    s = cd_secret_scrub(set, "password123 and pass and password12");
    assert_string_equal(s, "******** and ******** and ********word12");
    free(s);
    /* Values side by side, or overlapping, are one mask: no part of
     * either is left (replacing the first would leave the second's end). */
    s = cd_secret_scrub(set, "token-xyztoken-xyz");
    assert_string_equal(s, "********");
    free(s);
    s = cd_secret_scrub(set, "[password123]");
    assert_string_equal(s, "[********]");
    free(s);
    s = cd_secret_scrub(set, "");
    assert_string_equal(s, "");
    free(s);
    s = cd_secret_scrub(set, "nothing here");
    assert_string_equal(s, "nothing here");
    free(s);
    s = cd_secret_scrub(NULL, "pass");
    assert_string_equal(s, "pass");
    free(s);
    cd_secret_set_free(set);
    cd_secret_set_free(NULL);

    /* A set with only short values scrubs nothing. */
    set = cd_secret_set_new();
    cd_secret_set_add(set, "a", 1);
    s = cd_secret_scrub(set, "a banana");
    assert_string_equal(s, "a banana");
    free(s);
    cd_secret_set_free(set);
}

/* scrub(set, text) must give want. */
static void scrubs_to(const cd_secret_set *set, const char *text, const char *want)
{
    char *s = cd_secret_scrub(set, text);
    if (strcmp(s, want) != 0)
        fail_msg("scrub(\"%s\") = \"%s\", want \"%s\"", text, s, want);
    free(s);
}

static void test_scrub_json(void **state)
{
    (void)state;
    cd_secret_set *set = cd_secret_set_new();
    cd_secret_set_add(set, "p\"ss\\w/rd", 9);
    cd_secret_set_add(set, "p\xc3\xa4ssw\xc3\xb6rd", 10);        /* pässwörd */
    cd_secret_set_add(set, "key\xf0\x9f\x98\x80" "1234", 11);    /* key😀1234 */
    cd_secret_set_add(set, "line1\nline2\t", 12);
    /* as JSON encoders write them: jansson, PHP (\/), Python and Go (\u),
     * Jackson (upper-case hex) */
    scrubs_to(set, "{\"password\":\"p\\\"ss\\\\w/rd\"}", "{\"password\":\"********\"}");
    scrubs_to(set, "{\"password\":\"p\\\"ss\\\\w\\/rd\"}", "{\"password\":\"********\"}");
    scrubs_to(set, "pw=p\\u0022ss\\u005cw\\u002Frd.", "pw=********.");
    scrubs_to(set, "pw=p\\u00e4ssw\\u00F6rd.", "pw=********.");
    scrubs_to(set, "pw=key\\ud83d\\ude001234.", "pw=********.");
    scrubs_to(set, "pw=key\\uD83D\\uDE001234.", "pw=********.");
    scrubs_to(set, "pw=line1\\nline2\\t.", "pw=********.");
    scrubs_to(set, "pw=line1\\u000aline2\\u0009.", "pw=********.");
    /* a JSON body logged inside a JSON string: escaped twice */
    scrubs_to(set, "{\"body\":\"{\\\"password\\\":\\\"p\\\\\\\"ss\\\\\\\\w\\\\/rd\\\"}\"}",
              "{\"body\":\"{\\\"password\\\":\\\"********\\\"}\"}");
    scrubs_to(set, "pw=line1\\\\u000aline2\\\\t.", "pw=********.");
    /* as written, still */
    scrubs_to(set, "pw=p\"ss\\w/rd.", "pw=********.");
    /* a part of a value is no value */
    scrubs_to(set, "\\\"ss\\\\w/rd", "\\\"ss\\\\w/rd");
    /* other escapes and broken ones are left alone */
    scrubs_to(set, "a\\\"b \\ud800 \\u12 \\q \\", "a\\\"b \\ud800 \\u12 \\q \\");
    cd_secret_set_free(set);
}

static void test_scrub_url(void **state)
{
    (void)state;
    cd_secret_set *set = cd_secret_set_new();
    cd_secret_set_add(set, "p@ss w/rd+1&", 12);
    /* a form body, a query string: upper and lower case, + or %20 for a
     * space, '/' left as it is (Python's quote) */
    scrubs_to(set, "user=u&password=p%40ss+w%2Frd%2B1%26&x=1", "user=u&password=********&x=1");
    scrubs_to(set, "GET /x?password=p%40ss%20w%2frd%2b1%26 HTTP/1.1",
              "GET /x?password=******** HTTP/1.1");
    scrubs_to(set, "?pw=p%40ss%20w/rd%2B1%26", "?pw=********");
    /* percent-encoded inside JSON with escaped slashes */
    scrubs_to(set, "{\"url\":\"https:\\/\\/h\\/?pw=p%40ss+w\\/rd%2B1%26\"}",
              "{\"url\":\"https:\\/\\/h\\/?pw=********\"}");
    /* as written */
    scrubs_to(set, "pw p@ss w/rd+1& end", "pw ******** end");
    /* a stray % is no encoding */
    scrubs_to(set, "100% sure %zz %4", "100% sure %zz %4");
    cd_secret_set_free(set);

    /* The bound of cd_secret_longest holds for the longest form found:
     * JSON inside a percent-encoding writes a control character
     * "%5Cu0001", 8 bytes. Cut as host.c cuts driver text (scrub max +
     * longest bytes, keep max), a value so written right at the cut
     * leaves none of itself in what is kept. */
    set = cd_secret_set_new();
    char ctl[33];
    for (int i = 0; i < 32; i++)
        ctl[i] = (char)(1 + i % 8);
    ctl[32] = '\0';
    cd_secret_set_add(set, ctl, 32);
    size_t max = 64;
    for (size_t k = 1; k <= 8 * 32; k++) {
        cd_buf t;
        cd_buf_init(&t);
        for (size_t i = 0; i + k < max; i++)
            cd_buf_putc(&t, 'x');
        cd_buf_puts(&t, "?q=");
        for (int i = 0; i < 32; i++)
            cd_buf_printf(&t, "%%5Cu%04x", (unsigned)ctl[i]);
        cd_buf_puts(&t, "&n=1");
        size_t cut = max + 3 + cd_secret_longest(set);
        if (t.len > cut)
            t.data[cut] = '\0';
        char *sc = cd_secret_scrub(set, t.data);
        if (strlen(sc) > max + 3)
            sc[max + 3] = '\0';
        if (strstr(sc, "%5Cu0001"))
            fail_msg("value at %zu before the cut: kept \"%s\"", k, sc);
        free(sc);
        cd_buf_free(&t);
    }
    cd_secret_set_free(set);

    /* JSON inside a percent-encoded query */
    set = cd_secret_set_new();
    cd_secret_set_add(set, "a\"b\\c1", 6);
    scrubs_to(set, "?q=%7B%22pw%22%3A%22a%5C%22b%5C%5Cc1%22%7D&n=1", "?q=%7B%22pw%22%3A%22********%22%7D&n=1");
    cd_secret_set_free(set);
}

static char *b64(const char *s, size_t n, int url_safe)
{
    const char *abc = url_safe ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                               : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = cd_xmalloc(n / 3 * 4 + 5);
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i += 3) {
        unsigned long v = (unsigned long)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned long)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? abc[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static void test_scrub_base64(void **state)
{
    (void)state;
    cd_secret_set *set = cd_secret_set_new();
    cd_secret_set_add(set, "s3cr3t-value", 12);
    /* user names of every length modulo 3: the value starts at each
     * alignment of base64's 3-byte groups */
    static const char *const users[] = {"", "a", "ab", "alice", "merchant-42"};
    for (size_t u = 0; u < sizeof users / sizeof users[0]; u++) {
        char *cred = cd_sprintf("%s:s3cr3t-value", users[u]);
        for (int url_safe = 0; url_safe < 2; url_safe++) {
            char *enc = b64(cred, strlen(cred), url_safe);
            char *text = cd_sprintf("> Authorization: Basic %s\r\n> Accept: */*", enc);
            scrubs_to(set, text, "> Authorization: Basic ********\r\n> Accept: */*");
            free(text);
            /* in a JSON header map with escaped slashes, glued to a prefix */
            char *esc = cd_xmalloc(2 * strlen(enc) + 1);
            size_t k = 0;
            for (const char *c = enc; *c; c++) {
                if (*c == '/')
                    esc[k++] = '\\';
                esc[k++] = *c;
            }
            esc[k] = '\0';
            text = cd_sprintf("{\"Authorization\":\"Basic %s\",\"X\":\"tok/%s\"}", esc, enc);
            scrubs_to(set, text, "{\"Authorization\":\"Basic ********\",\"X\":\"********\"}");
            free(text);
            free(esc);
            free(enc);
        }
        free(cred);
    }
    /* the value alone, base64'd (a token); and percent-encoded base64 */
    char *enc = b64("s3cr3t-value", 12, 0);
    char *text = cd_sprintf("token %s.", enc);
    scrubs_to(set, text, "token ********.");
    free(text);
    free(enc);
    enc = b64("u:s3cr3t-value>ab?", 18, 0); /* holds + and / */
    cd_buf q;
    cd_buf_init(&q);
    cd_buf_puts(&q, "?auth=");
    for (const char *c = enc; *c; c++) {
        if (*c == '+' || *c == '/' || *c == '=')
            cd_buf_printf(&q, "%%%02X", (unsigned)*c);
        else
            cd_buf_putc(&q, *c);
    }
    cd_buf_puts(&q, "&x=1");
    assert_non_null(strchr(enc, '+'));
    scrubs_to(set, q.data, "?auth=********&x=1");
    cd_buf_free(&q);
    free(enc);
    /* other base64 is left alone */
    enc = b64("alice:another-password", 22, 0);
    text = cd_sprintf("Basic %s", enc);
    scrubs_to(set, text, text);
    free(text);
    free(enc);
    cd_secret_set_free(set);

    /* a JSON body with escaped slashes (PHP's json_encode) logged inside
     * a JSON string: the word is whole only in the text's second JSON
     * reading, and the value's base64 has a '/' in its middle */
    set = cd_secret_set_new();
    cd_secret_set_add(set, "s3cr?t?value", 12);
    enc = b64("u:s3cr?t?value", 14, 0);
    assert_string_equal(enc, "dTpzM2NyP3Q/dmFsdWU=");
    free(enc);
    scrubs_to(set, "{\"log\":\"{\\\"Authorization\\\":\\\"Basic dTpzM2NyP3Q\\\\\\/dmFsdWU=\\\"}\"}",
              "{\"log\":\"{\\\"Authorization\\\":\\\"Basic ********\\\"}\"}");
    /* and that JSON percent-encoded in a query */
    scrubs_to(set, "?q=%7B%22a%22%3A%22Basic%20dTpzM2NyP3Q%5C%2FdmFsdWU%3D%22%7D&n=1",
              "?q=%7B%22a%22%3A%22Basic%20********%22%7D&n=1");
    cd_secret_set_free(set);

    /* a value too short to be masked is not masked encoded either */
    set = cd_secret_set_new();
    cd_secret_set_add(set, "p+w", 3);
    scrubs_to(set, "Basic dTpwK3c= p%2Bw p\\u002bw", "Basic dTpwK3c= p%2Bw p\\u002bw");
    assert_int_equal(cd_secret_longest(set), 0);
    cd_secret_set_free(set);
}

/* Scrubbing stays linear in the text: a long value that almost matches
 * everywhere, over a megabyte of text that decodes in every reading. */
static void test_scrub_linear(void **state)
{
    (void)state;
    size_t vlen = 4096, n = 1 << 20;
    char *value = cd_xmalloc(vlen + 1);
    memset(value, 'a', vlen - 1);
    value[vlen - 1] = 'b';
    value[vlen] = '\0';
    cd_secret_set *set = cd_secret_set_new();
    cd_secret_set_add(set, value, vlen);
    assert_int_equal(cd_secret_longest(set), 8 * vlen);
    char *text = cd_xmalloc(n + 1);
    memset(text, 'a', n);
    text[n] = '\0';
    char *s = cd_secret_scrub(set, text);
    assert_string_equal(s, text);
    free(s);
    for (size_t i = 0; i + 6 <= n; i += 6)
        memcpy(text + i, "\\u0061", 6);
    text[n - n % 6] = '\0';
    s = cd_secret_scrub(set, text);
    assert_string_equal(s, text);
    free(s);
    for (size_t i = 0; i + 3 <= n; i += 3)
        memcpy(text + i, "%61", 3);
    text[n - n % 3] = '\0';
    s = cd_secret_scrub(set, text);
    assert_string_equal(s, text);
    free(s);
    /* the value itself, JSON-escaped at the end of all that */
    cd_buf t, want;
    cd_buf_init(&t);
    cd_buf_init(&want);
    for (size_t i = 0; i < 2 * vlen; i++) {
        cd_buf_puts(&t, "\\u0061");
        if (i < vlen + 1)
            cd_buf_puts(&want, "\\u0061");
    }
    cd_buf_puts(&t, "\\u0062.");
    cd_buf_puts(&want, "********.");
    s = cd_secret_scrub(set, t.data);
    assert_string_equal(s, want.data);
    free(s);
    cd_buf_free(&t);
    cd_buf_free(&want);
    free(text);
    free(value);
    cd_secret_set_free(set);
}

static void test_address_names(void **state)
{
    (void)state;
    static const char *const yes[] = {"url", "base_url", "api_base_url", "host", "sftp_host",
                                      "SFTP-Host", "baseURL", "webhookUrl", "host_name", "hostName",
                                      "hostname", "hostaddr", "port", "sftp_port", "ports", "hosts",
                                      "endpoint", "server", "ip_address", "addresses", "proxy",
                                      "dsn", "conninfo", "domain", "redirect_uri",
                                      /* which server is the right one */
                                      "host_key_sha256", "known_hosts_file", "ca_bundle",
                                      "sslrootcert", "CA-Cert", "fingerprint",
                                      /* an acronym before the last word */
                                      "SFTPHost", "APIEndpoint", "DBHost", "HTTPSProxy",
                                      "sftpURLs", "URLs"};
    static const char *const no[] = {"password", "username", "report", "export", "host_header_name",
                                     "remote_path", "support", "urlencode", "hostile", "api_key",
                                     "", "_", "timeout_seconds", "url_template",
                                     "signer_key", "ca", "key_fingerprint_header",
                                     "APIKey", "SFTPUser", "URLTemplate", "HOSTile"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!cd_api_name_is_address(yes[i]))
            fail_msg("%s is an address field", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (cd_api_name_is_address(no[i]))
            fail_msg("%s is no address field", no[i]);
}

/* cd_api_unmask_update of new over old: the fields of the errors, joined
 * by ",", and the first message in *msg (malloc'd). */
static char *unmask_update(const char *oldj, const char *newj, const char *old_drv,
                           const char *new_drv, const char *schemaj, json_t **out, char **msg)
{
    json_error_t jerr;
    json_t *old = json_loads(oldj, 0, &jerr), *cur = json_loads(newj, 0, &jerr);
    json_t *schema = schemaj ? json_loads(schemaj, 0, &jerr) : NULL;
    assert_non_null(old);
    assert_non_null(cur);
    json_t *errors = json_array();
    int n = cd_api_unmask_update(cur, old, "connection_config", old_drv, new_drv, schema, errors);
    assert_int_equal((size_t)n, json_array_size(errors));
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_puts(&b, "");
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        if (i)
            cd_buf_putc(&b, ',');
        cd_buf_puts(&b, json_string_value(json_object_get(e, "field")));
    }
    if (msg)
        *msg = cd_xstrdup(json_array_size(errors)
                              ? json_string_value(json_object_get(json_array_get(errors, 0), "message"))
                              : "");
    json_decref(errors);
    json_decref(old);
    json_decref(schema);
    if (out)
        *out = cur;
    else
        json_decref(cur);
    return cd_buf_take(&b);
}

static void expect_unmask(const char *oldj, const char *newj, const char *old_drv,
                          const char *new_drv, const char *schemaj, const char *want_fields,
                          const char *want_msg)
{
    char *msg = NULL;
    char *f = unmask_update(oldj, newj, old_drv, new_drv, schemaj, NULL, &msg);
    if (strcmp(f, want_fields) != 0)
        fail_msg("%s over %s: errors on \"%s\", want \"%s\" (%s)", newj, oldj, f, want_fields, msg);
    if (want_msg && !strstr(msg, want_msg))
        fail_msg("%s over %s: message \"%s\" lacks \"%s\"", newj, oldj, msg, want_msg);
    free(f);
    free(msg);
}

static void test_unmask_update(void **state)
{
    (void)state;
    const char *old = "{\"sftp\": {\"host\": \"a.example\", \"port\": 22}, \"password\": \"pw-1\","
                      " \"x\": 1, \"target\": \"https://a.example/x\", \"conninfo\": \"host=a password=p\"}";
    /* an ordinary edit keeps the secrets */
    json_t *cur = NULL;
    char *f = unmask_update(old,
                            "{\"sftp\": {\"host\": \"a.example\", \"port\": 22}, \"password\": \"********\","
                            " \"x\": 2, \"target\": \"https://a.example/x\", \"conninfo\": \"********\"}",
                            "d", "d", NULL, &cur, NULL);
    assert_string_equal(f, "");
    assert_string_equal(json_string_value(json_object_get(cur, "password")), "pw-1");
    assert_string_equal(json_string_value(json_object_get(cur, "conninfo")), "host=a password=p");
    free(f);
    json_decref(cur);
    /* an address changes, deep down, or goes: every kept secret is named */
    expect_unmask(old,
                  "{\"sftp\": {\"host\": \"b.example\", \"port\": 22}, \"password\": \"********\","
                  " \"target\": \"https://a.example/x\", \"conninfo\": \"********\"}",
                  "d", "d", NULL, "connection_config.password,connection_config.conninfo",
                  "while connection_config.sftp.host changes: send the secret again");
    expect_unmask(old,
                  "{\"sftp\": {\"host\": \"a.example\"}, \"password\": \"********\","
                  " \"target\": \"https://a.example/x\", \"conninfo\": \"host=a password=p\"}",
                  "d", "d", NULL, "connection_config.password", "connection_config.sftp.port changes");
    expect_unmask(old, "{\"password\": \"********\", \"target\": \"https://a.example/x\"}", "d", "d",
                  NULL, "connection_config.password", "connection_config.sftp.host changes");
    /* the conninfo holds the address: sent anew, the kept password is refused */
    expect_unmask(old,
                  "{\"sftp\": {\"host\": \"a.example\", \"port\": 22}, \"password\": \"********\","
                  " \"target\": \"https://a.example/x\", \"conninfo\": \"host=b password=p\"}",
                  "d", "d", NULL, "connection_config.password", "connection_config.conninfo changes");
    /* an address the schema marks: "format", through a $ref or a oneOf */
    const char *schema =
        "{\"$defs\": {\"u\": {\"type\": \"string\", \"format\": \"uri\"}},"
        " \"properties\": {\"target\": {\"$ref\": \"#/$defs/u\"},"
        "  \"peer\": {\"oneOf\": [{\"type\": \"string\", \"format\": \"hostname\"}, {\"type\": \"integer\"}]},"
        "  \"mirrors\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"format\": \"ipv4\"}}}}";
    const char *old2 = "{\"target\": \"https://a/x\", \"peer\": \"a\", \"mirrors\": [\"10.0.0.1\"], \"password\": \"pw-1\"}";
    expect_unmask(old2, "{\"target\": \"https://b/x\", \"peer\": \"a\", \"mirrors\": [\"10.0.0.1\"], \"password\": \"********\"}",
                  "d", "d", schema, "connection_config.password", "connection_config.target changes");
    expect_unmask(old2, "{\"target\": \"https://a/x\", \"peer\": \"b\", \"mirrors\": [\"10.0.0.1\"], \"password\": \"********\"}",
                  "d", "d", schema, "connection_config.password", "connection_config.peer changes");
    expect_unmask(old2, "{\"target\": \"https://a/x\", \"peer\": \"a\", \"mirrors\": [\"10.0.0.2\"], \"password\": \"********\"}",
                  "d", "d", schema, "connection_config.password", "connection_config.mirrors[0] changes");
    expect_unmask(old2, "{\"target\": \"https://a/x\", \"peer\": \"a\", \"mirrors\": [\"10.0.0.1\"], \"password\": \"********\"}",
                  "d", "d", schema, "", NULL);
    /* a schema composed of parts: properties and items given in an allOf
     * (or $ref'd) branch of the object's schema are followed too */
    const char *schema3 =
        "{\"$defs\": {\"base\": {\"properties\": {\"peer\": {\"type\": \"string\", \"format\": \"hostname\"}}},"
        "  \"list\": {\"items\": {\"type\": \"string\", \"format\": \"ipv4\"}}},"
        " \"allOf\": [{\"$ref\": \"#/$defs/base\"},"
        "  {\"properties\": {\"mirrors\": {\"allOf\": [{\"$ref\": \"#/$defs/list\"}]}}}]}";
    expect_unmask(old2, "{\"target\": \"https://a/x\", \"peer\": \"b\", \"mirrors\": [\"10.0.0.1\"], \"password\": \"********\"}",
                  "d", "d", schema3, "connection_config.password", "connection_config.peer changes");
    expect_unmask(old2, "{\"target\": \"https://a/x\", \"peer\": \"a\", \"mirrors\": [\"10.0.0.2\"], \"password\": \"********\"}",
                  "d", "d", schema3, "connection_config.password", "connection_config.mirrors[0] changes");
    expect_unmask(old2, "{\"target\": \"https://a/x\", \"peer\": \"a\", \"mirrors\": [\"10.0.0.1\"], \"password\": \"********\"}",
                  "d", "d", schema3, "", NULL);
    /* without the schema those are no addresses by name */
    expect_unmask(old2, "{\"target\": \"https://b/x\", \"peer\": \"a\", \"mirrors\": [\"10.0.0.1\"], \"password\": \"********\"}",
                  "d", "d", NULL, "", NULL);
    /* another driver: every kept secret */
    expect_unmask(old, "{\"password\": \"********\", \"x\": 1}", "d", "e", NULL,
                  "connection_config.password", "while the driver changes from d to e");
    /* a refused mask stays the mask: the secret is not handed on */
    f = unmask_update(old, "{\"password\": \"********\", \"x\": 1}", "d", "e", NULL, &cur, NULL);
    assert_string_equal(f, "connection_config.password");
    assert_string_equal(json_string_value(json_object_get(cur, "password")), "********");
    free(f);
    json_decref(cur);
    /* no secret kept: anything may change */
    expect_unmask(old, "{\"sftp\": {\"host\": \"b\"}, \"password\": \"pw-2\"}", "d", "e", NULL, "", NULL);
    /* a mask with nothing behind it is the old error */
    expect_unmask(old, "{\"token\": \"********\"}", "d", "d", NULL, "connection_config.token",
                  "no value is stored");
}

/* Without the driver's schema (its plugin not loaded) no name tells a
 * secret: every value but references, nulls and booleans is masked, as
 * GET /connectors/{id} shows it (GET /connectors masked by names). */
static void test_mask_config_names(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *cfg = json_loads("{\"rows\": 1, \"pin\": \"4321\", \"ok\": true, \"n\": null,"
                             " \"ref\": {\"secret\": \"env:X\"},"
                             " \"nested\": {\"shared\": \"s\", \"codes\": [98765, \"x\", false]}}",
                             0, &jerr);
    assert_non_null(cfg);
    cd_api_mask_config(cfg, NULL);
    char *s = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"n\":null,\"nested\":{\"codes\":[\"********\",\"********\",false],"
                           "\"shared\":\"********\"},\"ok\":true,\"pin\":\"********\","
                           "\"ref\":{\"secret\":\"env:X\"},\"rows\":\"********\"}");
    free(s);
    json_decref(cfg);
    /* with a schema, a field it does not describe is judged by its whole
     * name, however long */
    json_t *schema = json_loads("{\"properties\": {\"rows\": {\"type\": \"integer\"}}}", 0, &jerr);
    cfg = json_loads("{\"rows\": 1, \"merchant_configuration_for_the_primary_settlement_account_"
                     "password\": \"pw-long-name\", \"note\": \"n\"}",
                     0, &jerr);
    assert_non_null(schema);
    assert_non_null(cfg);
    cd_api_mask_config(cfg, schema);
    s = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"merchant_configuration_for_the_primary_settlement_account_password\":"
                           "\"********\",\"note\":\"n\",\"rows\":1}");
    free(s);
    json_decref(cfg);
    json_decref(schema);
}

static void test_collect_marked(void **state)
{
    json_error_t jerr;
    json_t *schema = json_loads(
        "{\"type\": \"object\", \"properties\": {"
        "  \"user\": {\"type\": \"string\"},"
        "  \"password\": {\"type\": \"string\", \"writeOnly\": true},"
        "  \"ref\": {\"type\": \"string\", \"writeOnly\": true},"
        "  \"pgp\": {\"type\": \"object\", \"properties\": {"
        "     \"passphrase\": {\"type\": \"string\", \"writeOnly\": true}}},"
        "  \"accounts\": {\"type\": \"array\", \"items\": {\"type\": \"object\", \"properties\": {"
        "     \"api_key\": {\"type\": \"string\", \"writeOnly\": true}}}},"
        "  \"shared\": {\"$ref\": \"#/$defs/key\"}},"
        " \"$defs\": {\"key\": {\"type\": \"string\", \"writeOnly\": true}}}",
        0, &jerr);
    assert_non_null(schema);
    json_t *cfg = json_loads(
        "{\"user\": \"alice-user\", \"password\": \"pw-plain-1\","
        " \"ref\": {\"secret\": \"env:X\"},"
        " \"pgp\": {\"passphrase\": \"pgp-phrase\"},"
        " \"accounts\": [{\"api_key\": \"key-one-1\"}, {\"api_key\": \"key-two-2\"}],"
        " \"shared\": \"shared-key\"}",
        0, &jerr);
    assert_non_null(cfg);
    cd_secret_set *set = cd_secret_set_new();
    cd_secrets_collect_marked(cfg, schema, set);
    char *s = cd_secret_scrub(set, "alice-user pw-plain-1 pgp-phrase key-one-1 key-two-2 "
                                   "shared-key env:X");
    assert_string_equal(s, "alice-user ******** ******** ******** ******** ******** env:X");
    free(s);
    cd_secrets_collect_marked(cfg, NULL, set); /* no schema: nothing, no crash */
    cd_secret_set_free(set);
    json_decref(cfg);
    json_decref(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env),
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cred, setup, teardown),
        cmocka_unit_test(test_unknown_scheme),
        cmocka_unit_test(test_is_reference),
        cmocka_unit_test(test_resolve_tree),
        cmocka_unit_test(test_resolve_tree_errors),
        cmocka_unit_test_setup_teardown(test_guard, setup, teardown),
        cmocka_unit_test(test_scrub),
        cmocka_unit_test(test_scrub_json),
        cmocka_unit_test(test_scrub_url),
        cmocka_unit_test(test_scrub_base64),
        cmocka_unit_test(test_scrub_linear),
        cmocka_unit_test(test_address_names),
        cmocka_unit_test(test_unmask_update),
        cmocka_unit_test(test_mask_config_names),
        cmocka_unit_test(test_collect_marked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
