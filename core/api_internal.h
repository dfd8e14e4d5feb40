/*
 * api_internal.h — what the REST API's files share: the server state, one
 * request as the handlers see it, the response they fill in, and the
 * helpers every handler uses (errors, ids, query parameters, the database).
 * Handlers run on libmicrohttpd's pool threads; each holds one pooled
 * PostgreSQL connection for the length of the request at most.
 */
#ifndef CD_API_INTERNAL_H
#define CD_API_INTERNAL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>

#include "api.h"
#include "api_auth.h"
#include "api_cache.h"
#include "api_cache_listen.h"
#include "api_pool.h"
#include "util.h"

/* Largest request body accepted (413 beyond it). */
#define CD_API_MAX_BODY (1024 * 1024)
/* What every plaintext secret looks like in a response. */
#define CD_API_MASK "********"

typedef struct cd_api_waiter cd_api_waiter;

struct cd_api {
    struct MHD_Daemon *daemon;
    const cd_config *cfg;
    char *self_exe;
    char *config_path;
    char *worker_id;
    char *web_root;          /* share/connectord/web under the prefix */
    cd_api_pool *pool;
    cd_api_auth *auth;
    cd_api_cache *cache;     /* rendered hot reads, or NULL (http.cache_entries: 0) */
    cd_api_cache_listener *cache_listener;
    int backfill_max_days;
    int test_timeout_s;      /* how long POST /test waits for its run */

    /* POST /connectors/:id/test: suspended connections waiting for runs. */
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;
    pthread_t wait_thread;
    int wait_thread_started;
    int stopping;
    cd_api_waiter *waiters;
};

typedef struct cd_api_req {
    cd_api *api;
    struct MHD_Connection *mhd;
    const char *method;
    const char *path;
    char **seg;              /* path segments, URL-decoded by MHD already */
    size_t nseg;
    json_t *body;            /* parsed JSON object, or NULL for an empty body */
    cd_api_role role;
    const char *actor;       /* who, for audit and triggered_by */
    PGconn *db;              /* pooled connection once cd_api_db was called */
    struct cd_api_conn *conn_state;
} cd_api_req;

/* Per-connection state kept by the server between access-handler calls. */
typedef struct cd_api_conn {
    int started;             /* the access handler has seen the headers */
    int nul_in_path;         /* the raw path holds %00 (uri_log in api_server.c) */
    char *body;              /* the request body so far */
    size_t body_len, body_cap;
    int too_large;           /* over CD_API_MAX_BODY: the rest is discarded */
    int refused;             /* answered from the headers alone: the body is discarded */
    int gated;               /* role and actor below were decided from the headers */
    cd_api_role role;
    const char *actor;       /* points into the API's token table */
    cd_api_waiter *waiter;   /* set while suspended for a test run */
} cd_api_conn;

typedef struct cd_api_resp {
    unsigned status;
    json_t *body;                  /* owned; sent as JSON */
    char *text;                    /* or JSON text already made (owned) */
    struct MHD_Response *raw;      /* or a ready response (static files, redirects) */
    cd_api_cache_val *cached;      /* or a held cached response (api_respcache.c) */
    int suspended;                 /* the handler suspended the connection */
    const char *allow;             /* the Allow header of a 405 (static text) */
} cd_api_resp;

/* --- responses (api_http.c) --- */
void cd_api_ok(cd_api_resp *r, unsigned status, json_t *body);   /* takes body */
void cd_api_error(cd_api_resp *r, unsigned status, const char *msg);
/* takes errors (an array of {"field","message"}) */
void cd_api_error_fields(cd_api_resp *r, unsigned status, const char *msg, json_t *errors);
/* A 500 whose details go to the service log only. Takes detail. */
void cd_api_internal_error(cd_api_resp *r, const char *what, char *detail);
json_t *cd_api_field_error(const char *field, const char *message);

/* The headers of every JSON response (content type, no-store, nosniff;
 * the Bearer challenge on a 401). */
void cd_api_response_headers(struct MHD_Response *resp, unsigned status);

/* --- the response cache (api_respcache.c, api_cache.h) --- */
/* The cache the configuration asks for (http.cache_entries, default 256,
 * 0: none; http.cache_max_age_seconds, default 30), or NULL. */
cd_api_cache *cd_api_cache_create(const cd_config *cfg);
/* Before rendering a cacheable read (after its parameters were checked):
 * key names the response (route and every parameter that shapes the body);
 * connector_id the connector it depends on (0: the list, every connector).
 * Returns 1 when r was answered from the cache. Otherwise the handler
 * renders into r and must call cd_api_cached_end with the same ticket. */
int cd_api_cached_begin(cd_api_req *q, cd_api_resp *r, const char *key, int64_t connector_id,
                        cd_api_cache_ticket *t);
/* After rendering: a 200 becomes a shared response, stored unless a change
 * was heard of meanwhile, valid until valid_until_ms (CLOCK_REALTIME; 0:
 * no limit of its own). Anything else is sent as it is and not stored. */
void cd_api_cached_end(cd_api_req *q, cd_api_resp *r, cd_api_cache_ticket *t,
                       int64_t valid_until_ms);

/* Queues a cached response on a connection and drops the reference. */
enum MHD_Result cd_api_cached_queue(struct MHD_Connection *mc, cd_api_cache_val *v);

/* --- who may ask (api_origin.c) --- */
/* Whether a Host header value names this machine's loopback. */
int cd_api_host_is_loopback(const char *host);
/* NULL when the request may go on, else why it is refused (malloc'd): a
 * write from another origin, or (open_api: no tokens) a non-loopback Host. */
char *cd_api_origin_refusal(struct MHD_Connection *c, int is_write, int open_api);

/* --- request helpers (api_http.c) --- */
/* 1 when s holds a C0 or C1 control character or DEL: a newline or an
 * escape in a name garbles the ops page, logs, alerts and terminals. */
int cd_api_has_control(const char *s);
#define CD_API_NO_CONTROL "must not contain control characters (newlines, tabs and the like)"

/* The query parameter, or NULL. One holding %00 never gets this far: the
 * server refuses it with a 400 before any handler runs (api_server.c). */
const char *cd_api_query(const cd_api_req *q, const char *key);
/* A free-text query parameter (a search term): NULL when absent; when it
 * holds a NUL byte, is not UTF-8 or is longer than maxchars characters,
 * appends an error naming key and returns NULL. */
const char *cd_api_query_text(const cd_api_req *q, const char *key, long maxchars,
                              json_t *errors);
/* A positive 64-bit integer written in decimal digits only, or -1. */
int64_t cd_api_parse_id(const char *s);
/* Reads an optional non-negative integer query parameter within [min,max];
 * appends a field error and returns -1 when it is bad. */
long long cd_api_query_int(const cd_api_req *q, const char *key, long long dflt, long long min,
                           long long max, json_t *errors);
/* The pooled connection for this request, or NULL after answering 503. */
PGconn *cd_api_db(cd_api_req *q, cd_api_resp *r);
/* Refuses body fields not in allowed (NULL-terminated): appends errors. */
void cd_api_check_fields(const json_t *body, const char *const *allowed, json_t *errors);
/* An optional string field of at most maxlen characters: NULL when absent
 * or null; appends an error when it is something else. */
const char *cd_api_opt_string(const json_t *body, const char *key, size_t maxlen,
                              json_t *errors);
/* For requests that take no body fields (pause, resume, delete, the
 * cancels): 0 when the body is absent or {}, else -1 after answering 400
 * naming each field sent, which would otherwise be ignored without a word
 * ({"force": true} to a delete, say). */
int cd_api_refuse_body_fields(cd_api_req *q, cd_api_resp *r);
/* "1" for run_id-like numbers in documented bodies. */
json_t *cd_api_id_string(int64_t id);

/* --- rows as JSON (api_json.c) --- */
/* One result row as an object: ids (int8 "id" and "*_id") as strings,
 * timestamps ISO 8601 UTC with milliseconds, jsonb parsed, numeric as the
 * text PostgreSQL prints ("0.14"), booleans and integers typed. */
json_t *cd_api_row_json(const PGresult *res, int row);
/* All rows as an array. */
json_t *cd_api_rows_json(const PGresult *res);
/* The same as JSON text appended to b, without building jansson values
 * (the connector list and history are the API's hot paths). The object is
 * left open so that the caller can append members and the closing '}'.
 * fn, when not NULL, may write a column's value itself (returning 1). */
typedef int (*cd_api_column_fn)(cd_buf *b, const PGresult *res, int row, int col, void *arg);
void cd_api_row_emit(cd_buf *b, const PGresult *res, int row, cd_api_column_fn fn, void *arg);
/* "2025-10-03 14:23:11.488123+00" -> "2025-10-03T14:23:11.488Z" (malloc'd). */
char *cd_api_iso_timestamp(const char *pg_text);

/* --- handlers --- */
void cd_api_connectors_list(cd_api_req *q, cd_api_resp *r);
void cd_api_connector_get(cd_api_req *q, cd_api_resp *r, int64_t id);
void cd_api_connector_create(cd_api_req *q, cd_api_resp *r);
void cd_api_connector_update(cd_api_req *q, cd_api_resp *r, int64_t id);
void cd_api_connector_delete(cd_api_req *q, cd_api_resp *r, int64_t id);
void cd_api_connector_pause(cd_api_req *q, cd_api_resp *r, int64_t id, int pause);
void cd_api_connector_validate(cd_api_req *q, cd_api_resp *r);

void cd_api_run_manual(cd_api_req *q, cd_api_resp *r, int64_t id);
void cd_api_run_test(cd_api_req *q, cd_api_resp *r, int64_t id);
void cd_api_history(cd_api_req *q, cd_api_resp *r, int64_t id);
void cd_api_run_get(cd_api_req *q, cd_api_resp *r, int64_t id, int64_t run_id);
void cd_api_run_cancel(cd_api_req *q, cd_api_resp *r, int64_t id, int64_t run_id);

void cd_api_backfill_create(cd_api_req *q, cd_api_resp *r, int64_t id);
void cd_api_backfill_get(cd_api_req *q, cd_api_resp *r, int64_t id, const char *bid);
void cd_api_backfill_cancel(cd_api_req *q, cd_api_resp *r, int64_t id, const char *bid);

void cd_api_plugins(cd_api_req *q, cd_api_resp *r);
/* GET /templates: the bank file templates ({"templates": [{name, file,
 * description, format}], "invalid": [{file, error}]}). */
void cd_api_templates(cd_api_req *q, cd_api_resp *r);
void cd_api_healthz(cd_api_req *q, cd_api_resp *r);
void cd_api_static(cd_api_req *q, cd_api_resp *r);

/* --- test waiter (api_wait.c) --- */
int cd_api_wait_start(cd_api *api, char **err);
void cd_api_wait_stop(cd_api *api);
/* Suspends q's connection until run_id finishes or the timeout passes;
 * the response is then made by cd_api_wait_take. */
void cd_api_wait_for_run(cd_api_req *q, cd_api_resp *r, int64_t run_id);
/* The finished waiter's response body (new ref), or NULL when none. */
json_t *cd_api_wait_take(cd_api_waiter *w, unsigned *status);
void cd_api_waiter_free(cd_api_waiter *w);

/* Helpers the connectors and runs handlers share (api_connectors.c). */
/* 1 when connector id exists (sets *status if non-NULL, malloc'd), 0 when
 * not, -1 after answering 500. */
int cd_api_connector_exists(cd_api_req *q, cd_api_resp *r, int64_t id, char **status);
/* As cd_api_connector_exists, for a request that will date a run: a
 * connector whose stored schedule_timezone cannot date one (see
 * cd_api_tz_check) is answered 409 naming the field, and 0 returned. */
int cd_api_connector_runnable(cd_api_req *q, cd_api_resp *r, int64_t id, char **status);
/* The foreign key of a run on its connector (schema/001): an INSERT of a
 * run that names it failed because the connector was deleted meanwhile. */
#define CD_API_RUN_CONNECTOR_FKEY "sp_v2_connector_runs_connector_id_fkey"
/* NOTIFY the scheduler that a connector changed. */
void cd_api_notify_connectors(PGconn *db, int64_t id);

#endif
