/*
 * test_driver_pg_api.c — unit tests of the pg_api driver against the mock
 * host and an in-process mock SabPaisa server on a loopback port.
 */
#include <connectord/mockhost.h>

#include "mock_sabpaisa.h"

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
#include "../pg_api_internal.h"

/* The driver's exported entry points, linked in from pg_api.c. */

static mock_sabpaisa *server;
static uint16_t port;

static const char default_config[] =
    "{\"api_base_url\": \"https://reportapi.sabpaisa.in/SabPaisaReport/REST/GetTransactions\","
    " \"authentication_type\": \"IP_WHITELIST\", \"merchant_codes\": [\"ALL\"],"
    " \"sync_days_back\": 1, \"auto_retry\": true, \"retry_count\": 3}";

static int start_server(void **state)
{
    mock_sabpaisa_opts o = {0};
    o.slow_ms = 20000;
    server = mock_sabpaisa_start(&o, &port);
    return server ? 0 : -1;
}

static int stop_server(void **state)
{
    mock_sabpaisa_stop(server);
    return 0;
}

/* A loaded driver with the config text given (printf-style). */
/* A config for the mock server with one or more codes ("\"A\",\"B\""). */
static cd_mock_host *load_codes(const char *codes, const char *extra)
{
    return load_driver("{\"api_base_url\": \"http://127.0.0.1:%u/report\", \"merchant_codes\": [%s]%s}",
                port, codes, extra ? extra : "");
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_magic(void **state)
{
    const cd_driver_magic *mg = connectord_driver_magic();
    assert_int_equal(mg->magic, CD_DRIVER_MAGIC);
    assert_int_equal(mg->abi_major, CD_PLUGIN_ABI_MAJOR);
    assert_int_equal(mg->struct_size, sizeof(cd_driver_magic));
    assert_string_equal(mg->name, "pg_api");
    assert_string_equal(mg->version, "1.0.0");
    assert_string_equal(mg->vendor, "connectord");
    assert_int_equal(mg->category, CD_CATEGORY_PG_API);
    assert_int_equal(mg->dataset, CD_DATASET_PG_TRANSACTION);
    assert_non_null(mg->description);
}

static void test_schema(void **state)
{
    cd_mock_host *m = load_driver(NULL);
    json_error_t err;
    json_t *s = json_loads(cd_mock_callbacks(m)->describe_config(), 0, &err);
    if (!s)
        fail_msg("schema is not JSON: %s at %d", err.text, err.position);
    assert_string_equal(json_string_value(json_object_get(s, "$schema")),
                        "https://json-schema.org/draft/2020-12/schema");
    json_t *props = json_object_get(s, "properties");
    const char *secrets[] = {"bearer_token", "api_key", "password"};
    for (size_t i = 0; i < 3; i++)
        assert_true(json_is_true(json_object_get(json_object_get(props, secrets[i]), "writeOnly")));
    assert_null(json_object_get(json_object_get(props, "api_base_url"), "writeOnly"));
    /* every key of the documented default config is a known property, but
     * the run policy's, which the service adds to every driver's schema */
    json_t *def = json_loads(default_config, 0, NULL);
    const char *key;
    json_t *v;
    json_object_foreach(def, key, v)
    {
        if (strcmp(key, "sync_days_back") && strcmp(key, "auto_retry") &&
            strcmp(key, "retry_count"))
            assert_non_null(json_object_get(props, key));
    }
    json_decref(def);
    json_decref(s);
    cd_mock_free(m);
}

static void test_validate_default(void **state)
{
    cd_mock_host *m = load_driver("%s", default_config);
    cd_mock_set_kind(m, CD_RUN_VALIDATE);
    assert_int_equal(cd_mock_validate(m), CD_OK);
    assert_int_equal(cd_mock_config_error_count(m), 0);
    cd_mock_free(m);
}

/* validate() of cfg fails with an error on exactly `field`. */
static void test_validate_rejects(void **state)
{
    expect_invalid("{\"merchant_codes\": [\"ALL\"]}", "api_base_url");
    expect_invalid("{\"api_base_url\": \"ftp://x.example/r\", \"merchant_codes\": [\"ALL\"]}",
                   "api_base_url");
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": \"ALL\"}",
                   "merchant_codes");
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\", \"\"]}",
                   "merchant_codes[1]");
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\"],"
                   " \"authentication_type\": \"BEARER\"}",
                   "bearer_token");
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\"],"
                   " \"authentication_type\": \"OAUTH\"}",
                   "authentication_type");
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\"],"
                   " \"timeout_seconds\": 0}",
                   "timeout_seconds");
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\"],"
                   " \"date_format\": \"YYYY\"}",
                   "date_format");
    /* a day and a month but no year: the URL would name no year */
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\"],"
                   " \"date_format\": \"DD-MM\"}",
                   "date_format");
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\"],"
                   " \"date_format\": \"MMDD\"}",
                   "date_format");
    const char *good[] = {"YYYY-MM-DD", "DD-MM-YYYY", "YYMMDD", "DD/MM/YY", "YYYYMMDD"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        cd_mock_host *g = load_driver("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": "
                                      "[\"A\"], \"date_format\": \"%s\"}", good[i]);
        assert_int_equal(cd_mock_validate(g), CD_OK);
        cd_mock_free(g);
    }
    expect_invalid("not json", "");
    /* a query or fragment would swallow /{from}/{to}/{code} */
    expect_invalid("{\"api_base_url\": \"https://x.example/r?key=abc\", \"merchant_codes\": [\"A\"]}",
                   "api_base_url");
    expect_invalid("{\"api_base_url\": \"https://x.example/r#x\", \"merchant_codes\": [\"A\"]}",
                   "api_base_url");
    /* " M1" would be requested as %20M1 */
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\", \" M1\"]}",
                   "merchant_codes[1]");
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"ALL \"]}",
                   "merchant_codes[0]");
    /* the same code twice would fetch and load its day twice */
    expect_invalid("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\", \"B\", \"A\"]}",
                   "merchant_codes[2]");
    /* a secret reference is accepted unresolved */
    cd_mock_host *m = load_driver("{\"api_base_url\": \"https://x.example\", \"merchant_codes\": [\"A\"],"
                           " \"authentication_type\": \"BEARER\","
                           " \"bearer_token\": {\"secret\": \"env:SP_TOKEN\"}}");
    assert_int_equal(cd_mock_validate(m), CD_OK);
    cd_mock_free(m);
}

/* What validate refuses since connectors may have been stored with it
 * (a code twice, blanks around a code, no year in date_format) is a
 * warning when a stored connector runs: its day still loads. */
static void test_stored_config_still_runs(void **state)
{
    cd_mock_host *m = load_codes("\"AMOUNTS\", \"AMOUNTS\"", ", \"date_format\": \"DD-MM\"");
    assert_int_equal(cd_mock_validate(m), CD_ERR_CONFIG);
    cd_mock_free(m);
    m = load_codes("\"AMOUNTS\", \"AMOUNTS\"", ", \"date_format\": \"YYYY-MM-DD\"");
    assert_int_equal(cd_mock_run_driver(m), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 8);
    assert_true(cd_mock_log_contains(m, "connection_config.merchant_codes[1]: \"AMOUNTS\" is "
                                        "listed twice (refused when the connector is saved again)"));
    cd_mock_free(m);
}

static void test_test_ok(void **state)
{
    cd_mock_host *m = load_codes("\"MERCH1\", \"OTHER\"", NULL);
    cd_mock_set_window(m, "2025-01-03", "2025-01-02", "2025-01-03");
    assert_int_equal(cd_mock_test(m), CD_OK);
    assert_non_null(strstr(cd_mock_message(m), "3 transaction(s) for MERCH1"));
    char *path = mock_sabpaisa_last_path(server);
    assert_string_equal(path, "/report/2025-01-02/2025-01-03/MERCH1");
    free(path);
    long i = cd_mock_find_step(m, "request");
    assert_true(i >= 0 && cd_mock_step_passed(m, (size_t)i));
    i = cd_mock_find_step(m, "status");
    assert_true(i >= 0 && cd_mock_step_passed(m, (size_t)i));
    assert_true(strncmp(cd_mock_step_detail(m, (size_t)i), "HTTP 200 in ", 12) == 0);
    i = cd_mock_find_step(m, "rows");
    assert_true(i >= 0 && cd_mock_step_passed(m, (size_t)i));
    assert_int_equal(cd_mock_record_count(m), 0); /* a test loads nothing */
    assert_string_equal(cd_mock_detail(m, "rows_seen"), "3");
    assert_string_equal(cd_mock_detail(m, "http_status"), "200");
    assert_non_null(cd_mock_detail(m, "latency_ms"));
    cd_mock_free(m);
}

static void test_test_401(void **state)
{
    cd_mock_host *m = load_codes("\"FAIL401\"", NULL);
    assert_int_equal(cd_mock_test(m), CD_ERR_CONFIG);
    assert_string_equal(cd_mock_message(m), "API responded with status 401: Unauthorized");
    long i = cd_mock_find_step(m, "status");
    assert_true(i >= 0 && !cd_mock_step_passed(m, (size_t)i));
    cd_mock_free(m);
    m = load_codes("\"FAIL403\"", NULL);
    assert_int_equal(cd_mock_test(m), CD_ERR_CONFIG);
    assert_string_equal(cd_mock_message(m), "API responded with status 403: Forbidden");
    cd_mock_free(m);
}

static void test_test_5xx_429(void **state)
{
    cd_mock_host *m = load_codes("\"FAIL500\"", NULL);
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    assert_string_equal(cd_mock_message(m), "API responded with status 500: Internal Server Error");
    cd_mock_free(m);
    m = load_codes("\"FAIL429\"", NULL);
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    assert_string_equal(cd_mock_message(m), "API responded with status 429: Too Many Requests");
    assert_true(cd_mock_log_contains(m, "retry after 7"));
    assert_string_equal(cd_mock_detail(m, "retry_after_seconds"), "7");
    cd_mock_free(m);
    m = load_codes("\"FAIL404\"", NULL);
    assert_int_equal(cd_mock_test(m), CD_ERR_PERMANENT);
    cd_mock_free(m);
    /* a redirect is not followed; the message says where it pointed */
    m = load_codes("\"MOVED\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_PERMANENT);
    assert_string_equal(cd_mock_message(m), "API responded with status 301: Moved Permanently, to "
                                            "https://reportapi.example/v2/txnData (redirects are "
                                            "not followed: put that address in the connector)");
    cd_mock_free(m);
}

static void test_test_refused(void **state)
{
    /* A port that was just free: bind, learn it, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    cd_mock_host *m = load_driver("{\"api_base_url\": \"http://127.0.0.1:%u\", \"merchant_codes\": [\"A\"]}",
                           ntohs(sa.sin_port));
    double t0 = now_s();
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    assert_true(now_s() - t0 < 2.0);
    assert_non_null(strstr(cd_mock_message(m), "cannot reach 127.0.0.1: "));
    long i = cd_mock_find_step(m, "request");
    assert_true(i >= 0 && !cd_mock_step_passed(m, (size_t)i));
    cd_mock_free(m);
}

static void test_test_stall(void **state)
{
    /* bounded by the config's timeout */
    cd_mock_host *m = load_codes("\"SLOW\"", ", \"timeout_seconds\": 1");
    double t0 = now_s();
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    double took = now_s() - t0;
    assert_true(took >= 0.9 && took < 3.0);
    assert_non_null(strstr(cd_mock_message(m), "timed out after 1000 ms waiting for 127.0.0.1"));
    cd_mock_free(m);
    /* bounded by the host's deadline when the config sets none */
    m = load_codes("\"SLOW\"", NULL);
    cd_mock_set_remaining_ms(m, 1200);
    t0 = now_s();
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    assert_true(now_s() - t0 < 2.5);
    cd_mock_free(m);
    /* bounded by the operator's request timeout */
    m = load_codes("\"SLOW\"", NULL);
    cd_mock_set_http_timeouts(m, 1, 1);
    t0 = now_s();
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    assert_true(now_s() - t0 < 2.5);
    cd_mock_free(m);
}

static void test_default_connector_fails_fast(void **state)
{
    /* The shipped default points at the real gateway; with no network the
     * test must fail transiently and name the host. */
    cd_mock_host *m = load_driver("%s", default_config);
    cd_mock_set_http_timeouts(m, 3, 5);
    double t0 = now_s();
    int rc = cd_mock_test(m);
    assert_true(now_s() - t0 < 8.0);
    if (rc != CD_OK) {
        assert_int_equal(rc, CD_ERR_TRANSIENT);
        assert_non_null(strstr(cd_mock_message(m), "reportapi.sabpaisa.in"));
    }
    cd_mock_free(m);
}

static void test_run_amounts(void **state)
{
    cd_mock_host *m = load_codes("\"AMOUNTS\"", NULL);
    cd_mock_set_kind(m, CD_RUN_SCHEDULED);
    assert_int_equal(cd_mock_run_driver(m), CD_OK);
    assert_int_equal(cd_mock_records_begin_calls(m), 1);
    assert_int_equal(cd_mock_record_count(m), 4);
    assert_int_equal(cd_mock_record_error_count(m), 0);
    const char *amounts[] = {"10.10", "10.1", "10", "0.5"};
    const char *ids[] = {"A1", "A2", "A3", "A4"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(cd_mock_record_value(m, i, "amount"), amounts[i]);
        assert_string_equal(cd_mock_record_value(m, i, "transaction_id"), ids[i]);
        assert_string_equal(cd_mock_record_value(m, i, "merchant_id"), "ABC");
        assert_string_equal(cd_mock_record_value(m, i, "transaction_date"), "2025-01-02");
        assert_string_equal(cd_mock_record_value(m, i, "source_type"), "CONNECTOR");
    }
    assert_string_equal(cd_mock_record_ref(m, 0), "merchant AMOUNTS item 1");
    assert_string_equal(cd_mock_record_value(m, 0, "transaction_timestamp"), "2025-01-02T10:00:00");
    assert_string_equal(cd_mock_record_value(m, 1, "transaction_timestamp"), "2025-01-02T11:30:00");
    assert_null(cd_mock_record_value(m, 2, "transaction_timestamp"));
    assert_string_equal(cd_mock_record_value(m, 1, "payment_method"), "CARD");
    assert_string_equal(cd_mock_record_value(m, 3, "payment_method"), "NB");
    assert_string_equal(cd_mock_record_value(m, 3, "utr"), "U4");
    assert_string_equal(cd_mock_record_value(m, 3, "rrn"), "R4");
    assert_string_equal(cd_mock_record_value(m, 3, "gateway_ref"), "G4");
    assert_string_equal(cd_mock_record_value(m, 3, "status"), "SUCCESS");
    assert_string_equal(cd_mock_record_value(m, 3, "source_name"), "SABPAISA");
    assert_string_equal(cd_mock_record_value(m, 3, "settlement_amount"), "0.45");
    assert_string_equal(cd_mock_detail(m, "records_emitted"), "4");
    cd_mock_free(m);
}

/* A timestamp with an offset counts on the connector's local day of that
 * instant; one without is local time already. */
static void test_run_zoned_timestamps(void **state)
{
    static const char *const want[] = {"2025-10-03", "2025-10-02", "2025-10-03", "2025-10-02"};
    for (int zone = 0; zone < 2; zone++) {
        cd_mock_host *m = load_codes("\"ZONES\"", NULL);
        if (zone == 1)
            cd_mock_set_timezone(m, "America/New_York");
        assert_int_equal(cd_mock_run_driver(m), CD_OK);
        assert_int_equal(cd_mock_record_count(m), 4);
        for (int i = 0; i < 4; i++) {
            /* In New York: Z1 and Z3 are 16:00 and 22:00 of 10-02, Z2 10:30 of 10-02. */
            const char *w = zone == 0 ? want[i] : "2025-10-02";
            assert_string_equal(cd_mock_record_value(m, i, "transaction_date"), w);
        }
        assert_string_equal(cd_mock_record_value(m, 0, "transaction_timestamp"),
                            "2025-10-02T20:00:00Z");
        cd_mock_free(m);
    }
}

static void test_run_generated_and_noid(void **state)
{
    cd_mock_host *m = load_codes("\"NOID\", \"gen1\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_OK);
    assert_int_equal(cd_mock_records_begin_calls(m), 1);
    assert_int_equal(cd_mock_record_count(m), 5);
    assert_int_equal(cd_mock_record_error_count(m), 1);
    assert_string_equal(cd_mock_record_error_ref(m, 0), "merchant NOID item 2");
    assert_non_null(strstr(cd_mock_record_error_reason(m, 0), "transaction_id"));
    assert_string_equal(cd_mock_record_value(m, 1, "transaction_id"), "N3");
    assert_string_equal(cd_mock_record_value(m, 2, "merchant_id"), "GEN1");
    assert_string_equal(cd_mock_record_value(m, 2, "amount"), "1.00");
    assert_string_equal(cd_mock_record_value(m, 3, "amount"), "2.01");
    cd_mock_free(m);
}

/* An empty or blank transaction_id, payee_amount or trans_date is as good
 * as absent: the fallback field is used. */
static void test_run_blank_fields_fall_back(void **state)
{
    cd_mock_host *m = load_codes("\"BLANKS\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 3);
    assert_string_equal(cd_mock_record_value(m, 0, "transaction_id"), "B1");
    assert_string_equal(cd_mock_record_value(m, 1, "amount"), "2.00");
    assert_string_equal(cd_mock_record_value(m, 2, "transaction_timestamp"), "2025-01-02T11:00:00");
    assert_int_equal(cd_mock_record_error_count(m), 1);
    assert_string_equal(cd_mock_record_error_ref(m, 0), "merchant BLANKS item 4");
    assert_non_null(strstr(cd_mock_record_error_reason(m, 0), "no transaction_id or txn_id"));
    cd_mock_free(m);
}

/* So is a blank client_code (the requested code stands in), payment_mode
 * (pg_pay_mode is used) or pg_name (the connector's source_entity). */
static void test_run_blank_optional_fields_fall_back(void **state)
{
    cd_mock_host *m = load_codes("\"BLANKOPT\"", NULL);
    cd_mock_set_source_entity(m, "SABPAISA");
    assert_int_equal(cd_mock_run_driver(m), CD_OK);
    assert_int_equal(cd_mock_record_error_count(m), 0);
    assert_int_equal(cd_mock_record_count(m), 2);
    assert_string_equal(cd_mock_record_value(m, 0, "merchant_id"), "BLANKOPT");
    assert_string_equal(cd_mock_record_value(m, 0, "payment_method"), "UPI");
    assert_string_equal(cd_mock_record_value(m, 0, "source_name"), "SABPAISA");
    assert_string_equal(cd_mock_record_value(m, 1, "merchant_id"), "BLANKOPT");
    assert_string_equal(cd_mock_record_value(m, 1, "payment_method"), "CARD");
    assert_string_equal(cd_mock_record_value(m, 1, "source_name"), "SABPAISA-UPI");
    cd_mock_free(m);
    /* with ALL there is no requested code to stand in */
    m = load_codes("\"ALL\"", NULL);
    uint64_t items = 0;
    static const char all_body[] =
        "[{\"transaction_id\":\"O1\",\"client_code\":\" \",\"payee_amount\":\"1.00\","
        "\"trans_date\":\"2025-01-02\"}]";
    assert_int_equal(pg_api_parse_buffer(cd_mock_run(m), "ALL", (const unsigned char *)all_body,
                                         sizeof all_body - 1, 0, &items), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 0);
    assert_int_equal(cd_mock_record_error_count(m), 1);
    assert_non_null(strstr(cd_mock_record_error_reason(m, 0), "no client_code"));
    cd_mock_free(m);
}

/* 204 No Content is a code without transactions, as [] is; the next code
 * still loads. */
static void test_run_no_content(void **state)
{
    cd_mock_host *m = load_codes("\"NOCONTENT\", \"EMPTY\", \"AMOUNTS\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 4);
    assert_int_equal(cd_mock_record_error_count(m), 0);
    assert_true(cd_mock_log_contains(m, "merchant NOCONTENT: 0 item(s)"));
    cd_mock_free(m);
    m = load_codes("\"NOCONTENT\"", NULL);
    assert_int_equal(cd_mock_test(m), CD_OK);
    assert_string_equal(cd_mock_detail(m, "rows_seen"), "0");
    cd_mock_free(m);
}

/* 202 Accepted: the report is not ready; its [] is no empty day. */
static void test_run_accepted_not_ready(void **state)
{
    cd_mock_host *m = load_codes("\"AMOUNTS\", \"ACCEPTED\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    assert_string_equal(cd_mock_message(m), "API responded with status 202: Accepted (the answer "
                                            "is not ready yet)");
    assert_string_equal(cd_mock_detail(m, "retry_after_seconds"), "30");
    cd_mock_free(m);
    /* nor is 206 Partial Content, never asked for, the whole day */
    m = load_codes("\"FAIL206\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    assert_string_equal(cd_mock_message(m), "API responded with status 206: Partial Content (a "
                                            "part of the answer only)");
    cd_mock_free(m);
    m = load_codes("\"ACCEPTED\"", NULL);
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    long i = cd_mock_find_step(m, "status");
    assert_true(i >= 0 && !cd_mock_step_passed(m, (size_t)i));
    cd_mock_free(m);
}

/* A UTF-8 byte-order mark before the array is skipped (RFC 8259 lets a
 * reader ignore it), not a malformed body at byte 1 every day. */
static void test_run_bom(void **state)
{
    cd_mock_host *m = load_codes("\"BOM\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 1);
    assert_string_equal(cd_mock_record_value(m, 0, "transaction_id"), "BOM1");
    cd_mock_free(m);
}

static void test_run_truncated(void **state)
{
    cd_mock_host *m = load_codes("\"TRUNC\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_PERMANENT);
    /* the body is 136 bytes long; the parser ran out at its end */
    assert_non_null(strstr(cd_mock_message(m), "merchant TRUNC at byte 136: "));
    cd_mock_free(m);
    m = load_codes("\"BADJSON\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_PERMANENT);
    /* the stray '}' after the first item is byte 101 (1-based; offset 100) */
    assert_non_null(strstr(cd_mock_message(m), "merchant BADJSON at byte 101: "));
    cd_mock_free(m);
    m = load_codes("\"OBJECT\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_PERMANENT);
    assert_non_null(strstr(cd_mock_message(m), "expected an array"));
    cd_mock_free(m);
    m = load_codes("\"FAIL503\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    cd_mock_free(m);
    /* an HTML maintenance page with status 200 passes: transient, as a 503 */
    m = load_codes("\"HTML\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    assert_string_equal(cd_mock_message(m), "the report API for merchant HTML answered text/html; "
                                             "charset=utf-8 where JSON was expected (an error or "
                                             "maintenance page?)");
    cd_mock_free(m);
    m = load_codes("\"HTML\"", NULL);
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    cd_mock_free(m);
    m = load_codes("\"HTMLSTRAY\"", NULL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    cd_mock_free(m);
}

static void test_run_cancel(void **state)
{
    mock_sabpaisa_opts o = {0};
    o.count = 1000000;
    uint16_t big_port;
    mock_sabpaisa *big = mock_sabpaisa_start(&o, &big_port);
    assert_non_null(big);
    cd_mock_host *m = load_driver("{\"api_base_url\": \"http://127.0.0.1:%u\", \"merchant_codes\": [\"BIG\"]}",
                           big_port);
    cd_mock_keep_records(m, 0);
    cd_mock_cancel_after_records(m, 50);
    double t0 = now_s();
    assert_int_equal(cd_mock_run_driver(m), CD_CANCELLED);
    assert_true(now_s() - t0 < 5.0);
    assert_true(cd_mock_record_count(m) >= 50 && cd_mock_record_count(m) < 1000);
    cd_mock_free(m);
    /* cancelled before it starts: no request at all */
    unsigned long before = mock_sabpaisa_requests(big);
    m = load_driver("{\"api_base_url\": \"http://127.0.0.1:%u\", \"merchant_codes\": [\"BIG\"]}", big_port);
    cd_mock_set_cancelled(m, 1);
    assert_int_equal(cd_mock_run_driver(m), CD_CANCELLED);
    assert_int_equal(mock_sabpaisa_requests(big), before);
    cd_mock_free(m);
    mock_sabpaisa_stop(big);
}

/* A 401 after earlier codes were answered with the same credential is a
 * credential that expired during the run: transient (a retry reads the
 * secret again), not a configuration error that is never retried. */
static void test_credential_expires_mid_run(void **state)
{
    mock_sabpaisa_opts o = {0};
    o.bearer = "tok";
    o.expire_after = 2;
    uint16_t p;
    mock_sabpaisa *exp = mock_sabpaisa_start(&o, &p);
    assert_non_null(exp);
    cd_mock_host *m = load_driver("{\"api_base_url\": \"http://127.0.0.1:%u\", \"merchant_codes\": "
                                  "[\"A\", \"B\", \"C\"], \"authentication_type\": \"BEARER\","
                                  " \"bearer_token\": \"tok\"}", p);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    assert_string_equal(cd_mock_message(m), "API responded with status 401: Unauthorized for "
                                            "merchant C after 2 merchant(s) answered with the "
                                            "same credential (expired during the run?)");
    cd_mock_free(m);
    /* refused from the first request: the configuration's credential */
    m = load_driver("{\"api_base_url\": \"http://127.0.0.1:%u\", \"merchant_codes\": [\"A\", \"B\"],"
                    " \"authentication_type\": \"BEARER\", \"bearer_token\": \"wrong\"}", p);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_CONFIG);
    assert_string_equal(cd_mock_message(m), "API responded with status 401: Unauthorized");
    cd_mock_free(m);
    mock_sabpaisa_stop(exp);
}

static void test_bearer_and_date_format(void **state)
{
    mock_sabpaisa_opts o = {0};
    o.bearer = "s3cret";
    uint16_t p;
    mock_sabpaisa *auth = mock_sabpaisa_start(&o, &p);
    assert_non_null(auth);
    cd_mock_host *m = load_driver("{\"api_base_url\": \"http://127.0.0.1:%u/\", \"merchant_codes\": [\"X\"],"
                           " \"authentication_type\": \"BEARER\", \"bearer_token\": \"s3cret\","
                           " \"date_format\": \"DD-MM-YYYY\"}", p);
    assert_int_equal(cd_mock_test(m), CD_OK);
    char *path = mock_sabpaisa_last_path(auth);
    assert_string_equal(path, "/02-01-2025/02-01-2025/X");
    free(path);
    cd_mock_free(m);
    m = load_driver("{\"api_base_url\": \"http://127.0.0.1:%u\", \"merchant_codes\": [\"X\"],"
             " \"authentication_type\": \"BEARER\", \"bearer_token\": \"wrong\"}", p);
    assert_int_equal(cd_mock_test(m), CD_ERR_CONFIG);
    assert_string_equal(cd_mock_message(m), "API responded with status 401: Unauthorized");
    cd_mock_free(m);
    mock_sabpaisa_stop(auth);
}


/* A body of long values (each under the 1 MiB a value may run) arriving in
 * small pieces, as curl hands them over from a slow connection: yajl lexes
 * a value that spans pieces again from its start with every piece, so fed
 * as it came, each 1 MB value was read some 250 times over in 4 KiB pieces
 * (125 MB of lexing per value: a gateway sending many such values kept a
 * core busy). Held back while no value ends, each is read a bounded number
 * of times. Measured against the same body fed at once, in the same run. */
static char *long_values_body(size_t values, size_t value_len, size_t *len)
{
    size_t cap = 2 + values * (value_len + 200);
    char *b = malloc(cap);
    assert_non_null(b);
    size_t n = 0;
    b[n++] = '[';
    for (size_t i = 0; i < values; i++) {
        n += (size_t)snprintf(b + n, cap - n, "%s{\"transaction_id\":\"L%zu\",\"payee_amount\":"
                              "\"1.00\",\"trans_date\":\"2025-01-02\",\"remark\":\"",
                              i ? "," : "", i + 1);
        memset(b + n, 'r', value_len);
        n += value_len;
        n += (size_t)snprintf(b + n, cap - n, "\"}");
    }
    b[n++] = ']';
    b[n] = '\0';
    *len = n;
    return b;
}

static double parse_seconds(const char *body, size_t len, size_t chunk, size_t values)
{
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        cd_mock_host *m = load_codes("\"LONG\"", NULL);
        uint64_t items = 0;
        double t0 = now_s();
        assert_int_equal(pg_api_parse_buffer(cd_mock_run(m), "LONG", (const unsigned char *)body,
                                             len, chunk, &items), CD_OK);
        double t = now_s() - t0;
        assert_int_equal(items, values);
        assert_int_equal(cd_mock_record_count(m), values);
        cd_mock_free(m);
        if (t < best)
            best = t;
    }
    return best;
}

static void test_long_values_linear(void **state)
{
    size_t len = 0, values = 8;
    char *body = long_values_body(values, 1000 * 1000, &len);
    double whole = parse_seconds(body, len, 0, values);
    double pieces = parse_seconds(body, len, 4096, values);
    fprintf(stderr, "%zu values of 1 MB: at once %.3f s, in 4 KiB pieces %.3f s (%.1fx)\n",
            values, whole, pieces, pieces / whole);
    /* linear: about 3x (each byte lexed a few times); quadratic: 80x */
    assert_true(pieces < 12 * whole + 0.05);
    free(body);
    /* one value running on past 1 MiB is still refused, however it comes */
    body = long_values_body(1, 3 * 1024 * 1024, &len);
    static const size_t chunks[] = {0, 1, 4096, 16384};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        cd_mock_host *m = load_codes("\"LONG\"", NULL);
        uint64_t items = 0;
        size_t n = chunks[i] == 1 ? 2 * 1024 * 1024 + 300 : len; /* bytewise: a prefix */
        assert_int_equal(pg_api_parse_buffer(cd_mock_run(m), "LONG", (const unsigned char *)body,
                                             n, chunks[i], &items), CD_ERR_PERMANENT);
        assert_int_equal(cd_mock_record_count(m), 0);
        /* counted from the end of the last token, "remark", whatever the
         * pieces or the batches they were held in */
        char *want = NULL;
        assert_true(asprintf(&want, "the report API for merchant LONG sent over 1048576 bytes "
                                    "without ending a JSON value (at byte %zu)",
                             (size_t)(strstr(body, "\"remark\"") + 8 - body) + 1048577) > 0);
        assert_string_equal(cd_mock_message(m), want);
        free(want);
        cd_mock_free(m);
    }
    free(body);
}

/* yajl keeps a byte per open array or object and has no limit of its own:
 * a body of nothing but '[' took a byte of the runner's memory per byte
 * received (300 MB of it: 317 MB). Past 512 levels the body is refused
 * where it went too deep; a report nested a few levels still loads. */
static void test_nesting_too_deep(void **state)
{
    size_t levels = 100000, n = 0;
    char *body = malloc(2 * levels + 1);
    assert_non_null(body);
    for (size_t i = 0; i < levels; i++)
        body[n++] = '[';
    for (size_t i = 0; i < levels; i++)
        body[n++] = ']';
    cd_mock_host *m = load_codes("\"DEEP\"", NULL);
    uint64_t items = 0;
    assert_int_equal(pg_api_parse_buffer(cd_mock_run(m), "DEEP", (const unsigned char *)body, n,
                                         16384, &items), CD_ERR_PERMANENT);
    assert_string_equal(cd_mock_message(m), "the report API for merchant DEEP nests arrays or "
                                            "objects deeper than 512 levels (at byte 513); not "
                                            "a report");
    cd_mock_free(m);
    free(body);
    /* 512 levels in all: the array, the item, 510 in a field no column reads */
    char *deep = NULL;
    char open[511] = "", close[511] = "";
    memset(open, '[', 510);
    memset(close, ']', 510);
    assert_true(asprintf(&deep, "[{\"transaction_id\":\"D1\",\"payee_amount\":\"1.00\","
                                "\"trans_date\":\"2025-01-02\",\"extra\":%s%s}]", open,
                         close) > 0);
    m = load_codes("\"DEEP\"", NULL);
    assert_int_equal(pg_api_parse_buffer(cd_mock_run(m), "DEEP", (const unsigned char *)deep,
                                         strlen(deep), 0, &items), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 1);
    assert_int_equal(cd_mock_record_error_count(m), 0);
    cd_mock_free(m);
    free(deep);
}

/* Held back or not, every split of a body reads the same: a byte-order
 * mark, long values (held while they run), numbers and a malformed tail. */
static void test_any_split_same_records(void **state)
{
    size_t vlen = 40000;
    char *utr = malloc(vlen + 1);
    assert_non_null(utr);
    memset(utr, 'u', vlen);
    utr[vlen] = '\0';
    char *body = NULL;
    int n = asprintf(&body, "\xEF\xBB\xBF [{\"transaction_id\":\"S1\",\"payee_amount\":12345.67,"
                            "\"trans_date\":\"2025-01-02 10:00:00\",\"utr\":\"%s\"}, 7,"
                            "{\"txn_id\":\"S2\",\"remark\":\"%s\",\"paid_amount\":\"1.00\","
                            "\"trans_complete_date\":\"02-01-2025\",\"rrn\":123456789012}]",
                     utr, utr);
    assert_true(n > 0);
    static const size_t chunks[] = {0, 1, 2, 3, 7, 100, 4096, 16384, 50000};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        cd_mock_host *m = load_codes("\"SPLIT\"", NULL);
        uint64_t items = 0;
        assert_int_equal(pg_api_parse_buffer(cd_mock_run(m), "SPLIT", (const unsigned char *)body,
                                             (size_t)n, chunks[i], &items), CD_OK);
        assert_int_equal(items, 3);
        assert_int_equal(cd_mock_record_count(m), 2);
        assert_int_equal(cd_mock_record_error_count(m), 1);
        assert_string_equal(cd_mock_record_value(m, 0, "transaction_id"), "S1");
        assert_string_equal(cd_mock_record_value(m, 0, "amount"), "12345.67");
        assert_string_equal(cd_mock_record_value(m, 0, "utr"), utr);
        assert_string_equal(cd_mock_record_value(m, 1, "transaction_id"), "S2");
        assert_string_equal(cd_mock_record_value(m, 1, "rrn"), "123456789012");
        cd_mock_free(m);
        /* cut short: refused at every split */
        m = load_codes("\"SPLIT\"", NULL);
        assert_int_equal(pg_api_parse_buffer(cd_mock_run(m), "SPLIT", (const unsigned char *)body,
                                             (size_t)n - 30000, chunks[i], &items),
                         CD_ERR_PERMANENT);
        cd_mock_free(m);
    }
    free(body);
    free(utr);
}

/* yajl reads a \uD800-\uDBFF escape without its \uDC00-\uDFFF half as '?'
 * (or, with another escape after it, as an unrelated character), and a
 * lone low half as bytes no UTF-8 has: the id or UTR loaded altered. Such
 * an item is a record error naming the field; a whole pair, or a lone
 * half in a field no column reads, is no error. Every split reads alike. */
static void test_lone_surrogates(void **state)
{
    static const char body[] =
        "[{\"transaction_id\":\"U1\",\"payee_amount\":\"1.00\",\"trans_date\":\"2025-01-02\","
        "\"utr\":\"A\\ud800\"},"
        "{\"transaction_id\":\"U2\\uD800\\u0041\",\"payee_amount\":\"1.00\","
        "\"trans_date\":\"2025-01-02\"},"
        "{\"transaction_id\":\"U3\",\"payee_amount\":\"1.00\",\"trans_date\":\"2025-01-02\","
        "\"client_name\":\"x\\udc00y\"},"
        "{\"transaction_id\":\"U4\",\"payee_amount\":\"1.00\",\"trans_date\":\"2025-01-02\","
        "\"rrn\":\"\\ud83d\\n\"},"
        "{\"transaction_id\":\"OK1\",\"payee_amount\":\"1.00\",\"trans_date\":\"2025-01-02\","
        "\"client_name\":\"smile \\ud83d\\ude00\",\"remark\":\"cut \\ud83d\","
        "\"k\\ud800\":\"v\",\"utr\":\"\\\\ud800\"}]";
    static const size_t chunks[] = {0, 1, 2, 5, 7};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        cd_mock_host *m = load_codes("\"LONE\"", NULL);
        uint64_t items = 0;
        assert_int_equal(pg_api_parse_buffer(cd_mock_run(m), "LONE", (const unsigned char *)body,
                                             sizeof body - 1, chunks[i], &items), CD_OK);
        assert_int_equal(items, 5);
        assert_int_equal(cd_mock_record_error_count(m), 4);
        assert_string_equal(cd_mock_record_error_reason(m, 0),
                            "utr holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without "
                            "its pair) (transaction U1)");
        assert_non_null(strstr(cd_mock_record_error_reason(m, 1),
                               "transaction_id holds a lone UTF-16 surrogate"));
        assert_non_null(strstr(cd_mock_record_error_reason(m, 2),
                               "client_name holds a lone UTF-16 surrogate"));
        assert_non_null(strstr(cd_mock_record_error_reason(m, 3),
                               "rrn holds a lone UTF-16 surrogate"));
        assert_int_equal(cd_mock_record_count(m), 1);
        assert_string_equal(cd_mock_record_value(m, 0, "transaction_id"), "OK1");
        assert_string_equal(cd_mock_record_value(m, 0, "merchant_name"), "smile \xF0\x9F\x98\x80");
        assert_string_equal(cd_mock_record_value(m, 0, "utr"), "\\ud800");
        cd_mock_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_magic),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_validate_default),
        cmocka_unit_test(test_validate_rejects),
        cmocka_unit_test(test_stored_config_still_runs),
        cmocka_unit_test(test_test_ok),
        cmocka_unit_test(test_test_401),
        cmocka_unit_test(test_test_5xx_429),
        cmocka_unit_test(test_test_refused),
        cmocka_unit_test(test_test_stall),
        cmocka_unit_test(test_default_connector_fails_fast),
        cmocka_unit_test(test_run_amounts),
        cmocka_unit_test(test_run_zoned_timestamps),
        cmocka_unit_test(test_run_generated_and_noid),
        cmocka_unit_test(test_run_blank_fields_fall_back),
        cmocka_unit_test(test_run_blank_optional_fields_fall_back),
        cmocka_unit_test(test_run_no_content),
        cmocka_unit_test(test_run_accepted_not_ready),
        cmocka_unit_test(test_run_bom),
        cmocka_unit_test(test_run_truncated),
        cmocka_unit_test(test_run_cancel),
        cmocka_unit_test(test_bearer_and_date_format),
        cmocka_unit_test(test_credential_expires_mid_run),
        cmocka_unit_test(test_long_values_linear),
        cmocka_unit_test(test_nesting_too_deep),
        cmocka_unit_test(test_any_split_same_records),
        cmocka_unit_test(test_lone_surrogates),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
