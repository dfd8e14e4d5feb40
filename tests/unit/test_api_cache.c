/*
 * test_api_cache.c — the API's response cache: a stored render is served
 * until a bump of what it depends on; a render that raced with a bump is
 * never stored; requests for the same version wait for one render instead
 * of rendering each, and a request that arrived after a bump never takes an
 * older render; without a live channel nothing is served from the cache;
 * age, expiry and eviction; every value freed exactly once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api_cache.h"

static int freed;
static uint64_t extra_gen;

static void free_str(void *p)
{
    __atomic_add_fetch(&freed, 1, __ATOMIC_SEQ_CST);
    free(p);
}

static uint64_t extra(void) { return __atomic_load_n(&extra_gen, __ATOMIC_SEQ_CST); }

static cd_api_cache *new_cache(size_t entries, int64_t max_age_ms)
{
    freed = 0;
    extra_gen = 0;
    cd_api_cache_opts o = {.max_entries = entries, .max_age_ms = max_age_ms, .wait_ms = 5000};
    cd_api_cache *c = cd_api_cache_new(&o);
    cd_api_cache_set_extra_version(c, extra);
    cd_api_cache_set_live(c, 1);
    return c;
}

static cd_api_cache_val *val(const char *s)
{
    return cd_api_cache_val_new(strdup(s), free_str);
}

/* Renders key as body (asserts that the cache asked for a render); returns
 * nothing: the caller's reference is dropped. */
static void render(cd_api_cache *c, const char *key, int64_t conn, const char *body)
{
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    assert_int_equal(cd_api_cache_get(c, key, conn, &t, &v), CD_CACHE_RENDER);
    assert_null(v);
    cd_api_cache_val *mine = val(body);
    cd_api_cache_finish(c, &t, mine, 0);
    cd_api_cache_release(mine);
}

/* Asserts a hit with body. */
static void expect_hit(cd_api_cache *c, const char *key, int64_t conn, const char *body)
{
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    cd_api_cache_result r = cd_api_cache_get(c, key, conn, &t, &v);
    if (r != CD_CACHE_HIT)
        fail_msg("%s: expected a hit, got %d", key, (int)r);
    assert_string_equal(cd_api_cache_val_data(v), body);
    cd_api_cache_release(v);
}

/* Asserts that key must be rendered, and renders it as body. */
static void expect_render(cd_api_cache *c, const char *key, int64_t conn, const char *body)
{
    render(c, key, conn, body);
}

static void test_hit_after_render(void **state)
{
    cd_api_cache *c = new_cache(16, 0);
    render(c, "list", 0, "v1");
    expect_hit(c, "list", 0, "v1");
    expect_hit(c, "list", 0, "v1");
    /* Another key (another filter) is its own entry, never this body. */
    expect_render(c, "list?q=x", 0, "vx");
    expect_hit(c, "list?q=x", 0, "vx");
    expect_hit(c, "list", 0, "v1");
    cd_api_cache_stats s;
    cd_api_cache_get_stats(c, &s);
    assert_int_equal(s.renders, 2);
    assert_int_equal(s.hits, 4);
    assert_int_equal(s.stored, 2);
    assert_int_equal(s.entries, 2);
    cd_api_cache_free(c);
    assert_int_equal(freed, 2);
}

static void test_bump_connector_scope(void **state)
{
    cd_api_cache *c = new_cache(16, 0);
    render(c, "list", 0, "L1");
    render(c, "hist 7", 7, "H7");
    render(c, "hist 8", 8, "H8");
    cd_api_cache_bump_connector(c, 7);
    /* 7's entries and every list are stale; 8's history is not. */
    expect_render(c, "hist 7", 7, "H7b");
    expect_render(c, "list", 0, "L2");
    expect_hit(c, "hist 8", 8, "H8");
    expect_hit(c, "hist 7", 7, "H7b");
    cd_api_cache_bump_all(c);
    expect_render(c, "hist 8", 8, "H8b");
    expect_render(c, "list", 0, "L3");
    cd_api_cache_free(c);
    assert_int_equal(freed, 7);
}

static void test_notify_payloads(void **state)
{
    cd_api_cache *c = new_cache(16, 0);
    render(c, "hist 5", 5, "a");
    render(c, "hist 6", 6, "b");
    cd_api_cache_notify(c, "r:5");
    expect_render(c, "hist 5", 5, "a2");
    expect_hit(c, "hist 6", 6, "b");
    cd_api_cache_notify(c, "c:6");
    expect_render(c, "hist 6", 6, "b2");
    expect_hit(c, "hist 5", 5, "a2");
    /* Anything not understood flushes everything. */
    const char *odd[] = {"all", "c:", "c:x", "r:-1", "x:5", "", "c:99999999999999999999999"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        cd_api_cache_notify(c, odd[i]);
        expect_render(c, "hist 5", 5, "again");
    }
    cd_api_cache_notify(c, NULL);
    expect_render(c, "hist 6", 6, "b3");
    cd_api_cache_free(c);
}

static void test_render_racing_bump_not_stored(void **state)
{
    cd_api_cache *c = new_cache(16, 0);
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    assert_int_equal(cd_api_cache_get(c, "list", 0, &t, &v), CD_CACHE_RENDER);
    /* A change commits and its notification arrives while rendering: the
     * render may predate it, so it is not stored. */
    cd_api_cache_notify(c, "c:3");
    cd_api_cache_val *mine = val("old");
    cd_api_cache_finish(c, &t, mine, 0);
    cd_api_cache_release(mine);
    expect_render(c, "list", 0, "new");
    expect_hit(c, "list", 0, "new");
    cd_api_cache_stats s;
    cd_api_cache_get_stats(c, &s);
    assert_int_equal(s.discarded, 1);
    /* So does a registry (plugin schema) change. */
    __atomic_add_fetch(&extra_gen, 1, __ATOMIC_SEQ_CST);
    expect_render(c, "list", 0, "masked anew");
    cd_api_cache_free(c);
    assert_int_equal(freed, 3);
}

static void test_not_live_bypasses(void **state)
{
    cd_api_cache *c = new_cache(16, 0);
    render(c, "list", 0, "v1");
    cd_api_cache_set_live(c, 0);
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    assert_int_equal(cd_api_cache_get(c, "list", 0, &t, &v), CD_CACHE_BYPASS);
    assert_null(v);
    /* A render while down is not stored, even if the channel comes back
     * before it finishes. */
    cd_api_cache_set_live(c, 1);
    cd_api_cache_val *mine = val("while down");
    cd_api_cache_finish(c, &t, mine, 0);
    cd_api_cache_release(mine);
    /* Up again: what was stored before is flushed. */
    expect_render(c, "list", 0, "v2");
    expect_hit(c, "list", 0, "v2");
    /* A render that started live and ends after the channel went down and
     * came back is not stored either. */
    assert_int_equal(cd_api_cache_get(c, "x", 0, &t, &v), CD_CACHE_RENDER);
    cd_api_cache_set_live(c, 0);
    cd_api_cache_set_live(c, 1);
    mine = val("x1");
    cd_api_cache_finish(c, &t, mine, 0);
    cd_api_cache_release(mine);
    expect_render(c, "x", 0, "x2");
    cd_api_cache_free(c);
}

static void test_failed_render_not_stored(void **state)
{
    cd_api_cache *c = new_cache(16, 0);
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    assert_int_equal(cd_api_cache_get(c, "hist 9", 9, &t, &v), CD_CACHE_RENDER);
    cd_api_cache_finish(c, &t, NULL, 0); /* a 404 or a 500 */
    expect_render(c, "hist 9", 9, "ok");
    expect_hit(c, "hist 9", 9, "ok");
    cd_api_cache_free(c);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_expiry_and_max_age(void **state)
{
    cd_api_cache *c = new_cache(16, 1000);
    /* Valid until a time already past (a next_run_at reached): not served. */
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    assert_int_equal(cd_api_cache_get(c, "a", 0, &t, &v), CD_CACHE_RENDER);
    cd_api_cache_val *mine = val("a1");
    cd_api_cache_finish(c, &t, mine, wall_ms() - 1);
    cd_api_cache_release(mine);
    expect_render(c, "a", 0, "a2");
    /* Valid until shortly: served, then not. */
    assert_int_equal(cd_api_cache_get(c, "b", 0, &t, &v), CD_CACHE_RENDER);
    mine = val("b1");
    cd_api_cache_finish(c, &t, mine, wall_ms() + 60);
    cd_api_cache_release(mine);
    expect_hit(c, "b", 0, "b1");
    usleep(80 * 1000);
    expect_render(c, "b", 0, "b2");
    /* max_age: nothing older is served. */
    expect_hit(c, "a", 0, "a2");
    usleep(1100 * 1000);
    expect_render(c, "a", 0, "a3");
    cd_api_cache_free(c);
}

static void test_eviction(void **state)
{
    cd_api_cache *c = new_cache(2, 0);
    render(c, "k1", 0, "1");
    render(c, "k2", 0, "2");
    expect_hit(c, "k1", 0, "1"); /* k2 is now the least recently used */
    render(c, "k3", 0, "3");
    cd_api_cache_stats s;
    cd_api_cache_get_stats(c, &s);
    assert_int_equal(s.entries, 2);
    assert_int_equal(freed, 1); /* k2's value */
    expect_hit(c, "k1", 0, "1");
    expect_hit(c, "k3", 0, "3");
    expect_render(c, "k2", 0, "2b");
    cd_api_cache_free(c);
    assert_int_equal(freed, 4);
}

/* --- single flight, with threads --- */

typedef struct waiter_arg {
    cd_api_cache *c;
    const char *key;
    cd_api_cache_result result;
    char body[32];
    int arrived;
} waiter_arg;

static void *waiter_main(void *p)
{
    waiter_arg *a = p;
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    __atomic_store_n(&a->arrived, 1, __ATOMIC_SEQ_CST);
    a->result = cd_api_cache_get(a->c, a->key, 0, &t, &v);
    if (a->result == CD_CACHE_HIT) {
        snprintf(a->body, sizeof a->body, "%s", (const char *)cd_api_cache_val_data(v));
        cd_api_cache_release(v);
    } else {
        cd_api_cache_finish(a->c, &t, NULL, 0);
    }
    return NULL;
}

/* Waits until n requests wait for a render (the cache's own count). */
static void await_waits(cd_api_cache *c, uint64_t n)
{
    for (int i = 0; i < 500; i++) {
        cd_api_cache_stats s;
        cd_api_cache_get_stats(c, &s);
        if (s.waits >= n)
            return;
        usleep(2000);
    }
    fail_msg("no %llu waiting requests", (unsigned long long)n);
}

static void test_single_flight(void **state)
{
    cd_api_cache *c = new_cache(16, 0);
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    assert_int_equal(cd_api_cache_get(c, "list", 0, &t, &v), CD_CACHE_RENDER);
    enum { N = 8 };
    waiter_arg a[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        a[i] = (waiter_arg){.c = c, .key = "list"};
        pthread_create(&th[i], NULL, waiter_main, &a[i]);
    }
    await_waits(c, N);
    cd_api_cache_val *mine = val("one render");
    cd_api_cache_finish(c, &t, mine, 0);
    cd_api_cache_release(mine);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].result, CD_CACHE_HIT);
        assert_string_equal(a[i].body, "one render");
    }
    cd_api_cache_stats s;
    cd_api_cache_get_stats(c, &s);
    assert_int_equal(s.renders, 1);
    assert_int_equal(s.shared, N);
    cd_api_cache_free(c);
    assert_int_equal(freed, 1);
}

static void test_waiters_share_even_if_bumped_after_they_arrived(void **state)
{
    /* Requests that arrived before a bump may take a render that started
     * before it (it is no older than they are); it is not stored. A request
     * arriving after the bump renders anew rather than wait for it. */
    cd_api_cache *c = new_cache(16, 0);
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    assert_int_equal(cd_api_cache_get(c, "list", 0, &t, &v), CD_CACHE_RENDER);
    waiter_arg w = {.c = c, .key = "list"};
    pthread_t th;
    pthread_create(&th, NULL, waiter_main, &w);
    await_waits(c, 1);
    cd_api_cache_notify(c, "r:1");
    cd_api_cache_ticket t2;
    assert_int_equal(cd_api_cache_get(c, "list", 0, &t2, &v), CD_CACHE_RENDER);
    cd_api_cache_val *mine = val("before");
    cd_api_cache_finish(c, &t, mine, 0);
    cd_api_cache_release(mine);
    pthread_join(th, NULL);
    assert_int_equal(w.result, CD_CACHE_HIT);
    assert_string_equal(w.body, "before");
    cd_api_cache_val *after = val("after");
    cd_api_cache_finish(c, &t2, after, 0);
    cd_api_cache_release(after);
    expect_hit(c, "list", 0, "after");
    cd_api_cache_free(c);
    assert_int_equal(freed, 2);
}

static void test_waiters_of_failed_render_bypass(void **state)
{
    cd_api_cache *c = new_cache(16, 0);
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    assert_int_equal(cd_api_cache_get(c, "list", 0, &t, &v), CD_CACHE_RENDER);
    waiter_arg w = {.c = c, .key = "list"};
    pthread_t th;
    pthread_create(&th, NULL, waiter_main, &w);
    await_waits(c, 1);
    cd_api_cache_finish(c, &t, NULL, 0);
    pthread_join(th, NULL);
    assert_int_equal(w.result, CD_CACHE_BYPASS);
    cd_api_cache_free(c);
}

static void test_no_cache_is_bypass(void **state)
{
    cd_api_cache_ticket t;
    cd_api_cache_val *v = NULL;
    assert_int_equal(cd_api_cache_get(NULL, "list", 0, &t, &v), CD_CACHE_BYPASS);
    cd_api_cache_finish(NULL, &t, NULL, 0);
    /* A cache starts not live: nothing is served before LISTEN is up. */
    cd_api_cache_opts o = {.max_entries = 4};
    cd_api_cache *c = cd_api_cache_new(&o);
    assert_int_equal(cd_api_cache_get(c, "list", 0, &t, &v), CD_CACHE_BYPASS);
    cd_api_cache_finish(c, &t, NULL, 0);
    cd_api_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_after_render),
        cmocka_unit_test(test_bump_connector_scope),
        cmocka_unit_test(test_notify_payloads),
        cmocka_unit_test(test_render_racing_bump_not_stored),
        cmocka_unit_test(test_not_live_bypasses),
        cmocka_unit_test(test_failed_render_not_stored),
        cmocka_unit_test(test_expiry_and_max_age),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_single_flight),
        cmocka_unit_test(test_waiters_share_even_if_bumped_after_they_arrived),
        cmocka_unit_test(test_waiters_of_failed_render_bypass),
        cmocka_unit_test(test_no_cache_is_bypass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
