/* test_paths.c — where state goes: systemd's StateDirectory when the
 * service runs under it, else the install prefix's var/lib. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "paths.h"

static void test_state_directory_of_systemd_first(void **state)
{
    (void)state;
    setenv("STATE_DIRECTORY", "/var/lib/connectord:/var/lib/other", 1);
    char *p = cd_path_state("work");
    assert_string_equal(p, "/var/lib/connectord/work");
    free(p);
    /* A relative value is not systemd's: the prefix decides. */
    setenv("STATE_DIRECTORY", "relative", 1);
    p = cd_path_state("work");
    assert_non_null(strstr(p, "/var/lib/connectord/work"));
    assert_true(p[0] == '/');
    free(p);
    unsetenv("STATE_DIRECTORY");
}

static void test_without_systemd_the_prefix_var_lib(void **state)
{
    (void)state;
    unsetenv("STATE_DIRECTORY");
    char *p = cd_path_state("work");
    char *prefix = cd_path_from_prefix("var/lib/connectord/work");
    /* This test binary is not installed under /usr: its prefix's var/lib. */
    assert_string_equal(p, prefix);
    free(p);
    free(prefix);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_directory_of_systemd_first),
        cmocka_unit_test(test_without_systemd_the_prefix_var_lib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
