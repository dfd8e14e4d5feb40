/* test_hello.c — unit test of hello.c with the SDK's mock host. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <connectord/mockhost.h>

/* The two entry points hello.c exports through CONNECTORD_DRIVER. */
const cd_driver_magic *connectord_driver_magic(void);
int connectord_driver_init(const cd_host_api *host, cd_driver_callbacks *callbacks);

static void test_run_emits_one_line(void **state)
{
    (void)state;
    cd_mock_host *m = cd_mock_new();
    assert_int_equal(cd_mock_load(m, connectord_driver_magic, connectord_driver_init), CD_OK);
    cd_mock_set_window(m, "2025-10-02", "2025-10-02", "2025-10-02");
    assert_int_equal(cd_mock_run_driver(m), CD_OK);
    assert_int_equal(cd_mock_record_count(m), 1);
    assert_string_equal(cd_mock_record_value(m, 0, "bank_ref"), "HELLO-2025-10-02");
    assert_string_equal(cd_mock_record_value(m, 0, "amount_paise"), "100");
    cd_mock_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_run_emits_one_line)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
