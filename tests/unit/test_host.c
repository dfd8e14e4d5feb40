/* test_host.c — what the host does with text and values a driver hands in,
 * without a database: secrets are scrubbed before text is cut to its
 * bound, a cursor is stored as given or refused, and a file recorded
 * LOADED is known by its exact name, newline and all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"
#include "host_files.h"

static const char secret[] = "SUPERSECRETTOKEN1234567890";

static int setup(void **state)
{
    cd_run *run = calloc(1, sizeof *run);
    assert_non_null(run);
    cd_run_init(run);
    run->channel_fd = -1;
    run->info.connector_id = 1;
    run->secrets = cd_secret_set_new();
    cd_secret_set_add(run->secrets, secret, strlen(secret));
    *state = run;
    return 0;
}

static int teardown(void **state)
{
    cd_run *run = *state;
    cd_run_release(run);
    cd_host_files_release(run);
    cd_secret_set_free(run->secrets);
    free(run->cursor_new);
    free(run);
    return 0;
}

static void test_a_secret_across_the_cut_is_not_left_as_its_prefix(void **state)
{
    cd_run *run = *state;
    /* The message bound is 2000 bytes: the secret starts 10 before it. */
    char pad[1991];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    cd_host_table.set_message(run, "%s%s", pad, secret);
    assert_non_null(run->message);
    assert_true(strlen(run->message) <= 2000);
    assert_null(strstr(run->message, "SUPERSE"));
    assert_null(strstr(run->message, "SECRET"));
    /* Whole and short, it is masked as always. */
    cd_host_table.set_message(run, "token %s refused", secret);
    assert_string_equal(run->message, "token ******** refused");
}

static void test_a_cursor_is_stored_as_given_or_refused(void **state)
{
    cd_run *run = *state;
    assert_int_equal(cd_host_table.cursor_set(run, "2026-03-10T05:00:00+05:30|42"), CD_OK);
    assert_string_equal(run->cursor_new, "2026-03-10T05:00:00+05:30|42");
    assert_int_equal(run->cursor_dirty, 1);

    char *longest = malloc(CD_CURSOR_MAX + 2);
    memset(longest, 'c', CD_CURSOR_MAX + 1);
    longest[CD_CURSOR_MAX] = '\0';
    assert_int_equal(cd_host_table.cursor_set(run, longest), CD_OK); /* exactly the bound */
    assert_int_equal(strlen(run->cursor_new), CD_CURSOR_MAX);
    longest[CD_CURSOR_MAX] = 'c';
    longest[CD_CURSOR_MAX + 1] = '\0';
    assert_int_equal(cd_host_table.cursor_set(run, longest), CD_ERR_PERMANENT);
    assert_int_equal(strlen(run->cursor_new), CD_CURSOR_MAX); /* kept, not cut */
    free(longest);

    assert_int_equal(cd_host_table.cursor_set(run, "pos=\xff\xfe|42"), CD_ERR_PERMANENT);
    assert_int_equal(strlen(run->cursor_new), CD_CURSOR_MAX); /* not mended into "pos=??|42" */
}

static void test_a_loaded_file_is_known_by_a_name_with_a_newline(void **state)
{
    cd_run *run = *state;
    const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    cd_file_info f = {(uint32_t)sizeof f, "/in/a\nb.csv", 10, 1700000000, sha};
    assert_int_equal(cd_host_table.file_record(run, &f, "LOADED", 3, NULL), CD_OK);
    /* This run's own LOADED files are answered from memory: no database. */
    cd_file_state st = CD_FILE_NEW;
    assert_int_equal(cd_host_table.file_lookup(run, &f, &st), CD_OK);
    assert_int_equal(st, CD_FILE_LOADED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_secret_across_the_cut_is_not_left_as_its_prefix,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_cursor_is_stored_as_given_or_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_loaded_file_is_known_by_a_name_with_a_newline,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
