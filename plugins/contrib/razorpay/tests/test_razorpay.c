/* test_razorpay.c — the razorpay driver with the SDK's mock host against an
 * in-process mock Razorpay API (tests/mock/mock_razorpay.c) on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <connectord/mockhost.h>

#include "mock_razorpay.h"

const cd_driver_magic *connectord_driver_magic(void);
int connectord_driver_init(const cd_host_api *host, cd_driver_callbacks *callbacks);

typedef struct fixture {
    mock_razorpay *api;
    uint16_t port;
    cd_mock_host *m;
} fixture;

static fixture *start(const mock_razorpay_opts *opts)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->api = mock_razorpay_start(opts, &f->port);
    assert_non_null(f->api);
    f->m = cd_mock_new();
    assert_int_equal(cd_mock_load(f->m, connectord_driver_magic, connectord_driver_init), CD_OK);
    cd_mock_set_window(f->m, "2025-10-02", "2025-10-02", "2025-10-02");
    cd_mock_set_timezone(f->m, "Asia/Kolkata");
    return f;
}

static void stop(fixture *f)
{
    cd_mock_free(f->m);
    mock_razorpay_stop(f->api);
    free(f);
}

static void set_config(fixture *f, const char *key_secret, const char *extra)
{
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"base_url\": \"http://127.0.0.1:%u\", \"key_id\": \"rzp_test_mock\", "
             "\"key_secret\": \"%s\", \"merchant_id\": \"RZPM1\"%s}",
             f->port, key_secret, extra ? extra : "");
    cd_mock_set_config(f->m, cfg);
}

static void test_magic(void **state)
{
    (void)state;
    const cd_driver_magic *mg = connectord_driver_magic();
    assert_string_equal(mg->name, "razorpay");
    assert_int_equal(mg->category, CD_CATEGORY_PG_API);
    assert_int_equal(mg->dataset, CD_DATASET_PG_TRANSACTION);
    assert_int_equal(mg->abi_major, CD_PLUGIN_ABI_MAJOR);
}

static void test_schema_marks_secrets(void **state)
{
    (void)state;
    cd_mock_host *m = cd_mock_new();
    assert_int_equal(cd_mock_load(m, connectord_driver_magic, connectord_driver_init), CD_OK);
    const char *s = cd_mock_callbacks(m)->describe_config();
    assert_non_null(strstr(s, "\"key_id\": {\"type\": \"string\", \"minLength\": 1, \"writeOnly\": true"));
    assert_non_null(strstr(s, "\"key_secret\": {\"type\": \"string\", \"minLength\": 1, \"writeOnly\": true"));
    cd_mock_free(m);
}

static void test_validate(void **state)
{
    (void)state;
    cd_mock_host *m = cd_mock_new();
    assert_int_equal(cd_mock_load(m, connectord_driver_magic, connectord_driver_init), CD_OK);
    cd_mock_set_kind(m, CD_RUN_VALIDATE);
    cd_mock_set_config(m, "{\"key_id\": {\"secret\": \"cred:rzp_id\"}, "
                          "\"key_secret\": {\"secret\": \"env:RZP\"}, \"merchant_id\": \"M\"}");
    assert_int_equal(cd_mock_validate(m), CD_OK);
    cd_mock_reset(m);
    cd_mock_set_config(m, "{\"base_url\": \"ftp://x\", \"key_id\": \"a\", \"page_size\": 500}");
    assert_int_equal(cd_mock_validate(m), CD_ERR_CONFIG);
    assert_true(cd_mock_has_config_error(m, "key_secret"));
    assert_true(cd_mock_has_config_error(m, "merchant_id"));
    assert_true(cd_mock_has_config_error(m, "base_url"));
    assert_true(cd_mock_has_config_error(m, "page_size"));
    cd_mock_free(m);
}

/* 250 payments: three pages (100, 100, 50) and the empty one that ends
 * the listing, every field mapped. */
static void test_run_pages_and_maps(void **state)
{
    (void)state;
    mock_razorpay_opts o = {.payments = 250};
    fixture *f = start(&o);
    set_config(f, "mock_secret", NULL);
    assert_int_equal(cd_mock_run_driver(f->m), CD_OK);
    assert_int_equal(cd_mock_record_count(f->m), 250);
    assert_int_equal(mock_razorpay_requests(f->api), 4);
    char *q = mock_razorpay_last_query(f->api);
    /* 2025-10-02 00:00 IST .. 23:59:59 IST */
    assert_string_equal(q, "from=1759343400&to=1759429799&count=100&skip=250");
    free(q);
    assert_string_equal(cd_mock_record_value(f->m, 0, "transaction_id"), "pay_MOCK000001");
    assert_string_equal(cd_mock_record_value(f->m, 0, "amount_paise"), "10007");
    assert_string_equal(cd_mock_record_value(f->m, 0, "merchant_id"), "RZPM1");
    assert_string_equal(cd_mock_record_value(f->m, 0, "transaction_date"), "2025-10-02");
    assert_string_equal(cd_mock_record_value(f->m, 0, "transaction_timestamp"),
                        "2025-10-01T18:30:37Z");
    assert_string_equal(cd_mock_record_value(f->m, 0, "payment_method"), "upi");
    assert_string_equal(cd_mock_record_value(f->m, 0, "rrn"), "000400000001");
    assert_string_equal(cd_mock_record_value(f->m, 0, "gateway_ref"), "order_MOCK000001");
    assert_string_equal(cd_mock_record_value(f->m, 0, "status"), "SUCCESS");
    assert_string_equal(cd_mock_record_value(f->m, 0, "bank_fee_paise"), "200");
    assert_string_equal(cd_mock_record_value(f->m, 0, "settlement_amount_paise"), "9807");
    assert_string_equal(cd_mock_record_value(f->m, 0, "source_name"), "RAZORPAY");
    assert_null(cd_mock_record_value(f->m, 2, "rrn")); /* netbanking */
    assert_string_equal(cd_mock_record_value(f->m, 9, "status"), "FAILED");
    assert_string_equal(cd_mock_detail(f->m, "pages"), "3");
    stop(f);
}

/* Exactly a full page: one more (empty) page ends the listing. */
static void test_run_exact_page(void **state)
{
    (void)state;
    mock_razorpay_opts o = {.payments = 100};
    fixture *f = start(&o);
    set_config(f, "mock_secret", NULL);
    assert_int_equal(cd_mock_run_driver(f->m), CD_OK);
    assert_int_equal(cd_mock_record_count(f->m), 100);
    assert_int_equal(mock_razorpay_requests(f->api), 2);
    stop(f);
}

/* An API that sends 30 when 100 were asked: short pages are not the last,
 * and skip moves by the 30 received. */
static void test_run_capped_pages(void **state)
{
    (void)state;
    mock_razorpay_opts o = {.payments = 250, .page_cap = 30};
    fixture *f = start(&o);
    set_config(f, "mock_secret", NULL);
    assert_int_equal(cd_mock_run_driver(f->m), CD_OK);
    assert_int_equal(cd_mock_record_count(f->m), 250);
    assert_string_equal(cd_mock_record_value(f->m, 30, "transaction_id"), "pay_MOCK000031");
    assert_string_equal(cd_mock_record_value(f->m, 249, "transaction_id"), "pay_MOCK000250");
    /* nine pages (eight of 30, one of 10), then the empty one */
    assert_int_equal(mock_razorpay_requests(f->api), 10);
    char *q = mock_razorpay_last_query(f->api);
    assert_string_equal(q, "from=1759343400&to=1759429799&count=100&skip=250");
    free(q);
    assert_string_equal(cd_mock_detail(f->m, "pages"), "9");
    stop(f);
}

static void test_wrong_key_is_config_error_and_secret_not_shown(void **state)
{
    (void)state;
    mock_razorpay_opts o = {.payments = 5};
    fixture *f = start(&o);
    set_config(f, "not-the-secret", NULL);
    assert_int_equal(cd_mock_run_driver(f->m), CD_ERR_CONFIG);
    const char *msg = cd_mock_message(f->m);
    assert_non_null(strstr(msg, "HTTP 401"));
    assert_null(strstr(msg, "not-the-secret"));
    for (size_t i = 0; i < cd_mock_log_count(f->m); i++)
        assert_null(strstr(cd_mock_log_line(f->m, i), "not-the-secret"));
    stop(f);
}

static void test_server_error_is_transient(void **state)
{
    (void)state;
    mock_razorpay_opts o = {.payments = 5, .fail_first = 1};
    fixture *f = start(&o);
    set_config(f, "mock_secret", NULL);
    assert_int_equal(cd_mock_run_driver(f->m), CD_ERR_TRANSIENT);
    stop(f);
}

static void test_rate_limit_keeps_retry_after(void **state)
{
    (void)state;
    mock_razorpay_opts o = {.payments = 5, .fail_first = 1, .fail_status = 429};
    fixture *f = start(&o);
    set_config(f, "mock_secret", NULL);
    assert_int_equal(cd_mock_run_driver(f->m), CD_ERR_TRANSIENT);
    assert_non_null(strstr(cd_mock_message(f->m), "HTTP 429"));
    const char *d = cd_mock_detail(f->m, "retry_after_seconds");
    assert_non_null(d);
    assert_string_equal(d, "120");
    stop(f);
}

static void test_bad_item_is_record_error(void **state)
{
    (void)state;
    mock_razorpay_opts o = {.payments = 5, .bad_item = 1};
    fixture *f = start(&o);
    set_config(f, "mock_secret", NULL);
    assert_int_equal(cd_mock_run_driver(f->m), CD_OK);
    assert_int_equal(cd_mock_record_count(f->m), 4);
    assert_int_equal(cd_mock_record_error_count(f->m), 1);
    assert_string_equal(cd_mock_record_error_ref(f->m, 0), "page 1 item 2");
    stop(f);
}

static void test_cancel_between_pages(void **state)
{
    (void)state;
    mock_razorpay_opts o = {.payments = 250};
    fixture *f = start(&o);
    set_config(f, "mock_secret", ", \"page_size\": 10");
    cd_mock_cancel_after_records(f->m, 25);
    assert_int_equal(cd_mock_run_driver(f->m), CD_CANCELLED);
    assert_true(mock_razorpay_requests(f->api) <= 4);
    stop(f);
}

static void test_test_callback(void **state)
{
    (void)state;
    mock_razorpay_opts o = {.payments = 5};
    fixture *f = start(&o);
    set_config(f, "mock_secret", NULL);
    assert_int_equal(cd_mock_test(f->m), CD_OK);
    assert_int_equal(cd_mock_record_count(f->m), 0);
    long s = cd_mock_find_step(f->m, "payments API");
    assert_true(s >= 0);
    assert_true(cd_mock_step_passed(f->m, (size_t)s));
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_magic),
        cmocka_unit_test(test_schema_marks_secrets),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_run_pages_and_maps),
        cmocka_unit_test(test_run_exact_page),
        cmocka_unit_test(test_run_capped_pages),
        cmocka_unit_test(test_wrong_key_is_config_error_and_secret_not_shown),
        cmocka_unit_test(test_server_error_is_transient),
        cmocka_unit_test(test_rate_limit_keeps_retry_after),
        cmocka_unit_test(test_bad_item_is_record_error),
        cmocka_unit_test(test_cancel_between_pages),
        cmocka_unit_test(test_test_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
