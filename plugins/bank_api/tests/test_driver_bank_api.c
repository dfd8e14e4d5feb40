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
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

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
    /* an empty header name would send the key as ": KEY" */
    expect_invalid("{\"base_url\": \"https://b\", \"endpoint\": \"/s\", \"auth_type\": \"api_key\", "
                   "\"api_key\": \"k\", \"api_key_header\": \"\", " COLUMNS "}", "api_key_header");
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

/* kB of a "VmHWM:"-style line of /proc/self/status, or -1. */
static long proc_status_kb(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(name);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            kb = atol(line + n + 1);
    if (f)
        fclose(f);
    return kb;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* A 60 MB JSON page of tiny values (25 million zeros beside the records,
 * and one record with 5 million more in a field no column maps) is read
 * with memory bounded by its largest record, not by its number of values:
 * parsed into yajl's tree, each tiny value cost some 100 bytes, some 3 GB
 * for this page. Run in a child under an address-space limit (not under
 * ASan, which reserves terabytes of shadow), so that the old way fails
 * there instead of taking the machine's memory. */
static void test_json_page_memory(void **state)
{
    static const char head[] = "{\"pad\": [";
    static const char mid[] = "0], \"data\": [{\"transaction_id\": \"R1\", \"paid_amount\": \"1.00\", "
                              "\"trans_date\": \"2025-01-02\", \"x\": [";
    static const char tail[] = "0]}, {\"transaction_id\": \"R2\", \"paid_amount\": 2.5, "
                               "\"trans_date\": \"2025-01-02\"}]}";
    size_t pad = 25u * 1000 * 1000, inner = 5u * 1000 * 1000;
    size_t len = strlen(head) + 2 * pad + strlen(mid) + 2 * inner + strlen(tail);
    char *body = malloc(len + 1), *p = body;
    assert_non_null(body);
    p += sprintf(p, "%s", head);
    for (size_t i = 0; i < pad; i++, p += 2)
        memcpy(p, "0,", 2);
    p += sprintf(p, "%s", mid);
    for (size_t i = 0; i < inner; i++, p += 2)
        memcpy(p, "0,", 2);
    p += sprintf(p, "%s", tail);
    assert_int_equal((size_t)(p - body), len);
    assert_true(len > 60u * 1000 * 1000 && len < 64u * 1024 * 1024);

    cd_mock_host *m = load_driver("{\"base_url\": \"http://127.0.0.1:1\", \"endpoint\": \"/x\", "
                                  "\"bank_name\": \"B\", \"records_path\": \"data\", " COLUMNS "}");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *cr = fopen("/proc/self/clear_refs", "w"); /* resets VmHWM to VmRSS */
        if (cr) {
            fputs("5", cr);
            fclose(cr);
        }
        long before = proc_status_kb("VmRSS");
#ifndef UNDER_ASAN
        long vm = proc_status_kb("VmSize");
        struct rlimit rl = {.rlim_cur = (rlim_t)(vm + 512 * 1024) * 1024,
                            .rlim_max = (rlim_t)(vm + 512 * 1024) * 1024};
        if (vm > 0)
            setrlimit(RLIMIT_AS, &rl);
#endif
        uint64_t count = 0;
        int rc = bank_api_emit_body(cd_mock_run(m), body, len, &count);
        long grew = proc_status_kb("VmHWM") - before;
        fprintf(stderr, "json page of %zu bytes: rc %d, %llu records, %zu loaded, peak RSS grew "
                        "by %ld kB (%s)\n", len, rc, (unsigned long long)count,
                cd_mock_record_count(m), grew, rc == CD_OK ? "ok" : cd_mock_message(m));
        if (rc != CD_OK || count != 2 || cd_mock_record_count(m) != 2 ||
            strcmp(cd_mock_record_value(m, 1, "amount"), "2.5") != 0)
            _exit(2);
#ifndef UNDER_ASAN
        if (before <= 0 || grew > 64 * 1024)
            _exit(3);
#endif
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the 60 MB page of tiny values failed (%s %d; 2: not read, 3: memory)",
                 WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    cd_mock_free(m);
    free(body);
}

/* Records read as the page streams in, whatever its pieces: records_path
 * through objects (the first of a duplicated key counts, as it did in
 * yajl's tree), mapped keys of the item itself only (not of an object
 * nested in it), the first of a key given twice, null or a nested value
 * as no value, items that are no object as record errors. */
static void test_json_stream_chunks(void **state)
{
    static const char body[] =
        "\xEF\xBB\xBF{\"meta\": {\"next\": \"c1\"}, \"data\": {\"x\": 1, \"rows\": [\n"
        " {\"transaction_id\": \"S1\", \"paid_amount\": 10.10, \"trans_date\": \"2025-01-02\","
        " \"utr\": \"U1\", \"utr\": \"U2\"},\n"
        " {\"transaction_id\": \"S2\", \"paid_amount\": \"2.00\", \"trans_date\": \"2025-01-02\","
        " \"utr\": null, \"nested\": {\"transaction_id\": \"no\", \"a\": [1, {\"b\": []}]}},\n"
        " 7, [1, {\"transaction_id\": \"no\"}],\n"
        " {\"transaction_id\": \"S\\u00e9\", \"paid_amount\": \"3.00\", /* a comment */"
        " \"trans_date\": \"2025-01-02\", \"utr\": {\"x\": 1}, \"utr\": \"U3\", \"\": true}\n"
        " ], \"rows\": [{\"transaction_id\": \"NOT\"}]}, \"data\": {\"rows\": []}}";
    static const size_t chunks[] = {0, 1, 2, 3, 5, 64};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        cd_mock_host *m = load_driver("{\"base_url\": \"http://127.0.0.1:1\", \"endpoint\": \"/x\","
                                      " \"bank_name\": \"B\", \"records_path\": \"data.rows\", "
                                      COLUMNS "}");
        uint64_t count = 0;
        int rc = bank_api_emit_chunks(cd_mock_run(m), body, sizeof body - 1, chunks[i], &count);
        if (rc != CD_OK)
            fail_msg("chunk %zu: %s", chunks[i], cd_mock_message(m));
        assert_int_equal(count, 5);
        assert_int_equal(cd_mock_record_count(m), 3);
        assert_string_equal(cd_mock_record_value(m, 0, "bank_ref"), "S1");
        assert_string_equal(cd_mock_record_value(m, 0, "amount"), "10.10");
        assert_string_equal(cd_mock_record_value(m, 0, "utr"), "U1");
        assert_string_equal(cd_mock_record_value(m, 1, "bank_ref"), "S2");
        assert_null(cd_mock_record_value(m, 1, "utr"));
        assert_string_equal(cd_mock_record_value(m, 2, "bank_ref"), "S\xC3\xA9");
        assert_null(cd_mock_record_value(m, 2, "utr"));
        assert_string_equal(cd_mock_record_ref(m, 2), "page 1 item 5");
        assert_int_equal(cd_mock_record_error_count(m), 2);
        assert_string_equal(cd_mock_record_error_ref(m, 0), "page 1 item 3");
        assert_string_equal(cd_mock_record_error_reason(m, 0), "record is not a JSON object");
        assert_string_equal(cd_mock_record_error_ref(m, 1), "page 1 item 4");
        cd_mock_free(m);
    }
    /* no array at the path: a number, an object, a path through an array,
     * and a key whose first occurrence is no array */
    static const struct {
        const char *path, *body;
    } none[] = {{"data.x", "{\"data\": {\"x\": 1}}"},
                {"data", "{\"data\": {\"x\": []}}"},
                {"data.x", "{\"data\": [{\"x\": []}]}"},
                {"d", "{\"d\": 1, \"d\": [{\"transaction_id\": \"R\"}]}"},
                {"", "{\"d\": []}"}};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        cd_mock_host *m = load_driver("{\"base_url\": \"http://127.0.0.1:1\", \"endpoint\": \"/x\","
                                      " \"records_path\": \"%s\", " COLUMNS "}", none[i].path);
        uint64_t count = 0;
        assert_int_equal(bank_api_emit_chunks(cd_mock_run(m), none[i].body, strlen(none[i].body),
                                              2, &count),
                         CD_ERR_PERMANENT);
        char want[128];
        snprintf(want, sizeof want, "no JSON array at records_path \"%s\" (page 1)", none[i].path);
        assert_string_equal(cd_mock_message(m), want);
        assert_int_equal(cd_mock_record_count(m), 0);
        cd_mock_free(m);
    }
    /* cut short, invalid UTF-8, trailing garbage: malformed, with the byte */
    static const char *const bad[] = {"[{\"transaction_id\": \"R\"", "[\"\xC3\x28\"]", "[] x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cd_mock_host *m = load_endpoint("X");
        uint64_t count = 0;
        assert_int_equal(bank_api_emit_chunks(cd_mock_run(m), bad[i], strlen(bad[i]), 3, &count),
                         CD_ERR_PERMANENT);
        if (strncmp(cd_mock_message(m), "malformed JSON from the bank API (page 1) at byte ", 50))
            fail_msg("%s: %s", bad[i], cd_mock_message(m));
        cd_mock_free(m);
    }
}

/* One long value arriving in 16 KiB pieces: yajl lexes a value that spans
 * pieces again from its start with every piece, so fed as it came, a
 * 32 MB remark took time quadratic in its length (some 2,000 pieces, each
 * read again up to 32 MB). Held back while no value ends, it is read a
 * bounded number of times. */
static void test_json_long_value(void **state)
{
    static const char head[] = "[{\"transaction_id\": \"L1\", \"paid_amount\": \"1.00\", "
                               "\"trans_date\": \"2025-01-02\", \"utr\": \"";
    static const char tail[] = "\"}]";
    size_t n = 32u * 1024 * 1024;
    size_t len = strlen(head) + n + strlen(tail);
    char *body = malloc(len + 1);
    assert_non_null(body);
    memcpy(body, head, strlen(head));
    memset(body + strlen(head), 'u', n);
    memcpy(body + strlen(head) + n, tail, strlen(tail) + 1);
    cd_mock_host *m = load_endpoint("X");
    uint64_t count = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(bank_api_emit_chunks(cd_mock_run(m), body, len, 16384, &count), CD_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "a %zu-byte value in 16 KiB pieces: %.2f s\n", n, s);
    assert_int_equal(cd_mock_record_count(m), 1);
    assert_int_equal(strlen(cd_mock_record_value(m, 0, "utr")), n);
#ifndef UNDER_ASAN
    assert_true(s < 10.0); /* about 0.1 s; quadratic, minutes */
#endif
    cd_mock_free(m);
    free(body);
}

/* The guard against cursor and link loops keeps a fingerprint of every
 * page asked for: at the 1,000,000-page maximum whole SHA-256 digests in a
 * table at most half full took 80 MB (120 MB while it grew). 64 bits a
 * page, and still every repeat is found, with the page it repeats. */
static void test_loop_guard_memory(void **state)
{
    size_t bytes = 0;
    assert_int_equal(bank_api_seen_check(3, 0, &bytes), 0);
    assert_int_equal(bank_api_seen_check(3, 2, &bytes), 2);
    assert_int_equal(bank_api_seen_check(1, 1, &bytes), 1);
    size_t pages = 1000000;
    assert_int_equal(bank_api_seen_check(pages, 0, &bytes), 0);
    fprintf(stderr, "loop guard for %zu pages: %zu bytes\n", pages, bytes);
    assert_true(bytes <= 20 * pages); /* was 84 bytes a page */
    assert_int_equal(bank_api_seen_check(pages, 777777, &bytes), 777777);
    assert_int_equal(bank_api_seen_check(pages, 1, &bytes), 1);
    assert_int_equal(bank_api_seen_check(pages, pages, &bytes), (long)pages);
}

/* yajl reads a \uD800-\uDBFF escape without its \uDC00-\uDFFF half as '?'
 * (or, with another escape after it, as an unrelated character), and a
 * lone low half as bytes no UTF-8 has: the reference or UTR loaded
 * altered. Such a record is a record error naming the key; a whole pair,
 * a lone half in a key no column reads, or quotes and escapes in a comment
 * are no error. Every split reads alike. */
static void test_json_lone_surrogates(void **state)
{
    static const char body[] =
        "[{\"transaction_id\": \"L1\", \"paid_amount\": \"1.00\", \"trans_date\": \"2025-01-02\","
        " \"utr\": \"A\\ud800\"},\n"
        " {\"transaction_id\": \"L2\\uD800\\u0041\", \"paid_amount\": \"1.00\","
        " \"trans_date\": \"2025-01-02\"},\n"
        " /* \" \\ud800 */ // \"\n"
        " {\"transaction_id\": \"L3\", \"paid_amount\": \"1.00\", \"trans_date\": \"2025-01-02\","
        " \"utr\": \"x\\udc00y\"},\n"
        " {\"transaction_id\": \"OK1\", \"paid_amount\": \"1.00\", \"trans_date\": \"2025-01-02\","
        " \"utr\": \"\\ud83d\\ude00\", \"remark\": \"cut \\ud83d\", \"k\\ud800\": 1}]";
    static const size_t chunks[] = {0, 1, 2, 5, 7};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        cd_mock_host *m = load_driver("{\"base_url\": \"http://127.0.0.1:1\", \"endpoint\": \"/x\","
                                      " \"bank_name\": \"B\", " COLUMNS "}");
        uint64_t count = 0;
        int rc = bank_api_emit_chunks(cd_mock_run(m), body, sizeof body - 1, chunks[i], &count);
        if (rc != CD_OK)
            fail_msg("chunk %zu: %s", chunks[i], cd_mock_message(m));
        assert_int_equal(count, 4);
        assert_int_equal(cd_mock_record_error_count(m), 3);
        assert_string_equal(cd_mock_record_error_reason(m, 0),
                            "utr holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without "
                            "its pair)");
        assert_string_equal(cd_mock_record_error_reason(m, 1),
                            "transaction_id holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF "
                            "escape without its pair)");
        assert_string_equal(cd_mock_record_error_ref(m, 2), "page 1 item 3");
        assert_int_equal(cd_mock_record_count(m), 1);
        assert_string_equal(cd_mock_record_value(m, 0, "bank_ref"), "OK1");
        assert_string_equal(cd_mock_record_value(m, 0, "utr"), "\xF0\x9F\x98\x80");
        cd_mock_free(m);
    }
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
        cmocka_unit_test(test_json_page_memory), cmocka_unit_test(test_json_stream_chunks),
        cmocka_unit_test(test_json_long_value),
        cmocka_unit_test(test_loop_guard_memory),
        cmocka_unit_test(test_json_lone_surrogates),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
