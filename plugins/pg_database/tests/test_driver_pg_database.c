/*
 * test_driver_pg_database.c — unit tests of the pg_database driver with the
 * mock host: descriptor, schema, validation rules, and test() failing fast
 * and transiently when the database cannot be reached. Runs against a real
 * PostgreSQL belong to the integration tests.
 */
#include <connectord/mockhost.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "driver_test.h"
#include "../source_hosts.h"

static void test_magic(void **state)
{
    const cd_driver_magic *mg = connectord_driver_magic();
    assert_int_equal(mg->magic, CD_DRIVER_MAGIC);
    assert_int_equal(mg->abi_major, CD_PLUGIN_ABI_MAJOR);
    assert_int_equal(mg->struct_size, sizeof(cd_driver_magic));
    assert_string_equal(mg->name, "pg_database");
    assert_string_equal(mg->version, "1.0.0");
    assert_string_equal(mg->vendor, "connectord");
    assert_int_equal(mg->category, CD_CATEGORY_PG_DATABASE);
    assert_int_equal(mg->dataset, CD_DATASET_CONFIGURED);
}

static void test_schema(void **state)
{
    cd_mock_host *m = load_driver("{}");
    json_error_t err;
    json_t *s = json_loads(cd_mock_callbacks(m)->describe_config(), 0, &err);
    if (!s)
        fail_msg("schema is not JSON: %s at %d", err.text, err.position);
    json_t *props = json_object_get(s, "properties");
    assert_true(json_is_true(json_object_get(json_object_get(props, "conninfo"), "writeOnly")));
    assert_null(json_object_get(json_object_get(props, "query"), "writeOnly"));
    json_decref(s);
    cd_mock_free(m);
}

static void test_validate(void **state)
{
    cd_mock_host *m = load_driver("{\"conninfo\": {\"secret\": \"env:SRC_DB\"}, \"dataset\": \"pg_transaction\","
                           " \"query\": \"SELECT id AS transaction_id FROM t WHERE d BETWEEN $1::date AND $2::date\","
                           " \"column_map\": {\"merchant_id\": \"mid\"}, \"statement_timeout_seconds\": 60}");
    assert_int_equal(cd_mock_validate(m), CD_OK);
    cd_mock_free(m);
    expect_invalid("{\"conninfo\": \"host=x\", \"dataset\": \"pg_transaction\"}", "query");
    expect_invalid("{\"conninfo\": \"host=x\", \"dataset\": \"pg_transaction\", \"query\": \"  \"}",
                   "query");
    expect_invalid("{\"conninfo\": \"host=x\", \"dataset\": \"pg_transaction\","
                   " \"query\": \"SELECT $3\"}", "query");
    expect_invalid("{\"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}", "conninfo");
    expect_invalid("{\"conninfo\": \"host=x\", \"dataset\": \"orders\", \"query\": \"SELECT 1\"}",
                   "dataset");
    expect_invalid("{\"conninfo\": \"host=x\", \"dataset\": \"bank_statement\", \"query\": \"SELECT 1\","
                   " \"column_map\": {\"merchant_id\": \"m\"}}", "column_map.merchant_id");
    expect_invalid("{\"conninfo\": \"host=x\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\","
                   " \"statement_timeout_seconds\": 0}", "statement_timeout_seconds");
    expect_invalid("{\"conninfo\": \"host=x\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\","
                   " \"cursor_column\": \"id\", \"cursor_overlap\": -1}", "cursor_overlap");
    expect_invalid("{\"conninfo\": \"host=x\", \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\","
                   " \"cursor_overlap\": 10}", "cursor_overlap");
}

static void test_test_unreachable(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    cd_mock_host *m = load_driver("{\"conninfo\": \"host=127.0.0.1 port=%u dbname=x user=y\","
                           " \"dataset\": \"pg_transaction\", \"query\": \"SELECT 1\"}",
                           ntohs(sa.sin_port));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 3);
    assert_non_null(strstr(cd_mock_message(m), "cannot connect to the source database"));
    assert_string_equal(cd_mock_step_name(m, 0), "connect");
    assert_false(cd_mock_step_passed(m, 0));
    /* a run fails the same way and emits nothing */
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    assert_int_equal(cd_mock_records_begin_calls(m), 0);
    cd_mock_free(m);
}

/* pgd_resolve_hosts on conninfo; checks the three lists (NULL: "-"). */
static void expect_pinned(const char *conninfo, const char *hosts, const char *addrs,
                          const char *ports)
{
    cd_mock_host *m = cd_mock_new();
    char *h = NULL, *a = NULL, *p = NULL, *why = NULL;
    assert_int_equal(pgd_resolve_hosts(cd_mock_api(m), cd_mock_run(m), conninfo, 2000, &h, &a,
                                       &p, &why),
                     0);
    assert_null(why);
    assert_string_equal(h ? h : "-", hosts);
    assert_string_equal(a ? a : "-", addrs);
    assert_string_equal(p ? p : "-", ports);
    free(h);
    free(a);
    free(p);
    cd_mock_free(m);
}

static void test_resolve_hosts(void **state)
{
    (void)state;
    /* nothing to look up: sockets, addresses, the operator's hostaddr, no host */
    expect_pinned("host=/run/postgresql dbname=x", "-", "-", "-");
    expect_pinned("host=127.0.0.1,::1 port=5433 dbname=x", "-", "-", "-");
    expect_pinned("host=localhost hostaddr=127.0.0.1 dbname=x", "-", "-", "-");
    expect_pinned("dbname=x", "-", "-", "-");
    expect_pinned("postgresql://u@/x", "-", "-", "-");
    /* a name: one entry per address, the name kept for TLS and .pgpass.
     * localhost is in /etc/hosts: 127.0.0.1 here (and ::1 where listed). */
    cd_mock_host *m = cd_mock_new();
    char *h = NULL, *a = NULL, *p = NULL, *why = NULL;
    assert_int_equal(pgd_resolve_hosts(cd_mock_api(m), cd_mock_run(m),
                                       "host=/tmp,localhost port=5432,6543 dbname=x", 2000, &h,
                                       &a, &p, &why),
                     0);
    assert_non_null(h);
    assert_non_null(a);
    assert_non_null(p);
    assert_true(strncmp(h, "/tmp,localhost", 14) == 0);
    assert_true(strncmp(a, ",", 1) == 0);   /* the socket entry: no address */
    assert_non_null(strstr(a, "127.0.0.1"));
    assert_true(strncmp(p, "5432,6543", 9) == 0);
    /* as many entries in each list */
    size_t nh = 1, na = 1, np = 1;
    for (const char *c = h; *c; c++)
        nh += *c == ',';
    for (const char *c = a; *c; c++)
        na += *c == ',';
    for (const char *c = p; *c; c++)
        np += *c == ',';
    assert_int_equal(nh, na);
    assert_int_equal(nh, np);
    free(h);
    free(a);
    free(p);
    /* one port for every host: no port list of our own */
    h = a = p = NULL;
    assert_int_equal(pgd_resolve_hosts(cd_mock_api(m), cd_mock_run(m), "host=localhost dbname=x",
                                       2000, &h, &a, &p, &why),
                     0);
    assert_true(strncmp(h, "localhost", 9) == 0);
    assert_null(p);
    free(h);
    free(a);
    /* a port list that does not fit the hosts: left to libpq, which says so */
    free(p);
    expect_pinned("host=localhost,localhost,localhost port=1,2 dbname=x", "-", "-", "-");
    /* one name that does not resolve: the others are still tried */
    h = a = p = NULL;
    assert_int_equal(pgd_resolve_hosts(cd_mock_api(m), cd_mock_run(m),
                                       "host=no-such-host.invalid,localhost dbname=x", 2000, &h,
                                       &a, &p, &why),
                     0);
    assert_null(why);
    assert_true(strncmp(h, "localhost", 9) == 0);
    assert_non_null(strstr(a, "127.0.0.1"));
    free(h);
    free(a);
    free(p);
    /* a name that does not exist fails with the name */
    h = a = p = NULL;
    assert_int_equal(pgd_resolve_hosts(cd_mock_api(m), cd_mock_run(m),
                                       "host=no-such-host.invalid dbname=x", 2000, &h, &a, &p,
                                       &why),
                     -1);
    assert_non_null(why);
    assert_non_null(strstr(why, "cannot resolve no-such-host.invalid: "));
    assert_null(h);
    free(why);
    cd_mock_free(m);
}

/* validate()'s verdict on a query with cursor_column "id". */
static int validate_cursor_query(const char *query)
{
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s}", "conninfo", "host=x", "dataset",
                            "pg_transaction", "cursor_column", "id", "query", query);
    char *text = json_dumps(cfg, 0);
    cd_mock_host *m = load_driver("%s", text);
    int rc = cd_mock_validate(m);
    if (rc != CD_OK && !cd_mock_has_config_error(m, "query"))
        fail_msg("refused, but not on query: %s", query);
    cd_mock_free(m);
    free(text);
    json_decref(cfg);
    return rc;
}

/* An incremental pull filters the query's result on the cursor: with a
 * LIMIT of the query's own, the first pull read the first rows and every
 * later one the same rows again, all at or below the cursor, loading
 * nothing and succeeding for ever. Refused; a LIMIT anywhere else is not
 * the query's own and stays allowed. */
static void test_cursor_with_limit(void **state)
{
    (void)state;
    assert_int_equal(validate_cursor_query("SELECT id FROM t ORDER BY id LIMIT 1000"), CD_ERR_CONFIG);
    assert_int_equal(validate_cursor_query("select id from t order by id limit 10 offset 0;"),
                     CD_ERR_CONFIG);
    assert_int_equal(validate_cursor_query("SELECT id FROM t OFFSET 5"), CD_ERR_CONFIG);
    assert_int_equal(validate_cursor_query("SELECT id FROM t ORDER BY id\nFETCH FIRST 10 ROWS ONLY"),
                     CD_ERR_CONFIG);
    assert_int_equal(validate_cursor_query("SELECT id FROM a UNION ALL (SELECT id FROM b) LIMIT 5"),
                     CD_ERR_CONFIG);
    assert_int_equal(validate_cursor_query("SELECT id FROM t WHERE id IN (SELECT id FROM u LIMIT 5)"),
                     CD_OK);
    assert_int_equal(validate_cursor_query("SELECT id, 'no limit' AS note, E'it\\'s limit' AS e "
                                           "FROM t"),
                     CD_OK);
    assert_int_equal(validate_cursor_query("SELECT id, \"limit\", t.offset, x AS fetch FROM t"),
                     CD_OK);
    assert_int_equal(validate_cursor_query("SELECT id, $$ limit $$ AS a, $q$ offset $q$ AS b FROM t "
                                           "-- limit 5\n/* limit /* nested */ 5 */"),
                     CD_OK);
    assert_int_equal(validate_cursor_query("SELECT limit_paise AS id FROM t WHERE d <= $2::date"),
                     CD_OK);
    /* without cursor_column a LIMIT is the query's business */
    cd_mock_host *m = load_driver("{\"conninfo\": \"host=x\", \"dataset\": \"pg_transaction\","
                                  " \"query\": \"SELECT id FROM t LIMIT 10\"}");
    assert_int_equal(cd_mock_validate(m), CD_OK);
    cd_mock_free(m);
}

/* A password with an '@' (or a '/') written as is in a postgresql:// URI:
 * libpq takes what follows the first '@' as the host ("t99x@127.0.0.1") or
 * the password as the port. Looking that up, or libpq's complaint about
 * the port, quoted part of the password in the run's message (the host
 * scrubs the whole conninfo, not pieces of it), and the run was retried
 * as a transient failure. A configuration error that quotes nothing. */
static void expect_garbled(const char *conninfo)
{
    cd_mock_host *m = load_driver("{\"conninfo\": \"%s\", \"dataset\": \"pg_transaction\","
                                  " \"query\": \"SELECT 1\"}",
                                  conninfo);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_CONFIG);
    const char *msg = cd_mock_message(m);
    assert_non_null(msg);
    assert_null(strstr(msg, "t99x"));
    assert_null(strstr(msg, "s3cr"));
    assert_non_null(strstr(msg, "%40"));
    assert_int_equal(cd_mock_test(m), CD_ERR_CONFIG);
    assert_null(strstr(cd_mock_message(m), "t99x"));
    assert_null(strstr(cd_mock_message(m), "s3cr"));
    assert_string_equal(cd_mock_step_name(m, 0), "connect");
    assert_false(cd_mock_step_passed(m, 0));
    cd_mock_free(m);
}

static void test_password_garbles_uri(void **state)
{
    (void)state;
    expect_garbled("postgresql://u:s3cr@t99x@127.0.0.1/src");
    expect_garbled("postgresql://u:s3cr@t99x@localhost:5432/src");
    expect_garbled("postgresql://u:s3cr/t99x@127.0.0.1/src");
    expect_garbled("postgresql://u:s3crt99x@127.0.0.1:5s3cr/src");
    expect_garbled("host=127.0.0.1,t99x@localhost dbname=src");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_magic),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_test_unreachable),
        cmocka_unit_test(test_resolve_hosts),
        cmocka_unit_test(test_password_garbles_uri),
        cmocka_unit_test(test_cursor_with_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
