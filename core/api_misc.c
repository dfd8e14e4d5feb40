/*
 * api_misc.c — GET /plugins (the registry snapshot: loaded drivers with
 * their config schemas, refused files with reasons) and GET /healthz.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api_health.h"
#include "api_internal.h"
#include "db.h"
#include "log.h"
#include "registry.h"
#include "templates.h"
#include "util.h"

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static cd_api_health_fn hook_fn;
static void *hook_arg;

void cd_api_set_health_hook(cd_api_health_fn fn, void *arg)
{
    pthread_mutex_lock(&hook_lock);
    hook_fn = fn;
    hook_arg = arg;
    pthread_mutex_unlock(&hook_lock);
}

void cd_api_plugins(cd_api_req *q, cd_api_resp *r)
{
    json_t *snap = cd_registry_get();
    json_t *b = json_pack("{s:b, s:O, s:O, s:O}", "success", 1, "plugins_dir",
                          json_object_get(snap, "plugins_dir"), "loaded",
                          json_object_get(snap, "loaded"), "refused", json_object_get(snap, "refused"));
    json_decref(snap);
    if (!b) /* a snapshot without one of the members */
        b = json_pack("{s:b, s:[], s:[]}", "success", 1, "loaded", "refused");
    cd_api_ok(r, MHD_HTTP_OK, b);
}

void cd_api_templates(cd_api_req *q, cd_api_resp *r)
{
    json_t *bad = NULL;
    json_t *list = cd_templates_load(q->api->cfg, &bad);
    json_t *b = json_pack("{s:b, s:o, s:o}", "success", 1, "templates", list, "invalid",
                          bad ? bad : json_array());
    cd_api_ok(r, MHD_HTTP_OK, b);
}

void cd_api_healthz(cd_api_req *q, cd_api_resp *r)
{
    char *err = NULL;
    int db_ok = 0;
    PGconn *db = cd_api_pool_acquire(q->api->pool, 2000, &err);
    if (db) {
        q->db = db; /* released by the server */
        PGresult *res = cd_db_exec(db, "health check", PGRES_TUPLES_OK, "SELECT 1", 0, NULL, &err);
        db_ok = res != NULL;
        PQclear(res);
    }
    if (err) {
        cd_warn("api: healthz: %s", err);
        free(err);
    }
    json_t *b = json_pack("{s:s}", "database", db_ok ? "ok" : "unreachable");
    int ok = db_ok;
    pthread_mutex_lock(&hook_lock);
    cd_api_health_fn fn = hook_fn;
    void *arg = hook_arg;
    pthread_mutex_unlock(&hook_lock);
    if (fn) {
        json_t *s = json_object();
        if (!fn(s, arg))
            ok = 0;
        json_object_set_new(b, "scheduler", s);
    }
    json_object_set_new(b, "success", json_boolean(ok));
    json_object_set_new(b, "status", json_string(ok ? "ok" : "unhealthy"));
    cd_api_ok(r, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, b);
}
