/*
 * test_notify_slack.c — a Slack message Slack accepts: no section text
 * over 3000 characters and no more than 50 blocks, however many connectors
 * a daily digest lists; nothing of the text lost or cut inside a character
 * or an escaped entity while it fits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "notify.h"

/* A digest of n connectors, each named with an escape and a non-ASCII
 * character so that cuts have something to break. */
static json_t *slack_digest(size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "Bank <%05zu> & Société", i);
        json_array_append_new(list, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i}", "connector",
                                              name, "runs", 1, "succeeded", 1, "failed", 0,
                                              "records_loaded", 100, "records_failed", 0,
                                              "late_days", 0));
    }
    json_t *payload = json_pack("{s:s, s:s, s:o}", "date", "2026-03-09", "timezone",
                                "Asia/Kolkata", "connectors", list);
    cd_notify_msg m = {.notification_id = 1, .delivery_id = 2, .kind = "DIGEST",
                       .payload = payload, .created_at = "2026-03-10T00:00:00Z"};
    char *body = cd_notify_slack_body(&m);
    json_decref(payload);
    json_error_t e;
    json_t *o = json_loads(body, 0, &e);
    if (!o)
        fail_msg("not JSON: %s", e.text);
    free(body);
    return o;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Every section within Slack's limits; returns the sections' texts joined. */
static char *check_blocks(const json_t *o, size_t *nblocks)
{
    const json_t *blocks = json_object_get(o, "blocks");
    assert_true(json_is_array(blocks));
    *nblocks = json_array_size(blocks);
    assert_true(*nblocks <= 50);
    size_t cap = 1, len = 0;
    char *all = calloc(1, cap);
    assert_non_null(all);
    size_t i;
    const json_t *b;
    json_array_foreach(blocks, i, b) {
        const char *t = json_string_value(json_object_get(json_object_get(b, "text"), "text"));
        assert_non_null(t);
        if (utf8_chars(t) > 3000)
            fail_msg("block %zu has %zu characters", i, utf8_chars(t));
        /* never cut inside an escaped entity: each & starts a whole one */
        for (const char *p = strchr(t, '&'); p; p = strchr(p + 1, '&'))
            if (strncmp(p, "&amp;", 5) != 0 && strncmp(p, "&lt;", 4) != 0 &&
                strncmp(p, "&gt;", 4) != 0)
                fail_msg("block %zu cuts an entity: %.10s", i, p);
        size_t n = strlen(t);
        all = realloc(all, cap = len + n + 1);
        assert_non_null(all);
        memcpy(all + len, t, n + 1);
        len += n;
    }
    return all;
}

static void test_a_big_digest_is_split_and_whole(void **state)
{
    (void)state;
    json_t *o = slack_digest(300);
    size_t n;
    char *all = check_blocks(o, &n);
    assert_true(n > 1);
    /* every connector is there, in order */
    const char *p = all;
    for (size_t i = 0; i < 300; i++) {
        char want[64];
        snprintf(want, sizeof want, "Bank &lt;%05zu&gt; &amp; Société", i);
        p = strstr(p, want);
        if (!p)
            fail_msg("connector %zu missing or out of order", i);
    }
    free(all);
    json_decref(o);
}

static void test_a_huge_digest_says_what_is_left_out(void **state)
{
    (void)state;
    json_t *o = slack_digest(3000);
    size_t n;
    char *all = check_blocks(o, &n);
    assert_int_equal(n, 50);
    assert_non_null(strstr(all, "more lines not shown: see the ops page."));
    free(all);
    json_decref(o);
}

static void test_a_small_alert_is_one_section(void **state)
{
    (void)state;
    json_t *o = slack_digest(2);
    size_t n;
    char *all = check_blocks(o, &n);
    assert_int_equal(n, 1);
    free(all);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_big_digest_is_split_and_whole),
        cmocka_unit_test(test_a_huge_digest_says_what_is_left_out),
        cmocka_unit_test(test_a_small_alert_is_one_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
