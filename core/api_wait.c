/*
 * api_wait.c — POST /connectors/:id/test answers with the test's outcome,
 * but a pool thread must not sit idle for the seconds a test takes (four
 * concurrent tests would stall the whole API). The handler queues the run
 * and suspends its connection; one thread polls the waiting runs every
 * 100 ms with a single query, builds each finished run's answer and
 * resumes its connection, on which the server then sends it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"
#include "db.h"
#include "host.h"
#include "log.h"
#include "util.h"

#define POLL_MS 100

struct cd_api_waiter {
    cd_api_waiter *next;
    struct MHD_Connection *mhd;
    int64_t run_id;
    int64_t deadline_ms;
    int done;
    unsigned status;
    json_t *body;
};

void cd_api_waiter_free(cd_api_waiter *w)
{
    if (!w)
        return;
    json_decref(w->body);
    free(w);
}

json_t *cd_api_wait_take(cd_api_waiter *w, unsigned *status)
{
    if (!w->done)
        return NULL;
    *status = w->status;
    json_t *b = w->body;
    w->body = NULL;
    return b;
}

/* The documented answer: {"success": false, "error": "...", "run_id": 1},
 * or success with the driver's message; steps and details for the page. */
static json_t *outcome_body(const PGresult *res, int row, int64_t run_id)
{
    json_t *run = cd_api_row_json(res, row);
    const char *status = json_string_value(json_object_get(run, "status"));
    const char *msg = json_string_value(json_object_get(run, "error_message"));
    json_t *details = json_object_get(run, "details");
    int ok = status && (strcmp(status, "SUCCESS") == 0 || strcmp(status, "PARTIAL_SUCCESS") == 0);
    json_t *b = json_pack("{s:b}", "success", ok);
    /* On success the driver's summary is in details.message. */
    const char *dmsg = json_string_value(json_object_get(details, "message"));
    if (ok)
        json_object_set_new(b, "message",
                            json_string(msg ? msg : dmsg ? dmsg : "Connection test passed"));
    else
        json_object_set_new(b, "error", json_string(msg ? msg : "Connection test failed"));
    json_object_set_new(b, "run_id", json_integer(run_id));
    json_object_set(b, "status", json_object_get(run, "status"));
    json_object_set(b, "duration_seconds", json_object_get(run, "duration_seconds"));
    json_t *steps = json_object_get(details, "test_steps");
    json_object_set_new(b, "steps", steps ? json_incref(steps) : json_array());
    json_object_set(b, "details", details ? details : json_null());
    json_decref(run);
    return b;
}

static void finish(cd_api_waiter *w, unsigned status, json_t *body)
{
    w->status = status;
    w->body = body;
    w->done = 1;
    MHD_resume_connection(w->mhd);
}

static void poll_once(cd_api *api, PGconn **db)
{
    /* Snapshot the ids under the lock; query without it. */
    pthread_mutex_lock(&api->wait_lock);
    cd_buf ids;
    cd_buf_init(&ids);
    cd_buf_putc(&ids, '{');
    int n = 0;
    for (cd_api_waiter *w = api->waiters; w; w = w->next)
        cd_buf_printf(&ids, "%s%lld", n++ ? "," : "", (long long)w->run_id);
    cd_buf_puts(&ids, "}");
    pthread_mutex_unlock(&api->wait_lock);
    if (n == 0) {
        cd_buf_free(&ids);
        return;
    }
    char *err = NULL;
    if (!*db)
        *db = cd_api_pool_acquire(api->pool, 1000, &err);
    PGresult *res = NULL;
    if (*db) {
        const char *p[] = {ids.data};
        /* A run that is gone was deleted with its connector (run rows are
         * otherwise kept): it comes back with a NULL status. */
        res = cd_db_exec(*db, "polling test runs", PGRES_TUPLES_OK,
                         "SELECT w.id, r.status, r.error_message, r.details, r.duration_seconds"
                         "  FROM unnest($1::bigint[]) AS w(id)"
                         "  LEFT JOIN sp_v2_connector_runs r ON r.id = w.id"
                         " WHERE r.id IS NULL OR r.status NOT IN ('QUEUED', 'RUNNING')",
                         1, p, &err);
        if (!res) {
            cd_api_pool_release(api->pool, *db);
            *db = NULL;
        }
    }
    if (err) {
        cd_warn("api: %s", err);
        free(err);
    }
    cd_buf_free(&ids);
    int64_t now = cd_now_ms();
    pthread_mutex_lock(&api->wait_lock);
    cd_api_waiter **pp = &api->waiters;
    while (*pp) {
        cd_api_waiter *w = *pp;
        int row = -1;
        for (int i = 0; res && i < PQntuples(res); i++)
            if (strtoll(PQgetvalue(res, i, 0), NULL, 10) == w->run_id)
                row = i;
        if (row >= 0 && PQgetisnull(res, row, 1)) {
            *pp = w->next;
            json_t *b = json_pack("{s:b, s:s, s:I}", "success", 0, "error",
                                  "The test run was deleted with its connector before it "
                                  "finished; there is no outcome to report",
                                  "run_id", (json_int_t)w->run_id);
            finish(w, MHD_HTTP_GONE, b);
        } else if (row >= 0) {
            *pp = w->next;
            finish(w, MHD_HTTP_OK, outcome_body(res, row, w->run_id));
        } else if (now >= w->deadline_ms) {
            *pp = w->next;
            json_t *b = json_pack("{s:b, s:s, s:I, s:s}", "success", 0, "error",
                                  "The test did not finish in time; it goes on in the background",
                                  "run_id", (json_int_t)w->run_id, "status", "RUNNING");
            finish(w, MHD_HTTP_GATEWAY_TIMEOUT, b);
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&api->wait_lock);
    PQclear(res);
}

static void *wait_main(void *arg)
{
    cd_api *api = arg;
    PGconn *db = NULL;
    pthread_mutex_lock(&api->wait_lock);
    while (!api->stopping) {
        if (!api->waiters) {
            pthread_cond_wait(&api->wait_cond, &api->wait_lock);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&api->wait_cond, &api->wait_lock, &until);
        if (api->stopping)
            break;
        pthread_mutex_unlock(&api->wait_lock);
        poll_once(api, &db);
        if (db) {
            /* Keep no connection while idle. */
            pthread_mutex_lock(&api->wait_lock);
            int idle = api->waiters == NULL;
            pthread_mutex_unlock(&api->wait_lock);
            if (idle) {
                cd_api_pool_release(api->pool, db);
                db = NULL;
            }
        }
        pthread_mutex_lock(&api->wait_lock);
    }
    /* Shutting down: answer everyone still waiting. */
    while (api->waiters) {
        cd_api_waiter *w = api->waiters;
        api->waiters = w->next;
        finish(w, MHD_HTTP_SERVICE_UNAVAILABLE,
               json_pack("{s:b, s:s, s:I}", "success", 0, "error",
                         "The server is shutting down; the test goes on in the background",
                         "run_id", (json_int_t)w->run_id));
    }
    pthread_mutex_unlock(&api->wait_lock);
    if (db)
        cd_api_pool_release(api->pool, db);
    return NULL;
}

int cd_api_wait_start(cd_api *api, char **err)
{
    if (pthread_create(&api->wait_thread, NULL, wait_main, api) != 0) {
        *err = cd_xstrdup("cannot start the API's test-wait thread");
        return -1;
    }
    api->wait_thread_started = 1;
    return 0;
}

void cd_api_wait_stop(cd_api *api)
{
    if (!api->wait_thread_started)
        return;
    pthread_mutex_lock(&api->wait_lock);
    api->stopping = 1;
    pthread_cond_broadcast(&api->wait_cond);
    pthread_mutex_unlock(&api->wait_lock);
    pthread_join(api->wait_thread, NULL);
    api->wait_thread_started = 0;
}

void cd_api_wait_for_run(cd_api_req *q, cd_api_resp *r, int64_t run_id)
{
    cd_api *api = q->api;
    cd_api_waiter *w = cd_xcalloc(1, sizeof *w);
    w->mhd = q->mhd;
    w->run_id = run_id;
    w->deadline_ms = cd_now_ms() + (int64_t)api->test_timeout_s * 1000 + 5000;
    q->conn_state->waiter = w;
    /* Suspend before the waiter becomes visible, so that a resume can never
     * come first. */
    MHD_suspend_connection(q->mhd);
    pthread_mutex_lock(&api->wait_lock);
    if (api->stopping) {
        finish(w, MHD_HTTP_SERVICE_UNAVAILABLE,
               json_pack("{s:b, s:s, s:I}", "success", 0, "error", "The server is shutting down",
                         "run_id", (json_int_t)run_id));
    } else {
        w->next = api->waiters;
        api->waiters = w;
        pthread_cond_signal(&api->wait_cond);
    }
    pthread_mutex_unlock(&api->wait_lock);
    r->suspended = 1;
}
