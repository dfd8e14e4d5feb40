/*
 * test_db.c — what database errors keep and drop before they reach a log
 * or a client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db.h"
#include "util.h"

static void dropped(const char *in, const char *want)
{
    char *m = cd_xstrdup(in);
    cd_db_drop_failing_row(m);
    assert_string_equal(m, want);
    free(m);
}

static void failing_row_details_are_dropped(void **state)
{
    (void)state;
    dropped("ERROR:  null value in column \"name\" violates not-null constraint\n"
            "DETAIL:  Failing row contains (7, null, {\"password\": \"hunter2\"}).",
            "ERROR:  null value in column \"name\" violates not-null constraint");
    dropped("ERROR:  new row violates check constraint \"c\"\n"
            "DETAIL:  Failing row contains (1, x).\nHINT:  fix it",
            "ERROR:  new row violates check constraint \"c\"\nHINT:  fix it");
    dropped("DETAIL:  Failing row contains (secret)", "");
}

static void other_messages_are_kept(void **state)
{
    (void)state;
    dropped("ERROR:  duplicate key value violates unique constraint \"u\"\n"
            "DETAIL:  Key (id)=(1) already exists.",
            "ERROR:  duplicate key value violates unique constraint \"u\"\n"
            "DETAIL:  Key (id)=(1) already exists.");
    dropped("", "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(failing_row_details_are_dropped),
        cmocka_unit_test(other_messages_are_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
