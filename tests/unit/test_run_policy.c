/*
 * test_run_policy.c — the small rules around runs that need no database:
 * the retry delay (exponential, capped, jittered differently in each process,
 * Retry-After honoured up to the cap),
 * durations in the configuration, and how driver text is made safe to store
 * (valid UTF-8, no NUL, bounded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "host.h"
#include "run_policy.h"
#include "runs.h"
#include "templates.h"
#include "duration.h"

static void retry_delay_doubles_within_jitter(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        double d1 = cd_retry_delay(1, 60, 3600, 0);
        double d2 = cd_retry_delay(2, 60, 3600, 0);
        double d4 = cd_retry_delay(4, 60, 3600, 0);
        assert_true(d1 >= 45 && d1 <= 75);
        assert_true(d2 >= 90 && d2 <= 150);
        assert_true(d4 >= 360 && d4 <= 600);
    }
}

static void retry_delay_is_capped(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        double d = cd_retry_delay(30, 60, 3600, 0);
        assert_true(d >= 2700 && d <= 4500);
    }
}

static void retry_delay_honours_retry_after(void **state)
{
    (void)state;
    for (int i = 0; i < 50; i++)
        assert_true(cd_retry_delay(1, 1, 3600, 120) >= 120);
    /* but no further than the cap: a year-long Retry-After parks nothing */
    assert_true(cd_retry_delay(1, 1, 3600, 31536000) == 3600);
}

/* Each runner is a fresh process (or a fork of the zygote): their first
 * delays must differ, or connectors that failed together retry together. */
static void retry_jitter_differs_between_processes(void **state)
{
    (void)state;
    double first[4];
    for (int k = 0; k < 4; k++) {
        int fd[2];
        assert_int_equal(pipe(fd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            double d = cd_retry_delay(1, 60, 3600, 0);
            ssize_t w = write(fd[1], &d, sizeof d);
            _exit(w == (ssize_t)sizeof d ? 0 : 1);
        }
        close(fd[1]);
        assert_int_equal(read(fd[0], &first[k], sizeof first[k]), (ssize_t)sizeof first[k]);
        close(fd[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        assert_int_equal(status, 0);
    }
    assert_false(first[0] == first[1] && first[1] == first[2] && first[2] == first[3]);
}

static void retry_delays_are_spread(void **state)
{
    (void)state;
    double lo = 1e9, hi = 0;
    for (int i = 0; i < 500; i++) {
        double d = cd_retry_delay(3, 60, 3600, 0);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    /* Connectors that failed together must not all come back together. */
    assert_true(hi - lo > 30);
}

static void durations_parse(void **state)
{
    (void)state;
    assert_int_equal(cd_parse_duration("48h"), 48 * 3600);
    assert_int_equal(cd_parse_duration("90"), 90);
    assert_int_equal(cd_parse_duration("30m"), 1800);
    assert_int_equal(cd_parse_duration("2d"), 172800);
    assert_int_equal(cd_parse_duration("15s"), 15);
    assert_int_equal(cd_parse_duration(""), -1);
    assert_int_equal(cd_parse_duration("h"), -1);
    assert_int_equal(cd_parse_duration("-5m"), -1);
    assert_int_equal(cd_parse_duration("5 weeks"), -1);
    assert_int_equal(cd_parse_duration("99999999999999999999d"), -1);
    assert_int_equal(cd_parse_duration(NULL), -1);
}

static void utf8_clean_keeps_valid_text(void **state)
{
    (void)state;
    const char *s = "₹ 1,00,000 — ok";
    char *c = cd_utf8_clean(s, strlen(s), 1000);
    assert_string_equal(c, s);
    free(c);
}

static void utf8_clean_replaces_bad_bytes_and_nul(void **state)
{
    (void)state;
    const char raw[] = {'a', '\xff', 'b', '\0', 'c', '\xc3', '\x28', '\xed', '\xa0', '\x80', 'd'};
    char *c = cd_utf8_clean(raw, sizeof raw, 1000);
    /* 0xff, NUL, a truncated 2-byte start, a UTF-16 surrogate (3 bytes) */
    assert_string_equal(c, "a?b?c?(???d");
    free(c);
}

static void utf8_clean_truncates_on_a_character_boundary(void **state)
{
    (void)state;
    const char *s = "ab₹cd"; /* ₹ is 3 bytes */
    char *c = cd_utf8_clean(s, strlen(s), 4);
    assert_string_equal(c, "ab");
    free(c);
    c = cd_utf8_clean(s, strlen(s), 5);
    assert_string_equal(c, "ab₹");
    free(c);
}

/* A driver schema that allows no other keys takes the run policy's, with
 * the service's defaults replacing the driver's own. */
static void policy_keys_join_every_driver_schema(void **state)
{
    (void)state;
    json_t *s = json_loads("{\"type\": \"object\", \"additionalProperties\": false,"
                           " \"properties\": {\"host\": {\"type\": \"string\"},"
                           " \"auto_retry\": {\"type\": \"boolean\", \"default\": true}}}",
                           0, NULL);
    cd_run_policy_schema_merge(s);
    json_t *p = json_object_get(s, "properties");
    assert_non_null(json_object_get(p, "host"));
    assert_true(json_is_false(json_object_get(json_object_get(p, "auto_retry"), "default")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "retry_count"), "maximum")), 10);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "retry_count"), "default")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "sync_days_back"), "default")), 1);
    json_decref(s);
    /* a schema without properties gets them; one that is not an object is left */
    s = json_loads("{\"type\": \"object\"}", 0, NULL);
    cd_run_policy_schema_merge(s);
    assert_non_null(json_object_get(json_object_get(s, "properties"), "sync_days_back"));
    json_decref(s);
    s = json_string("x");
    cd_run_policy_schema_merge(s);
    assert_string_equal(json_string_value(s), "x");
    json_decref(s);
}

/* template_format is the named template's or nothing: a stored one is
 * dropped even when the connector names no template. */
static void stored_template_format_is_never_used(void **state)
{
    (void)state;
    json_t *schema = json_loads("{\"properties\": {\"template_format\": {}}}", 0, NULL);
    json_t *cfg = json_loads("{\"format\": {\"type\": \"csv\"},"
                             " \"template_format\": {\"type\": \"xlsx\"}}", 0, NULL);
    cd_templates_inject(NULL, schema, cfg);
    assert_null(json_object_get(cfg, "template_format"));
    assert_non_null(json_object_get(cfg, "format"));
    json_decref(cfg);
    json_decref(schema);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retry_delay_doubles_within_jitter),
        cmocka_unit_test(retry_delay_is_capped),
        cmocka_unit_test(retry_delay_honours_retry_after),
        cmocka_unit_test(retry_jitter_differs_between_processes),
        cmocka_unit_test(retry_delays_are_spread),
        cmocka_unit_test(durations_parse),
        cmocka_unit_test(utf8_clean_keeps_valid_text),
        cmocka_unit_test(utf8_clean_replaces_bad_bytes_and_nul),
        cmocka_unit_test(utf8_clean_truncates_on_a_character_boundary),
        cmocka_unit_test(policy_keys_join_every_driver_schema),
        cmocka_unit_test(stored_template_format_is_never_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
