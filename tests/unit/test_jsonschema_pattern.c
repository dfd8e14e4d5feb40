/*
 * test_jsonschema_pattern.c — the translation of JSON Schema "pattern"
 * (ECMA-262) to POSIX for regcomp: what POSIX would read differently, or
 * what would make regcomp's memory explode, is refused. Also the validator's
 * local "$ref": followed, dangling, looping.
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
    char *got = cd_jsonschema_posix_pattern(ecma, NULL);
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

/* A refusal must name the rule, and the pattern must have been refused by
 * that rule rather than by an earlier one. */
static void expect_refused(const char *ecma, const char *why_part)
{
    const char *why = NULL;
    char *got = cd_jsonschema_posix_pattern(ecma, &why);
    if (got)
        fail_msg("%s was translated to %s, expected a refusal", ecma, got);
    if (!why || !strstr(why, why_part))
        fail_msg("%s was refused because \"%s\", expected \"%s\"", ecma, why ? why : "(null)",
                 why_part);
}

static void test_nested_repeats(void **state)
{
    (void)state;
    /* Each group's quantifier used to see only the ")" before it. regcomp
     * took over 3 GB on the first one. */
    expect_refused("(((a{99}){99}){99}){99}", "more than 1000 copies");
    expect_refused("(a{99}){99}", "more than 1000 copies");
    expect_refused("((a{10}){10}){11}", "more than 1000 copies");
    expect_refused("((((((((((a+)+)+)+)+)+)+)+)+)+)+", "more than 1000 copies");
    expect_refused("(a{50}|b){21}", "more than 1000 copies");
    expect_refused("(x|(a{50}b)){21}", "more than 1000 copies");
    expect_refused("(a{2,50}){21}", "more than 1000 copies");
    expect_refused("(a{49,}){21}", "more than 1000 copies");
    /* Under the product, but too many elements in all once unrolled. */
    expect_refused("((abcdefghijklmnopqrstu){10}){100}", "20000 elements");
    expect_refused("(a{100}b{100}c{100}d{100}e{100}f{100}g{100}h{100}i{100}j{100}k{100}"
                   "l{100}m{100}n{100}o{100}p{100}q{100}r{100}s{100}t{100}u{100}){10}",
                   "20000 elements");
    expect_posix("(a{100}b{100}c{100}d{100}e{100}f{100}g{100}h{100}i{100}j{100}){10}",
                 "(a{100}b{100}c{100}d{100}e{100}f{100}g{100}h{100}i{100}j{100}){10}");
    /* Up to the budget, nested repeats stay accepted. */
    expect_posix("((a{10}){10}){10}", "((a{10}){10}){10}");
    expect_posix("(a{99}){10}", "(a{99}){10}");
    expect_posix("(a{50}|b){20}", "(a{50}|b){20}");
    expect_posix("^([a-z]+,)*[a-z]+$", "^([a-z]+,)*[a-z]+$");
    expect_posix("^(env|file|cred):.+", "^(env|file|cred):.+");
    expect_posix("^SHA256:[A-Za-z0-9+/]{43}=?$", "^SHA256:[A-Za-z0-9+/]{43}=?$");
    expect_posix("((((((((((a*)*)*)*)*)*)*)*)*)*)*", "((((((((((a*)*)*)*)*)*)*)*)*)*)*");
    /* Sibling groups are not nested: their counts do not multiply. */
    expect_posix("(a{99})(b{99})(c{99})", "(a{99})(b{99})(c{99})");
    /* A group closed by ")" is not followed by the quantifier of its
     * content: the stacked check still sees "a{2}{3}" but not "(a{2}){3}". */
    expect_refused("a{2}{3}", "stacks");
    expect_posix("(a{2}){3}", "(a{2}){3}");
}

static void test_parentheses_that_are_not_groups(void **state)
{
    (void)state;
    /* Escaped parentheses are literal: "\(a{99}\)" is not a group, so
     * the {99} after it repeats only the ")". */
    expect_posix("(\\(a{99}\\){9})", "(\\(a{99}\\){9})");
    expect_refused("(\\(a{99}){99}", "more than 1000 copies");
    /* Parentheses inside brackets are members, not groups: "[(]" does not
     * open one, so the repeats below are not nested... */
    expect_posix("[(]a{99}[)]{99}", "[(]a{99}[)]{99}");
    expect_posix("[)(]{99}", "[)(]{99}");
    /* ...and a "]" or ")" inside a bracket does not close the group around
     * it. */
    expect_refused("([)]a{99}){99}", "more than 1000 copies");
    expect_refused("([]()]a{99}){99}", "more than 1000 copies");
    expect_refused("([^)]a{99}){99}", "more than 1000 copies");
    /* A stray ")" is literal in POSIX ERE: it neither closes a group that
     * is not open nor makes the next quantifier repeat one. */
    expect_refused(")(a{99}){99}", "more than 1000 copies");
    expect_posix("((a{99}))){99}", "((a{99}))){99}");
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

static void test_nested_refusal_message(void **state)
{
    (void)state;
    json_t *schema =
        json_pack("{s:s, s:s}", "type", "string", "pattern", "(((a{99}){99}){99}){99}");
    json_t *value = json_string("a");
    json_t *errors = json_array();
    assert_int_equal(cd_jsonschema_validate(schema, value, "x", errors), 1);
    const char *msg = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
    assert_non_null(strstr(msg, "refuses (repeats nested in groups multiply to more than 1000 copies)"));
    json_decref(errors);
    json_decref(value);
    json_decref(schema);
}

/* Errors of validating the JSON text value against the JSON text schema,
 * as one string "field: message; ..." (owned by the caller). */
static char *errors_of(const char *schema_text, const char *value_text, int *count)
{
    json_t *schema = json_loads(schema_text, 0, NULL);
    json_t *value = json_loads(value_text, 0, NULL);
    assert_non_null(schema);
    assert_non_null(value);
    json_t *errors = json_array();
    *count = cd_jsonschema_validate(schema, value, "connection_config", errors);
    size_t n = 1;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
        n += strlen(json_string_value(json_object_get(e, "field"))) +
             strlen(json_string_value(json_object_get(e, "message"))) + 4;
    char *out = calloc(1, n);
    assert_non_null(out);
    json_array_foreach(errors, i, e) {
        strcat(out, json_string_value(json_object_get(e, "field")));
        strcat(out, ": ");
        strcat(out, json_string_value(json_object_get(e, "message")));
        strcat(out, "; ");
    }
    json_decref(errors);
    json_decref(value);
    json_decref(schema);
    return out;
}

/* A field declared through a local "$ref" is held to what it points at; a
 * "$ref" that points nowhere is an error naming the field, and "$ref"s
 * that loop without consuming the value end in bounded time with one
 * error, not an API thread busy for ever. */
static void test_local_refs(void **state)
{
    (void)state;
    const char *schema = "{\"type\": \"object\", \"$defs\": {\"secret\": {\"type\": \"string\"}},"
                         " \"properties\": {\"shared\": {\"$ref\": \"#/$defs/secret\"},"
                         " \"lost\": {\"$ref\": \"#/$defs/nothing\"}}}";
    int n;
    char *got = errors_of(schema, "{\"shared\": \"abc\"}", &n);
    assert_int_equal(n, 0);
    free(got);
    got = errors_of(schema, "{\"shared\": 12345}", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(got, "connection_config.shared: "));
    free(got);
    got = errors_of(schema, "{\"lost\": 1}", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(got, "connection_config.lost: "));
    assert_non_null(strstr(got, "$ref"));
    free(got);
    /* Each level doubles: 2^64 visits unbounded. */
    got = errors_of("{\"anyOf\": [{\"$ref\": \"#\"}, {\"$ref\": \"#\"}]}", "{}", &n);
    assert_true(n >= 1);
    assert_non_null(strstr(got, "too complex"));
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escapes_in_brackets),
        cmocka_unit_test(test_stacked_quantifiers),
        cmocka_unit_test(test_refused_pattern_is_a_field_error),
        cmocka_unit_test(test_nested_repeats),
        cmocka_unit_test(test_parentheses_that_are_not_groups),
        cmocka_unit_test(test_nested_refusal_message),
        cmocka_unit_test(test_local_refs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
