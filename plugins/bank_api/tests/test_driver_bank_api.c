/*
 * test_driver_bank_api.c — unit tests of the bank_api driver with the mock
 * host, using the mock SabPaisa server as a generic JSON API on loopback.
 */
#include <connectord/mockhost.h>

#include "mock_sabpaisa.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "driver_test.h"
#include "../bank_api_internal.h"

static mock_sabpaisa *server;
static uint16_t port;

static int start_server(void **state)
{
    mock_sabpaisa_opts o = {0};
    server = mock_sabpaisa_start(&o, &port);
    return server ? 0 : -1;
}

static int stop_server(void **state)
{
    mock_sabpaisa_stop(server);
    return 0;
}

#define COLUMNS "\"columns\": {\"bank_ref\": \"transaction_id\", \"amount\": \"paid_amount\"," \
                " \"transaction_date\": \"trans_date\", \"utr\": \"utr\"}"

static cd_mock_host *load_endpoint(const char *code)
{
    return load_driver("{\"base_url\": \"http://127.0.0.1:%u/\", \"endpoint\": \"/stmt/{date}/{date}/%s\","
                " \"bank_name\": \"HDFC BANK\", " COLUMNS "}", port, code);
}

static void test_magic(void **state)
{
    const cd_driver_magic *mg = connectord_driver_magic();
    assert_int_equal(mg->magic, CD_DRIVER_MAGIC);
    assert_int_equal(mg->struct_size, sizeof(cd_driver_magic));
    assert_string_equal(mg->name, "bank_api");
    assert_string_equal(mg->version, "1.0.0");
    assert_string_equal(mg->vendor, "connectord");
    assert_int_equal(mg->category, CD_CATEGORY_BANK_API);
    assert_int_equal(mg->dataset, CD_DATASET_BANK_STATEMENT);
}

static void test_schema(void **state)
{
    cd_mock_host *m = load_driver("{}");
    json_error_t err;
    json_t *s = json_loads(cd_mock_callbacks(m)->describe_config(), 0, &err);
    if (!s)
        fail_msg("schema is not JSON: %s at %d", err.text, err.position);
    json_t *props = json_object_get(s, "properties");
    const char *secrets[] = {"bearer_token", "api_key", "password", "hmac_secret"};
    for (size_t i = 0; i < 4; i++)
        assert_true(json_is_true(json_object_get(json_object_get(props, secrets[i]), "writeOnly")));
    json_decref(s);
    cd_mock_free(m);
}

static void test_validate(void **state)
{
    cd_mock_host *m = load_endpoint("X");
    assert_int_equal(cd_mock_validate(m), CD_OK);
    cd_mock_free(m);
    expect_invalid("{\"endpoint\": \"/s\", " COLUMNS "}", "base_url");
    expect_invalid("{\"base_url\": \"ftp://b\", \"endpoint\": \"/s\", " COLUMNS "}", "base_url");
    expect_invalid("{\"base_url\": \"https://b\", \"endpoint\": \"/s/{month}\", " COLUMNS "}",
                   "endpoint");
    expect_invalid("{\"base_url\": \"https://b\", \"endpoint\": \"/s\", \"auth_type\": \"bearer\", "
                   COLUMNS "}", "bearer_token");
    expect_invalid("{\"base_url\": \"https://b\", \"endpoint\": \"/s\","
                   " \"columns\": {\"merchant_id\": \"m\"}}", "columns.merchant_id");
    expect_invalid("{\"base_url\": \"https://b\", \"endpoint\": \"/s\","
                   " \"columns\": {\"bank_ref\": \"r\"}}", "columns");
    /* the endpoint is appended to base_url: not into its query */
    expect_invalid("{\"base_url\": \"https://b/api?key=1\", \"endpoint\": \"/s\", " COLUMNS "}",
                   "base_url");
    /* a record giving both amounts is refused by connectord: every one would be */
    expect_invalid("{\"base_url\": \"https://b\", \"endpoint\": \"/s\", \"columns\": {"
                   "\"bank_ref\": \"r\", \"amount\": \"a\", \"amount_paise\": \"p\","
                   " \"transaction_date\": \"d\"}}", "columns.amount_paise");
    expect_invalid("{\"base_url\": \"https://b\", \"endpoint\": \"/s\", \"columns\": {"
                   "\"bank_ref\": \"r\", \"amount\": \"a\", \"net_amount\": \"n\","
                   " \"net_amount_paise\": \"np\", \"transaction_date\": \"d\"}}",
                   "columns.net_amount_paise");
}

static void test_test(void **state)
{
    cd_mock_host *m = load_endpoint("BANKX");
    assert_int_equal(cd_mock_test(m), CD_OK);
    char *path = mock_sabpaisa_last_path(server);
    assert_string_equal(path, "/stmt/2025-01-02/2025-01-02/BANKX");
    free(path);
    assert_true(cd_mock_step_passed(m, (size_t)cd_mock_find_step(m, "status")));
    cd_mock_free(m);
    m = load_endpoint("FAIL401");
    assert_int_equal(cd_mock_test(m), CD_ERR_CONFIG);
    assert_string_equal(cd_mock_message(m), "API responded with status 401: Unauthorized");
    cd_mock_free(m);
}

static void test_run(void **state)
{
    cd_mock_host *m = load_endpoint("AMOUNTS");
    assert_int_equal(cd_mock_run_driver(m), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 4);
    assert_null(cd_mock_record_value(m, 0, "amount"));       /* no paid_amount */
    assert_string_equal(cd_mock_record_value(m, 1, "amount"), "10.1"); /* exact number text */
    assert_string_equal(cd_mock_record_value(m, 3, "amount"), "99.99");
    assert_string_equal(cd_mock_record_value(m, 3, "bank_ref"), "A4");
    assert_string_equal(cd_mock_record_value(m, 3, "bank_name"), "HDFC BANK");
    assert_string_equal(cd_mock_record_value(m, 3, "source_type"), "CONNECTOR");
    assert_string_equal(cd_mock_record_ref(m, 3), "page 1 item 4");
    cd_mock_free(m);
    m = load_endpoint("TRUNC");
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_PERMANENT);
    assert_non_null(strstr(cd_mock_message(m), "malformed JSON"));
    cd_mock_free(m);
    m = load_endpoint("FAIL503");
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    cd_mock_free(m);
}

static void test_run_paged(void **state)
{
    /* The mock SabPaisa server ignores the page parameter: every page is
     * the same 3 records. No empty page would ever end the listing; the
     * second page repeating the first stops it at once, not after
     * max_pages requests with advice to raise max_pages. (A listing of
     * distinct full pages past max_pages: test_bank_api.sh, MAXP.) */
    unsigned long before = mock_sabpaisa_requests(server);
    cd_mock_host *m = load_driver("{\"base_url\": \"http://127.0.0.1:%u\", \"endpoint\": \"/s/{date}/{date}/P\","
                           " \"pagination\": {\"type\": \"page\", \"page_size\": 3, \"max_pages\": 50}, "
                           COLUMNS "}", port);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_PERMANENT);
    assert_string_equal(cd_mock_message(m), "page 2 of the bank API repeats page 1 record for "
                                            "record: it ignores or clamps pagination.page; "
                                            "stopping instead of asking again until max_pages");
    assert_int_equal(mock_sabpaisa_requests(server) - before, 2);
    assert_int_equal(cd_mock_record_count(m), 6);
    char *path = mock_sabpaisa_last_path(server);
    assert_string_equal(path, "/s/2025-01-02/2025-01-02/P");
    free(path);
    assert_string_equal(cd_mock_record_ref(m, 5), "page 2 item 3");
    cd_mock_free(m);
}

/* A UTF-8 byte-order mark before a JSON page is skipped. */
static void test_json_bom(void **state)
{
    static const char body[] = "\xEF\xBB\xBF[{\"transaction_id\": \"R1\", \"paid_amount\": \"1.00\","
                               " \"trans_date\": \"2025-01-02\"}]";
    cd_mock_host *m = load_endpoint("X");
    uint64_t count = 0;
    assert_int_equal(bank_api_emit_body(cd_mock_run(m), body, sizeof body - 1, &count), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 1);
    assert_string_equal(cd_mock_record_value(m, 0, "bank_ref"), "R1");
    cd_mock_free(m);
}

/* A page nested a million levels deep (2 MB) is refused before it is
 * parsed: freeing its tree recursed once per level and crashed the runner. */
static void test_json_too_deep(void **state)
{
    size_t n = 1000000;
    char *body = malloc(2 * n + 1);
    assert_non_null(body);
    memset(body, '[', n);
    memset(body + n, ']', n);
    body[2 * n] = '\0';
    cd_mock_host *m = load_endpoint("X");
    uint64_t count = 0;
    assert_int_equal(bank_api_emit_body(cd_mock_run(m), body, 2 * n, &count), CD_ERR_PERMANENT);
    assert_string_equal(cd_mock_message(m), "the bank API's JSON (page 1) nests arrays or objects "
                                            "deeper than 512 levels; not a statement");
    cd_mock_free(m);
    /* brackets inside strings are text */
    static const char ok[] = "[{\"transaction_id\": \"[[[[\\\"{{{{\", \"paid_amount\": \"1.00\","
                             " \"trans_date\": \"2025-01-02\"}]";
    m = load_endpoint("X");
    assert_int_equal(bank_api_emit_body(cd_mock_run(m), ok, sizeof ok - 1, &count), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 1);
    assert_string_equal(cd_mock_record_value(m, 0, "bank_ref"), "[[[[\"{{{{");
    cd_mock_free(m);
    free(body);
}

/* A 401 on page 3 after two pages with the same credential: it expired
 * during the listing, transient; a 401 on page 1 stays a configuration
 * error. */
static void test_credential_expires_mid_listing(void **state)
{
    mock_sabpaisa_opts o = {0};
    o.expire_after = 2;
    o.count = 1;
    uint16_t p;
    mock_sabpaisa *exp = mock_sabpaisa_start(&o, &p);
    assert_non_null(exp);
    /* ?count=N varies the mock's page so that pages differ: page=1, 2... */
    cd_mock_host *m = load_driver("{\"base_url\": \"http://127.0.0.1:%u\", \"endpoint\": "
                                  "\"/s/{date}/{date}/P\", \"pagination\": {\"type\": \"page\","
                                  " \"page_param\": \"count\"}, " COLUMNS "}", p);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    assert_string_equal(cd_mock_message(m), "API responded with status 401: Unauthorized on page 3 "
                                            "after 2 page(s) were answered with the same "
                                            "credential (expired during the run?)");
    assert_int_equal(cd_mock_record_count(m), 3);
    cd_mock_free(m);
    m = load_driver("{\"base_url\": \"http://127.0.0.1:%u\", \"endpoint\": \"/s/{date}/{date}/P\","
                    " \"pagination\": {\"type\": \"page\"}, " COLUMNS "}", p);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_CONFIG);
    assert_string_equal(cd_mock_message(m), "API responded with status 401: Unauthorized");
    cd_mock_free(m);
    mock_sabpaisa_stop(exp);
}

#define CSV_CFG "{\"base_url\": \"http://127.0.0.1:1\", \"endpoint\": \"/s\", " \
                "\"response_format\": \"csv\", \"bank_name\": \"B\", "

static void test_csv_field_count(void **state)
{
    /* "Paid, thanks" unquoted: R1 has 6 fields, and by header position its
     * utr would be " thanks"; R2 lacks its utr. Neither may load. */
    static const char body[] = "ref,amount,date,remarks,utr\n"
                               "R1,100.00,2025-10-02,Paid, thanks,UTR123\n"
                               "R2,5.00,2025-10-02,ok\n"
                               "R3,7.50,2025-10-02,fine,UTR9\n";
    cd_mock_host *m = load_driver(CSV_CFG "\"columns\": {\"bank_ref\": \"ref\", \"amount\": "
                                  "\"amount\", \"transaction_date\": \"date\", \"remarks\": "
                                  "\"remarks\", \"utr\": \"utr\"}}");
    uint64_t count = 0;
    assert_int_equal(bank_api_emit_body(cd_mock_run(m), body, sizeof body - 1, &count), CD_OK);
    assert_int_equal(count, 3);
    assert_int_equal(cd_mock_record_count(m), 1);
    assert_string_equal(cd_mock_record_value(m, 0, "bank_ref"), "R3");
    assert_string_equal(cd_mock_record_value(m, 0, "utr"), "UTR9");
    assert_int_equal(cd_mock_record_error_count(m), 2);
    assert_string_equal(cd_mock_record_error_ref(m, 0), "page 1 line 2");
    assert_string_equal(cd_mock_record_error_reason(m, 0), "has 6 fields, the header has 5");
    assert_string_equal(cd_mock_record_error_ref(m, 1), "page 1 line 3");
    assert_string_equal(cd_mock_record_error_reason(m, 1), "has 4 fields, the header has 5");
    cd_mock_free(m);

    /* Without a header there is no count to hold a line to: a short line
     * still gives no value for the columns it lacks. */
    static const char bare[] = "R2,5.00,2025-10-02,ok\n";
    m = load_driver(CSV_CFG "\"csv\": {\"header\": false}, \"columns\": {\"bank_ref\": \"1\", "
                    "\"amount\": \"2\", \"transaction_date\": \"3\", \"remarks\": \"4\", "
                    "\"utr\": \"5\"}}");
    assert_int_equal(bank_api_emit_body(cd_mock_run(m), bare, sizeof bare - 1, &count), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 1);
    assert_int_equal(cd_mock_record_error_count(m), 0);
    assert_string_equal(cd_mock_record_value(m, 0, "remarks"), "ok");
    assert_null(cd_mock_record_value(m, 0, "utr"));
    cd_mock_free(m);
}

/* Debits follow bank_sftp's convention in sp_v2_bank_statements: the amount
 * is the magnitude, debit_credit is CR/DR. */
static void test_debit_convention(void **state)
{
    static const char body[] = "[{\"r\": \"J1\", \"a\": \"-100.00\", \"d\": \"2025-01-02\", \"t\": \"D\"},"
                               " {\"r\": \"J2\", \"a\": -5.50, \"d\": \"2025-01-02\"},"
                               " {\"r\": \"J3\", \"a\": \"7.00\", \"d\": \"2025-01-02\", \"t\": \"Dr.\"},"
                               " {\"r\": \"J4\", \"a\": \"-1.00\", \"d\": \"2025-01-02\", \"t\": \"c\"},"
                               " {\"r\": \"J5\", \"a\": \"2.00\", \"d\": \"2025-01-02\", \"t\": \"CR\"}]";
    cd_mock_host *m = load_driver("{\"base_url\": \"http://127.0.0.1:%u/\", \"endpoint\": \"/x\", "
                                  "\"bank_name\": \"B\", \"columns\": {\"bank_ref\": \"r\", \"amount\": \"a\", "
                                  "\"transaction_date\": \"d\", \"debit_credit\": \"t\"}}", port);
    uint64_t count = 0;
    assert_int_equal(bank_api_emit_body(cd_mock_run(m), body, sizeof body - 1, &count), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 4);
    assert_string_equal(cd_mock_record_value(m, 0, "amount"), "100.00");
    assert_string_equal(cd_mock_record_value(m, 0, "debit_credit"), "DR");
    assert_string_equal(cd_mock_record_value(m, 1, "amount"), "5.50");
    assert_string_equal(cd_mock_record_value(m, 1, "debit_credit"), "DR");
    assert_string_equal(cd_mock_record_value(m, 2, "debit_credit"), "DR");
    assert_string_equal(cd_mock_record_value(m, 3, "debit_credit"), "CR");
    assert_int_equal(cd_mock_record_error_count(m), 1);
    assert_string_equal(cd_mock_record_error_reason(m, 0),
                        "debit_credit: 'c' in t says credit, the amount says debit");
    assert_string_equal(cd_mock_record_value(m, 3, "amount"), "2.00");
    cd_mock_free(m);

    /* CSV, amount_paise, no indicator mapped: a negative value is DR. */
    static const char csv[] = "ref,paise,date,dc\nK1,-700,2025-01-02,\nK2,300,2025-01-02,\n";
    m = load_driver(CSV_CFG "\"columns\": {\"bank_ref\": \"ref\", \"amount_paise\": "
                    "\"paise\", \"transaction_date\": \"date\"}}");
    assert_int_equal(bank_api_emit_body(cd_mock_run(m), csv, sizeof csv - 1, &count), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 2);
    assert_string_equal(cd_mock_record_value(m, 0, "amount_paise"), "700");
    assert_string_equal(cd_mock_record_value(m, 0, "debit_credit"), "DR");
    assert_string_equal(cd_mock_record_value(m, 1, "amount_paise"), "300");
    assert_null(cd_mock_record_value(m, 1, "debit_credit"));
    cd_mock_free(m);

    /* CSV with indicator variants. */
    static const char csv2[] = "ref,amt,date,dc\nL1,-1.00,2025-01-02,DEBIT\nL2,-2.00,2025-01-02,CR\n"
                               "L3,3.00,2025-01-02,c\nL4,4.00,2025-01-02,d\n";
    m = load_driver(CSV_CFG "\"columns\": {\"bank_ref\": \"ref\", \"amount\": "
                    "\"amt\", \"transaction_date\": \"date\", \"debit_credit\": \"dc\"}}");
    assert_int_equal(bank_api_emit_body(cd_mock_run(m), csv2, sizeof csv2 - 1, &count), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 3);
    assert_string_equal(cd_mock_record_value(m, 0, "amount"), "1.00");
    assert_string_equal(cd_mock_record_value(m, 0, "debit_credit"), "DR");
    assert_string_equal(cd_mock_record_value(m, 1, "debit_credit"), "CR");
    assert_string_equal(cd_mock_record_value(m, 2, "debit_credit"), "DR");
    assert_int_equal(cd_mock_record_error_count(m), 1);
    assert_string_equal(cd_mock_record_error_ref(m, 0), "page 1 line 3");
    cd_mock_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_magic), cmocka_unit_test(test_schema),
        cmocka_unit_test(test_validate), cmocka_unit_test(test_test),
        cmocka_unit_test(test_run), cmocka_unit_test(test_run_paged),
        cmocka_unit_test(test_csv_field_count), cmocka_unit_test(test_json_bom),
        cmocka_unit_test(test_json_too_deep), cmocka_unit_test(test_debit_convention),
        cmocka_unit_test(test_credential_expires_mid_listing),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
