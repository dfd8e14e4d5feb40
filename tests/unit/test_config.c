/*
 * test_config.c — unit tests of core/config.c: YAML typing, refusals with
 * positions, conf.d merge order, environment overrides, cd_config_check.
 * Files are written into a fresh temporary directory per test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

/* A temporary directory with a conf.d inside; removed by teardown. */
typedef struct fixture {
    char dir[64];
} fixture;

/* Writes text to dir/name (name may contain "conf.d/"). */
static void write_file(const fixture *fx, const char *name, const char *text)
{
    char *path = cd_sprintf("%s/%s", fx->dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

static int setup(void **state)
{
    fixture *fx = cd_xcalloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/cd_test_config.XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    char *confd = cd_sprintf("%s/conf.d", fx->dir);
    mkdir(confd, 0700);
    free(confd);
    unsetenv("CONNECTORD_DATABASE_URL");
    unsetenv("CONNECTORD_HTTP_PORT");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    /* Only files the tests created: no recursive removal by name. */
    char *confd = cd_sprintf("%s/conf.d", fx->dir);
    static const char *const names[] = {"10-a.yaml", "20-b.yaml", "30-notes.txt",
                                        "15-c.yaml.bak", "25-dir.yaml", ".hidden.yaml",
                                        "10-auth.yaml", "20-x.yaml"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = cd_sprintf("%s/%s", confd, names[i]);
        if (unlink(p) < 0)
            rmdir(p);
        free(p);
    }
    rmdir(confd);
    free(confd);
    char *main_file = cd_sprintf("%s/connectord.yaml", fx->dir);
    unlink(main_file);
    free(main_file);
    rmdir(fx->dir);
    free(fx);
    unsetenv("CONNECTORD_DATABASE_URL");
    unsetenv("CONNECTORD_HTTP_PORT");
    return 0;
}

/* Parses text that must be valid. */
static cd_config *parse_ok(const char *text)
{
    char *err = NULL;
    cd_config *cfg = cd_config_from_string(text, strlen(text), &err);
    if (!cfg)
        fail_msg("unexpected error: %s", err);
    return cfg;
}

/* Parses text that must be refused; asserts the message contains want. */
static void parse_fails(const char *text, const char *want)
{
    char *err = NULL;
    cd_config *cfg = cd_config_from_string(text, strlen(text), &err);
    assert_null(cfg);
    assert_non_null(err);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    free(err);
}

/* Loads fx's connectord.yaml, which must succeed. */
static cd_config *load_ok(const fixture *fx)
{
    char *path = cd_sprintf("%s/connectord.yaml", fx->dir);
    char *err = NULL;
    cd_config *cfg = cd_config_load(path, &err);
    if (!cfg)
        fail_msg("unexpected error: %s", err);
    free(path);
    return cfg;
}

static void test_typed_scalars(void **state)
{
    cd_config *cfg = parse_ok("a:\n"
                              "  int: 42\n"
                              "  neg: -7\n"
                              "  plus: +3\n"
                              "  quoted: \"5103\"\n"
                              "  single: '12'\n"
                              "  t: true\n"
                              "  T: True\n"
                              "  f: false\n"
                              "  yes: yes\n"
                              "  n1: null\n"
                              "  n2: ~\n"
                              "  n3:\n"
                              "  qnull: \"null\"\n"
                              "  big: 99999999999999999999\n"
                              "  float: 1.5\n"
                              "  text: hello world\n"
                              "  lit: |\n"
                              "    42\n");
    assert_true(json_is_integer(cd_config_get(cfg, "a.int")));
    assert_int_equal(cd_config_int(cfg, "a.int", 0, NULL), 42);
    assert_int_equal(cd_config_int(cfg, "a.neg", 0, NULL), -7);
    assert_int_equal(cd_config_int(cfg, "a.plus", 0, NULL), 3);
    assert_true(json_is_string(cd_config_get(cfg, "a.quoted")));
    assert_string_equal(cd_config_string(cfg, "a.quoted", NULL), "5103");
    assert_int_equal(cd_config_int(cfg, "a.quoted", 0, NULL), 5103);
    assert_true(json_is_string(cd_config_get(cfg, "a.single")));
    assert_true(json_is_true(cd_config_get(cfg, "a.t")));
    assert_true(json_is_true(cd_config_get(cfg, "a.T")));
    assert_true(json_is_false(cd_config_get(cfg, "a.f")));
    assert_string_equal(cd_config_string(cfg, "a.yes", NULL), "yes");
    assert_true(json_is_null(cd_config_get(cfg, "a.n1")));
    assert_true(json_is_null(cd_config_get(cfg, "a.n2")));
    assert_true(json_is_null(cd_config_get(cfg, "a.n3")));
    assert_true(json_is_string(cd_config_get(cfg, "a.qnull")));
    assert_true(json_is_string(cd_config_get(cfg, "a.big")));
    assert_true(json_is_string(cd_config_get(cfg, "a.float")));
    assert_string_equal(cd_config_string(cfg, "a.text", NULL), "hello world");
    assert_true(json_is_string(cd_config_get(cfg, "a.lit")));
    /* A key that is an integer stays text. */
    cd_config_free(cfg);
    cfg = parse_ok("1: one\n");
    assert_string_equal(cd_config_string(cfg, "1", NULL), "one");
    cd_config_free(cfg);
}

static void test_string_and_int_accessors(void **state)
{
    cd_config *cfg = parse_ok("http:\n  port: 5103\n  listen: 127.0.0.1\n"
                              "x:\n  word: abc\n  list: [1, 2]\n  n: null\n");
    /* Integers render as text, and the pointer stays valid. */
    const char *p1 = cd_config_string(cfg, "http.port", NULL);
    assert_string_equal(p1, "5103");
    const char *p2 = cd_config_string(cfg, "http.port", NULL);
    assert_ptr_equal(p1, p2);
    assert_string_equal(cd_config_string(cfg, "http.listen", "x"), "127.0.0.1");
    assert_string_equal(cd_config_string(cfg, "x.list", "dflt"), "dflt");
    assert_string_equal(cd_config_string(cfg, "nope.nothing", "dflt"), "dflt");
    assert_null(cd_config_get(cfg, "http.port.deeper"));
    assert_null(cd_config_get(cfg, "http..port"));
    assert_true(json_is_object(cd_config_get(cfg, "")));

    int bad = 0;
    assert_int_equal(cd_config_int(cfg, "missing", 9, &bad), 9);
    assert_int_equal(bad, 0);
    assert_int_equal(cd_config_int(cfg, "x.n", 8, &bad), 8);
    assert_int_equal(bad, 0);
    assert_int_equal(cd_config_int(cfg, "x.word", 7, &bad), 7);
    assert_int_equal(bad, 1);
    bad = 0;
    assert_int_equal(cd_config_int(cfg, "x.list", 6, &bad), 6);
    assert_int_equal(bad, 1);
    assert_int_equal(cd_config_int(cfg, "x.word", 5, NULL), 5);
    cd_config_free(cfg);
}

static void test_empty_and_top_level(void **state)
{
    cd_config *cfg = parse_ok("");
    assert_int_equal(json_object_size(cd_config_get(cfg, "")), 0);
    cd_config_free(cfg);
    cfg = parse_ok("# only a comment\n---\n");
    assert_int_equal(json_object_size(cd_config_get(cfg, "")), 0);
    cd_config_free(cfg);
    parse_fails("- a\n- b\n", "<string>:1:1: the top level must be a mapping");
    parse_fails("just text\n", "top level must be a mapping");
    parse_fails("a: 1\n---\nb: 2\n", "more than one YAML document");
}

static void test_bad_yaml_position(void **state)
{
    parse_fails("a: 1\nb: [1, 2\n", "<string>:");
    /* The position is line:column, 1-based. */
    parse_fails("a: 1\n  b: 2\n", "<string>:2:4:");
    parse_fails("a: \"unterminated\n", "<string>:");
}

static void test_duplicate_and_refusals(void **state)
{
    parse_fails("http:\n  port: 1\n  port: 2\n", "<string>:3:3: duplicate key \"port\"");
    parse_fails("a: &x 1\nb: *x\n", "anchors (&x) are not supported");
    parse_fails("a: [*x]\n", "<string>:1:5:");
    parse_fails("? [a, b]\n: 1\n", "mapping keys must be scalars");
    parse_fails("a: !!int 5\n", "tag tag:yaml.org,2002:int is not supported");
    parse_fails("a: \"x\\0y\"\n", "NUL character");
    /* An explicit !!str tag is how to force text. */
    cd_config *cfg = parse_ok("a: !!str 5\n");
    assert_true(json_is_string(cd_config_get(cfg, "a")));
    cd_config_free(cfg);
}

static void test_alias_bomb_refused(void **state)
{
    parse_fails("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "anchors (&a)");
    parse_fails("a: *undefined\n", "<string>:1:4:");
}

static void test_deep_nesting_refused(void **state)
{
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_puts(&b, "a: ");
    for (int i = 0; i < 200; i++)
        cd_buf_putc(&b, '[');
    for (int i = 0; i < 200; i++)
        cd_buf_putc(&b, ']');
    cd_buf_putc(&b, '\n');
    parse_fails(b.data, "nesting deeper than");
    cd_buf_free(&b);
}

static void test_merge_order(void **state)
{
    fixture *fx = *state;
    write_file(fx, "connectord.yaml",
               "database:\n  url: postgres:///main\n"
               "http:\n  listen: 127.0.0.1\n  port: 5103\n"
               "list: [1, 2, 3]\n"
               "runner:\n  timeout_seconds: 900\n");
    write_file(fx, "conf.d/20-b.yaml", "http:\n  port: 7000\nlist: [9]\n");
    write_file(fx, "conf.d/10-a.yaml",
               "http:\n  port: 6000\n  extra: yes\nrunner: {kill_grace_seconds: 5}\n");
    /* Ignored: not *.yaml, hidden, or not a regular file. */
    write_file(fx, "conf.d/30-notes.txt", "http:\n  port: 1\n");
    write_file(fx, "conf.d/15-c.yaml.bak", "http:\n  port: 2\n");
    write_file(fx, "conf.d/.hidden.yaml", "http:\n  port: 3\n");
    char *d = cd_sprintf("%s/conf.d/25-dir.yaml", fx->dir);
    mkdir(d, 0700);
    free(d);

    cd_config *cfg = load_ok(fx);
    assert_int_equal(cd_config_int(cfg, "http.port", 0, NULL), 7000);
    assert_string_equal(cd_config_string(cfg, "http.listen", NULL), "127.0.0.1");
    assert_string_equal(cd_config_string(cfg, "http.extra", NULL), "yes");
    assert_string_equal(cd_config_string(cfg, "database.url", NULL), "postgres:///main");
    assert_int_equal(cd_config_int(cfg, "runner.timeout_seconds", 0, NULL), 900);
    assert_int_equal(cd_config_int(cfg, "runner.kill_grace_seconds", 0, NULL), 5);
    json_t *list = cd_config_get(cfg, "list");
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(json_integer_value(json_array_get(list, 0)), 9);

    const json_t *src = cd_config_sources(cfg);
    assert_int_equal(json_array_size(src), 3);
    assert_non_null(strstr(json_string_value(json_array_get(src, 0)), "/connectord.yaml"));
    assert_non_null(strstr(json_string_value(json_array_get(src, 1)), "/conf.d/10-a.yaml"));
    assert_non_null(strstr(json_string_value(json_array_get(src, 2)), "/conf.d/20-b.yaml"));
    cd_config_free(cfg);
}

static void test_missing_confd_is_fine(void **state)
{
    fixture *fx = *state;
    char *confd = cd_sprintf("%s/conf.d", fx->dir);
    rmdir(confd);
    free(confd);
    write_file(fx, "connectord.yaml", "a: 1\n");
    cd_config *cfg = load_ok(fx);
    assert_int_equal(json_array_size(cd_config_sources(cfg)), 1);
    cd_config_free(cfg);
}

static void test_missing_main_file(void **state)
{
    fixture *fx = *state;
    char *path = cd_sprintf("%s/connectord.yaml", fx->dir);
    char *err = NULL;
    assert_null(cd_config_load(path, &err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));
    free(err);
    free(path);
}

static void test_error_in_confd_names_file(void **state)
{
    fixture *fx = *state;
    write_file(fx, "connectord.yaml", "a: 1\n");
    write_file(fx, "conf.d/10-a.yaml", "b: 1\nb: 2\n");
    char *path = cd_sprintf("%s/connectord.yaml", fx->dir);
    char *err = NULL;
    assert_null(cd_config_load(path, &err));
    char *want = cd_sprintf("%s/conf.d/10-a.yaml:2:1: duplicate key \"b\"", fx->dir);
    assert_string_equal(err, want);
    free(want);
    free(err);
    free(path);
}

static void test_bad_main_file(void **state)
{
    fixture *fx = *state;
    write_file(fx, "connectord.yaml", "http:\n  port: [5103\n");
    char *path = cd_sprintf("%s/connectord.yaml", fx->dir);
    char *err = NULL;
    assert_null(cd_config_load(path, &err));
    char *want = cd_sprintf("%s:3:1: ", path);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", err, want);
    free(want);
    free(err);
    free(path);

    /* A directory where the file should be. */
    err = NULL;
    assert_null(cd_config_load(fx->dir, &err));
    assert_non_null(strstr(err, "Is a directory"));
    free(err);
}

static void test_env_overrides(void **state)
{
    fixture *fx = *state;
    write_file(fx, "connectord.yaml", "database:\n  url: postgres:///file\nhttp:\n  port: 5103\n");
    setenv("CONNECTORD_DATABASE_URL", "postgres:///env", 1);
    setenv("CONNECTORD_HTTP_PORT", "8080", 1);
    cd_config *cfg = load_ok(fx);
    assert_string_equal(cd_config_string(cfg, "database.url", NULL), "postgres:///env");
    assert_true(json_is_integer(cd_config_get(cfg, "http.port")));
    assert_int_equal(cd_config_int(cfg, "http.port", 0, NULL), 8080);
    cd_config_free(cfg);

    /* Sections missing from the file are created. */
    write_file(fx, "connectord.yaml", "{}\n");
    cfg = load_ok(fx);
    assert_string_equal(cd_config_string(cfg, "database.url", NULL), "postgres:///env");
    cd_config_free(cfg);

    setenv("CONNECTORD_HTTP_PORT", "80a", 1);
    char *path = cd_sprintf("%s/connectord.yaml", fx->dir);
    char *err = NULL;
    assert_null(cd_config_load(path, &err));
    assert_non_null(strstr(err, "CONNECTORD_HTTP_PORT"));
    free(err);
    free(path);
}

/* A section left empty in a later file (its keys commented out, as in the
 * shipped connectord.yaml) says nothing: it used to replace the section,
 * so conf.d/20-x.yaml with a bare "auth:" dropped the tokens of
 * conf.d/10-auth.yaml and left the API without tokens. */
static void test_merge_empty_section_keeps_earlier(void **state)
{
    fixture *fx = *state;
    write_file(fx, "connectord.yaml", "http:\n  listen: 0.0.0.0\n  port: 5103\n");
    write_file(fx, "conf.d/10-auth.yaml",
               "auth:\n  tokens:\n    - {token: secret-token-1, role: admin, name: ops}\n");
    write_file(fx, "conf.d/20-x.yaml",
               "auth:\n  # tokens:\nhttp:\n  # port: 9000\n  listen:\n");
    cd_config *cfg = load_ok(fx);
    assert_int_equal(json_array_size(cd_config_get(cfg, "auth.tokens")), 1);
    assert_int_equal(cd_config_int(cfg, "http.port", 0, NULL), 5103);
    assert_string_equal(cd_config_string(cfg, "http.listen", NULL), "0.0.0.0");
    cd_config_free(cfg);
}

static void test_merge_string(void **state)
{
    cd_config *cfg = parse_ok("a:\n  b: 1\n  c: 2\n");
    char *err = NULL;
    assert_int_equal(cd_config_merge_string(cfg, "a:\n  c: 3\n", strlen("a:\n  c: 3\n"), "extra.yaml", &err), 0);
    assert_int_equal(cd_config_int(cfg, "a.b", 0, NULL), 1);
    assert_int_equal(cd_config_int(cfg, "a.c", 0, NULL), 3);
    assert_int_equal(cd_config_merge_string(cfg, "a: [", 4, "bad.yaml", &err), -1);
    assert_non_null(strstr(err, "bad.yaml:"));
    free(err);
    assert_int_equal(cd_config_int(cfg, "a.c", 0, NULL), 3);
    const json_t *src = cd_config_sources(cfg);
    assert_int_equal(json_array_size(src), 1);
    assert_string_equal(json_string_value(json_array_get(src, 0)), "extra.yaml");
    cd_config_free(cfg);
}

/* cd_config_check must refuse text and name key in its message. */
static void check_fails(const char *text, const char *want)
{
    cd_config *cfg = parse_ok(text);
    char *err = NULL;
    assert_int_equal(cd_config_check(cfg, &err), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    free(err);
    cd_config_free(cfg);
}

static void test_check(void **state)
{
    cd_config *cfg = parse_ok("database:\n  url: \"postgresql://u:pw@h/db\"\n"
                              "http:\n  listen: 0.0.0.0\n  port: \"5103\"\n"
                              "plugins:\n  dir: /usr/lib/connectord/plugins\n"
                              "runner:\n  timeout_seconds: 900\n  kill_grace_seconds: 10\n"
                              "  max_record_errors: 1000\n"
                              "log:\n  level: debug\n");
    char *err = NULL;
    assert_int_equal(cd_config_check(cfg, &err), 0);
    cd_config_free(cfg);
    cfg = parse_ok("http:\n  port:\n");
    assert_int_equal(cd_config_check(cfg, &err), 0);
    cd_config_free(cfg);

    check_fails("database:\n  url: 5\n", "database.url: must be a string, not an integer");
    check_fails("http:\n  listen: [a]\n", "http.listen: must be a string");
    check_fails("http:\n  port: 0\n", "http.port: must be an integer from 1 to 65535, got 0");
    check_fails("http:\n  port: 65536\n", "http.port: must be an integer from 1 to 65535, got 65536");
    check_fails("http:\n  port: web\n", "http.port: must be an integer");
    check_fails("plugins:\n  dir: true\n", "plugins.dir: must be a string, not a boolean");
    check_fails("runner:\n  timeout_seconds: -1\n", "runner.timeout_seconds");
    check_fails("runner:\n  kill_grace_seconds: 0\n", "runner.kill_grace_seconds");
    check_fails("runner:\n  max_record_errors: many\n", "runner.max_record_errors");
    check_fails("log:\n  level: verbose\n", "log.level: must be one of error, warning, info, debug");
    check_fails("http: 5103\n", "http: must be a mapping");
}

static void test_check_worker_keys(void **state)
{
    cd_config *cfg = parse_ok("workers:\n  max_concurrent_runs: 8\n  lease_seconds: 30\n"
                              "scheduler:\n  catchup_window: 48h\n"
                              "retry:\n  base_seconds: 5\n  max_seconds: 60\n"
                              "retention:\n  days: 30\nbackfill:\n  max_days: 31\n");
    char *err = NULL;
    assert_int_equal(cd_config_check(cfg, &err), 0);
    cd_config_free(cfg);
    cfg = parse_ok("scheduler:\n  catchup_window: 3600\n");
    assert_int_equal(cd_config_check(cfg, &err), 0);
    cd_config_free(cfg);

    check_fails("workers:\n  max_concurrent_runs: 0\n",
                "workers.max_concurrent_runs: must be an integer from 1 to 256, got 0");
    check_fails("workers:\n  lease_seconds: 1\n", "workers.lease_seconds");
    check_fails("scheduler:\n  catchup_window: 5 weeks\n",
                "scheduler.catchup_window: must be a duration like 48h");
    check_fails("scheduler:\n  catchup_window: [48h]\n", "scheduler.catchup_window");
    check_fails("retry:\n  base_seconds: soon\n", "retry.base_seconds");
    check_fails("retry:\n  base_seconds: 7200\n",
                "retry.base_seconds: must be at most retry.max_seconds (3600), got 7200");
    check_fails("retention:\n  days: 0\n", "retention.days");
    check_fails("workers: 4\n", "workers: must be a mapping");
}

/* Every key the code reads, set to a valid value at once: the known-key
 * table must not refuse one of them (nor the sections with free-form
 * children: alerts.channels entries, auth.tokens entries). */
static void test_check_every_known_key(void **state)
{
    cd_config *cfg = parse_ok(
        "database:\n  url: \"postgresql:///x\"\n"
        "http:\n  listen: 127.0.0.1\n  port: 5103\n  web_dir: /srv/web\n  threads: 8\n"
        "  db_connections: 10\n  connection_limit: 100\n  connection_timeout_seconds: 0\n"
        "  test_timeout_seconds: 600\n  cache_entries: 0\n  cache_max_age_seconds: 0\n"
        "plugins:\n  dir: /p\n"
        "runner:\n  timeout_seconds: 604800\n  kill_grace_seconds: 5\n  work_dir: /w\n"
        "  max_record_errors: 10\n"
        "log:\n  level: info\n"
        "workers:\n  max_concurrent_runs: 2\n  lease_seconds: 10\n  shutdown_grace_seconds: 0\n"
        "scheduler:\n  catchup_window: 2d\n"
        "retry:\n  base_seconds: 1\n  max_seconds: 2\n"
        "retention:\n  days: 9\n"
        "backfill:\n  max_days: 9\n"
        "http_client:\n  connect_timeout_seconds: 2\n  request_timeout_seconds: 3\n"
        "  ca_file: /ca.pem\n  proxy: \"http://proxy:3128\"\n"
        "alerts:\n  base_url: \"http://h\"\n  digest_time: \"08:00\"\n"
        "  digest_timezone: Asia/Kolkata\n  timeout_seconds: 1\n  max_attempts: 1\n"
        "  retry_base_seconds: 1\n  retry_max_seconds: 1\n  max_age_hours: 1\n"
        "  channels:\n    - {name: m, type: email, url: \"smtp://h\", from: a@b, to: [c@d],\n"
        "       username: u, starttls: try, secret: {secret: \"env:X\"}}\n"
        "templates:\n  dir: /t\n"
        "auth:\n  tokens:\n    - {token: {secret: \"env:T\"}, role: admin, name: ops}\n"
        "schema:\n  dir: /s\n");
    char *err = NULL;
    if (cd_config_check(cfg, &err) != 0)
        fail_msg("%s", err);
    cd_config_free(cfg);
    /* An empty section is "all defaults". */
    cfg = parse_ok("auth:\nalerts:\nhttp:\n");
    assert_int_equal(cd_config_check(cfg, &err), 0);
    cd_config_free(cfg);
}

static void test_check_unknown_keys(void **state)
{
    /* The reviewer's case: the API came up with no tokens, every loopback
     * request anonymous admin. */
    check_fails("auth:\n  token:\n    - {token: s3cret-value, role: admin}\n",
                "auth.token: unknown key; did you mean auth.tokens?");
    check_fails("workers:\n  max_concurent_runs: 8\n",
                "workers.max_concurent_runs: unknown key; did you mean "
                "workers.max_concurrent_runs?");
    check_fails("worker:\n  max_concurrent_runs: 8\n",
                "worker: unknown section; did you mean workers?");
    check_fails("future_feature:\n  anything: [1]\n",
                "future_feature: unknown section (known: database, http, plugins");
    check_fails("http:\n  bind: 0.0.0.0\n",
                "http.bind: unknown key (known: listen, port, web_dir, threads");
    check_fails("http.port: 8080\n", "http.port: unknown section; nest it: http: {port: ...}");
    check_fails("alerts:\n  chanels: []\n", "alerts.chanels: unknown key; did you mean "
                                            "alerts.channels?");
    check_fails("auth:\n  tokens:\n    - {token: abc, role: admin}\n"
                "    - {token: def, role: viewer, nmae: ops}\n",
                "auth.tokens[1].nmae: unknown key; did you mean auth.tokens[1].name?");
    check_fails("templates:\n  dirs: /t\n", "templates.dirs: unknown key; did you mean templates.dir?");
    check_fails("auth: [a]\n", "auth: must be a mapping, not a list");
    check_fails("templates: /t\n", "templates: must be a mapping, not a string");
    /* The first mistake in file order is the one named. */
    check_fails("http:\n  port: 1\nzz:\n  a: 1\nretry:\n  bogus: 1\n", "zz: unknown section");

    /* A URL pasted as a key keeps its password out of the message. */
    cd_config *cfg = parse_ok("database:\n  postgresql://u:hunter2@h/db:\n");
    char *err = NULL;
    assert_int_equal(cd_config_check(cfg, &err), -1);
    assert_non_null(strstr(err, "database: unknown key that looks like a URL"));
    assert_null(strstr(err, "hunter2"));
    free(err);
    cd_config_free(cfg);
}

/* A misspelt key in a conf.d file is refused too: the check is on the
 * merged document, whichever file brought the key. */
static void test_unknown_key_in_confd(void **state)
{
    fixture *fx = *state;
    write_file(fx, "connectord.yaml", "http:\n  port: 5103\n");
    write_file(fx, "conf.d/10-a.yaml", "auth:\n  token:\n    - {token: t, role: admin}\n");
    char *path = cd_sprintf("%s/connectord.yaml", fx->dir);
    char *err = NULL;
    cd_config *cfg = cd_config_load(path, &err);
    free(path);
    assert_non_null(cfg);
    assert_int_equal(cd_config_check(cfg, &err), -1);
    assert_non_null(strstr(err, "auth.token: unknown key; did you mean auth.tokens?"));
    free(err);
    cd_config_free(cfg);
}

static void test_check_http_numbers(void **state)
{
    /* 0 is "off" for the cache, "no age limit" for its entries and
     * libmicrohttpd's "no timeout". */
    cd_config *cfg = parse_ok("http:\n  cache_entries: 0\n  cache_max_age_seconds: 0\n"
                              "  connection_timeout_seconds: 0\n  threads: 64\n"
                              "  connection_limit: 64\n  db_connections: 1\n");
    char *err = NULL;
    if (cd_config_check(cfg, &err) != 0)
        fail_msg("%s", err);
    cd_config_free(cfg);

    check_fails("http:\n  threads: lots\n", "http.threads: must be an integer from 1 to 64, not a string");
    check_fails("http:\n  threads: 0\n", "http.threads: must be an integer from 1 to 64, got 0");
    check_fails("http:\n  threads: 65\n", "http.threads: must be an integer from 1 to 64, got 65");
    check_fails("http:\n  cache_entries: off\n",
                "http.cache_entries: must be an integer from 0 to 100000, not a string");
    check_fails("http:\n  cache_entries: -1\n", "http.cache_entries: must be an integer from 0");
    check_fails("http:\n  cache_entries: 100001\n", "http.cache_entries");
    check_fails("http:\n  cache_max_age_seconds: -5\n", "http.cache_max_age_seconds");
    check_fails("http:\n  connection_limit: -1\n",
                "http.connection_limit: must be an integer from 1 to 1000000, got -1");
    check_fails("http:\n  connection_limit: 4294967297\n", "http.connection_limit");
    check_fails("http:\n  connection_timeout_seconds: -1\n", "http.connection_timeout_seconds");
    check_fails("http:\n  connection_timeout_seconds: soon\n", "http.connection_timeout_seconds");
    check_fails("http:\n  test_timeout_seconds: 0\n", "http.test_timeout_seconds");
    check_fails("http:\n  test_timeout_seconds: 604801\n", "http.test_timeout_seconds");
    check_fails("http:\n  db_connections: 0\n", "http.db_connections");
    check_fails("http:\n  db_connections: many\n", "http.db_connections");
    check_fails("http:\n  web_dir: [a]\n", "http.web_dir: must be a string");
    /* The default of 4 threads needs at least 4 connections. */
    check_fails("http:\n  connection_limit: 3\n",
                "http.connection_limit: must be at least http.threads (4), got 3");
    check_fails("http:\n  threads: 16\n  connection_limit: 8\n",
                "http.connection_limit: must be at least http.threads (16), got 8");
}

static void test_check_runner_timeout_and_window(void **state)
{
    cd_config *cfg = parse_ok("runner:\n  timeout_seconds: 604800\n"
                              "scheduler:\n  catchup_window: 0\n");
    char *err = NULL;
    assert_int_equal(cd_config_check(cfg, &err), 0);
    cd_config_free(cfg);
    cfg = parse_ok("scheduler:\n  catchup_window: 90m\n");
    assert_int_equal(cd_config_check(cfg, &err), 0);
    cd_config_free(cfg);

    /* connectord run adds 120 to it as an SQL int. */
    check_fails("runner:\n  timeout_seconds: 604801\n",
                "runner.timeout_seconds: must be an integer from 1 to 604800, got 604801");
    check_fails("runner:\n  timeout_seconds: 2147483647\n", "runner.timeout_seconds");
    check_fails("runner:\n  kill_grace_seconds: 2147483647\n", "runner.kill_grace_seconds");
    /* Overflowed strtoll, then the scheduler used 48h in silence. */
    check_fails("scheduler:\n  catchup_window: 99999999999999999999999h\n",
                "scheduler.catchup_window: must be a duration like 48h");
    check_fails("scheduler:\n  catchup_window: 99999999999999999999999\n",
                "scheduler.catchup_window");
    check_fails("scheduler:\n  catchup_window: 999999999999999d\n", "scheduler.catchup_window");
    check_fails("scheduler:\n  catchup_window: -1\n", "scheduler.catchup_window");
    check_fails("scheduler:\n  catchup_window: 48x\n", "scheduler.catchup_window");
    check_fails("scheduler:\n  catchup_window: \"\"\n", "scheduler.catchup_window");
    check_fails("scheduler:\n  catchup_window: true\n",
                "scheduler.catchup_window: must be a duration like 48h, 90m, 2d or 3600 "
                "(seconds), not a boolean");
}

static void test_check_never_shows_url(void **state)
{
    /* The error is about the type; a URL value never reaches a message. */
    check_fails("database: \"postgresql://u:hunter2@h/db\"\n", "database: must be a mapping");
    cd_config *cfg = parse_ok("database: \"postgresql://u:hunter2@h/db\"\n");
    char *err = NULL;
    assert_int_equal(cd_config_check(cfg, &err), -1);
    assert_null(strstr(err, "hunter2"));
    free(err);
    cd_config_free(cfg);
}

static void test_shipped_default(void **state)
{
    /* CD_SOURCE_DIR is set by ctest; run by hand, fall back to the cwd. */
    const char *src = getenv("CD_SOURCE_DIR");
    char *path = cd_sprintf("%s/conf.d/connectord.yaml", src ? src : ".");
    setenv("CONNECTORD_DATABASE_URL", "postgresql:///from_env", 1);
    char *err = NULL;
    cd_config *cfg = cd_config_load(path, &err);
    unsetenv("CONNECTORD_DATABASE_URL");
    if (!cfg)
        fail_msg("%s", err);
    assert_int_equal(cd_config_check(cfg, &err), 0);
    assert_string_equal(cd_config_string(cfg, "database.url", NULL), "postgresql:///from_env");
    assert_string_equal(cd_config_string(cfg, "http.listen", NULL), "127.0.0.1");
    assert_int_equal(cd_config_int(cfg, "http.port", 0, NULL), 5103);
    assert_null(cd_config_string(cfg, "plugins.dir", NULL));
    assert_int_equal(cd_config_int(cfg, "runner.timeout_seconds", 0, NULL), 900);
    assert_int_equal(cd_config_int(cfg, "runner.kill_grace_seconds", 0, NULL), 10);
    assert_int_equal(cd_config_int(cfg, "runner.max_record_errors", 0, NULL), 1000);
    assert_string_equal(cd_config_string(cfg, "log.level", NULL), "info");
    cd_config_free(cfg);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typed_scalars),
        cmocka_unit_test(test_string_and_int_accessors),
        cmocka_unit_test(test_empty_and_top_level),
        cmocka_unit_test(test_bad_yaml_position),
        cmocka_unit_test(test_duplicate_and_refusals),
        cmocka_unit_test(test_alias_bomb_refused),
        cmocka_unit_test(test_deep_nesting_refused),
        cmocka_unit_test_setup_teardown(test_merge_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_empty_section_keeps_earlier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_confd_is_fine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_main_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_in_confd_names_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_main_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides, setup, teardown),
        cmocka_unit_test(test_merge_string),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_check_worker_keys),
        cmocka_unit_test(test_check_every_known_key),
        cmocka_unit_test(test_check_unknown_keys),
        cmocka_unit_test_setup_teardown(test_unknown_key_in_confd, setup, teardown),
        cmocka_unit_test(test_check_http_numbers),
        cmocka_unit_test(test_check_runner_timeout_and_window),
        cmocka_unit_test(test_check_never_shows_url),
        cmocka_unit_test(test_shipped_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
