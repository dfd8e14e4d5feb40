/*
 * driver_test.h — what the cmocka tests of every driver share: a mock host
 * (connectord/mockhost.h) with the driver under test loaded and a
 * configuration set, and the check that a configuration is refused with an
 * error naming the field at fault.
 *
 * Include after <cmocka.h>. The test is linked with one driver, whose
 * connectord_driver_magic and connectord_driver_init these call.
 */
#ifndef CD_DRIVER_TEST_H
#define CD_DRIVER_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <connectord/mockhost.h>
#include <connectord/plugin.h>

const cd_driver_magic *connectord_driver_magic(void);
int connectord_driver_init(const cd_host_api *host, cd_driver_callbacks *cb);

/* A mock host with the driver loaded and, unless fmt is NULL, the
 * configuration JSON that fmt and its arguments make. */
__attribute__((format(printf, 1, 2), unused)) static cd_mock_host *load_driver(const char *fmt,
                                                                                ...)
{
    cd_mock_host *m = cd_mock_new();
    assert_non_null(m);
    assert_int_equal(cd_mock_load(m, connectord_driver_magic, connectord_driver_init), CD_OK);
    if (fmt) {
        va_list ap;
        char *cfg = NULL;
        va_start(ap, fmt);
        assert_true(vasprintf(&cfg, fmt, ap) >= 0);
        va_end(ap);
        cd_mock_set_config(m, cfg);
        free(cfg);
    }
    return m;
}

/* Asserts that validate refuses cfg with a configuration error on field. */
__attribute__((unused)) static void expect_invalid(const char *cfg, const char *field)
{
    cd_mock_host *m = load_driver("%s", cfg);
    assert_int_equal(cd_mock_validate(m), CD_ERR_CONFIG);
    if (!cd_mock_has_config_error(m, field))
        fail_msg("no config error on %s for %s", field, cfg);
    cd_mock_free(m);
}

#endif
