/*
 * api_respcache.c — the handlers' side of the response cache (api_cache.h):
 * a rendered 200 becomes one libmicrohttpd response, made once with all its
 * headers and queued to every connection that asks for the same thing
 * (libmicrohttpd counts its references under a lock, so one response may be
 * queued from several pool threads at once; nothing modifies it after it
 * was made). Lookups happen inside the handlers, after authentication and
 * the role check: a cached body never answers a request that was not
 * allowed to see it.
 */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "log.h"
#include "util.h"

typedef struct cached_resp {
    struct MHD_Response *resp;
    unsigned status;
} cached_resp;

static void cached_free(void *data)
{
    cached_resp *c = data;
    MHD_destroy_response(c->resp);
    free(c);
}

cd_api_cache *cd_api_cache_create(const cd_config *cfg)
{
    long long entries = cd_config_int(cfg, "http.cache_entries", 256, NULL);
    long long max_age = cd_config_int(cfg, "http.cache_max_age_seconds", 30, NULL);
    if (entries <= 0)
        return NULL; /* off */
    if (entries > 100000)
        entries = 100000;
    if (max_age < 0)
        max_age = 30;
    cd_api_cache_opts o = {.max_entries = (size_t)entries, .max_age_ms = max_age * 1000,
                           .wait_ms = 30000};
    return cd_api_cache_new(&o);
}

int cd_api_cached_begin(cd_api_req *q, cd_api_resp *r, const char *key, int64_t connector_id,
                        cd_api_cache_ticket *t)
{
    cd_api_cache_val *v = NULL;
    if (cd_api_cache_get(q->api->cache, key, connector_id, t, &v) != CD_CACHE_HIT)
        return 0;
    const cached_resp *c = cd_api_cache_val_data(v);
    r->status = c->status;
    r->cached = v;
    return 1;
}

enum MHD_Result cd_api_cached_queue(struct MHD_Connection *mc, cd_api_cache_val *v)
{
    const cached_resp *c = cd_api_cache_val_data(v);
    enum MHD_Result rc = MHD_queue_response(mc, c->status, c->resp);
    cd_api_cache_release(v);
    return rc;
}

void cd_api_cached_end(cd_api_req *q, cd_api_resp *r, cd_api_cache_ticket *t,
                       int64_t valid_until_ms)
{
    cd_api_cache *cache = q->api->cache;
    if (!cache || r->status != MHD_HTTP_OK || (!r->text && !r->body) || r->raw) {
        cd_api_cache_finish(cache, t, NULL, 0);
        return;
    }
    char *text = r->text ? r->text : json_dumps(r->body, JSON_COMPACT);
    r->text = NULL;
    json_decref(r->body);
    r->body = NULL;
    cached_resp *c = cd_xcalloc(1, sizeof *c);
    c->status = r->status;
    c->resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    cd_api_response_headers(c->resp, r->status);
    cd_api_cache_val *v = cd_api_cache_val_new(c, cached_free);
    cd_api_cache_finish(cache, t, v, valid_until_ms);
    r->cached = v; /* this request's reference */
}
