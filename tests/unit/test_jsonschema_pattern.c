/*
 * test_jsonschema_pattern.c — the translation of JSON Schema "pattern"
 * (ECMA-262) to POSIX for regcomp: what POSIX would read differently, or
 * what would make regcomp's memory explode, is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jsonschema.h"

static void expect_posix(const char *ecma, const char *posix)
{
    char *got = cd_jsonschema_posix_pattern(ecma);
    if (!posix) {
        if (got)
            fail_msg("%s was translated to %s, expected a refusal", ecma, got);
        return;
    }
    if (!got)
        fail_msg("%s was refused, expected %s", ecma, posix);
    assert_string_equal(got, posix);
    free(got);
}

static void test_escapes_in_brackets(void **state)
{
    (void)state;
    expect_posix("^[a-z]+$", "^[a-z]+$");
    expect_posix("[\\]a]", "[]a]");      /* "]" first: literal in POSIX too */
    expect_posix("[^\\]a]", "[^]a]");
    expect_posix("[a\\-]", "[a-]");      /* "-" last: literal */
    /* Mid-bracket, POSIX would end the bracket at "]" or read a range. */
    expect_posix("[a\\]b]", NULL);
    expect_posix("[a\\-z]", NULL);
}

static void test_stacked_quantifiers(void **state)
{
    (void)state;
    expect_posix("a++", NULL);
    expect_posix("a+?", "a+");
    expect_posix("(a{99}){101}", NULL);
    /* Found by fuzz_api_body: an escaped "]" inside a bracket used to let
     * the stacked "+" after it through to regcomp, which then took
     * gigabytes. */
    expect_posix("[^\\fd[\\]\\]\\fals+++++++++e\\]\\]", NULL);
}

static void test_refused_pattern_is_a_field_error(void **state)
{
    (void)state;
    json_t *schema = json_pack("{s:s, s:s}", "type", "string", "pattern", "[a\\]b+++]");
    json_t *value = json_string("ab");
    json_t *errors = json_array();
    cd_jsonschema_validate(schema, value, "x", errors);
    assert_int_equal(json_array_size(errors), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "x");
    json_decref(errors);
    json_decref(value);
    json_decref(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_in_brackets),
        cmocka_unit_test(test_stacked_quantifiers),
        cmocka_unit_test(test_refused_pattern_is_a_field_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
