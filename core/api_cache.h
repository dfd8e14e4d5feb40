/*
 * api_cache.h — rendered responses of the API's hot reads (the connector
 * list, one connector, history pages), kept until something they show may
 * have changed.
 *
 * Correctness rests on versions, not on timing. Every entry depends on one
 * version: the list's (any connector or run changed), or its connector's
 * (that connector or one of its runs changed; connectors share a fixed
 * number of slots, so a collision only costs an extra render). A version is
 * a sum of counters that only grow (a flush-everything epoch, the plugin
 * registry's generation, the list's or the connector slot's counter), so an
 * equal version means nothing was bumped in between.
 *
 * A renderer reads the version before it queries and its result is stored
 * only if the version is still the same when it finishes; a bump (a
 * PostgreSQL NOTIFY, delivered only after its transaction committed, or
 * the API's own write) makes every older entry unservable at once. So once
 * a change's notification has been seen, no body rendered before it is
 * served again.
 *
 * While nothing renders a key, the first request renders and later ones
 * for the same version wait for its result (single flight). A request that
 * arrived after a bump never takes a result rendered before it.
 *
 * Without a live notification channel (before the listener connected,
 * after it lost the connection) the cache is bypassed: everything renders.
 *
 * Values are reference-counted wrappers of opaque data, each with the
 * function that frees it (the API stores ready libmicrohttpd responses).
 */
#ifndef CD_API_CACHE_H
#define CD_API_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cd_api_cache cd_api_cache;
typedef struct cd_api_cache_flight cd_api_cache_flight;
typedef struct cd_api_cache_val cd_api_cache_val;

/* Connector slots for per-connector versions. */
#define CD_API_CACHE_SLOTS 4096

typedef struct cd_api_cache_opts {
    size_t max_entries;        /* at most this many keys (least recently used go) */
    int64_t max_age_ms;        /* safety net: no entry older than this is served (0: none) */
    int64_t wait_ms;           /* longest wait for another request's render */
} cd_api_cache_opts;

cd_api_cache *cd_api_cache_new(const cd_api_cache_opts *opts);
void cd_api_cache_free(cd_api_cache *c);

/* --- invalidation --- */
/* A connector (its row or its runs) changed: its entries and every list. */
void cd_api_cache_bump_connector(cd_api_cache *c, int64_t connector_id);
/* Anything may have changed: every entry. */
void cd_api_cache_bump_all(cd_api_cache *c);
/* A notification payload: "c:ID" (a connector row), "r:ID" (runs of a
 * connector) or anything else (everything). */
void cd_api_cache_notify(cd_api_cache *c, const char *payload);
/* The notification channel is up (1: after LISTEN succeeded) or down (0).
 * Both flush everything; while down, lookups bypass the cache. */
void cd_api_cache_set_live(cd_api_cache *c, int live);
int cd_api_cache_live(cd_api_cache *c);

/* --- lookups --- */
typedef enum {
    CD_CACHE_HIT,     /* *value is held: give it back with cd_api_cache_release */
    CD_CACHE_RENDER,  /* render, then cd_api_cache_finish (always, even on failure) */
    CD_CACHE_BYPASS   /* render, do not store (cache off, not live, or a wait that failed) */
} cd_api_cache_result;

typedef struct cd_api_cache_ticket {
    char *key;
    int64_t connector_id;        /* 0: depends on the list's version */
    uint64_t version;
    cd_api_cache_flight *flight; /* set with CD_CACHE_RENDER */
} cd_api_cache_ticket;

/* Looks key up (a string naming the response: route and every parameter
 * that changes the body). connector_id 0 for list-wide entries. */
cd_api_cache_result cd_api_cache_get(cd_api_cache *c, const char *key, int64_t connector_id,
                                     cd_api_cache_ticket *t, cd_api_cache_val **value);

/* Ends a CD_CACHE_RENDER: value (NULL when the render failed or is not to be
 * shared) is handed to the requests waiting for this render and stored if
 * the version did not move, until valid_until_ms (CLOCK_REALTIME ms; 0: no
 * limit but max_age). The cache takes one reference to value; the caller
 * keeps its own (and releases it after use). Also frees the ticket's key
 * (safe on a BYPASS ticket). */
void cd_api_cache_finish(cd_api_cache *c, cd_api_cache_ticket *t, cd_api_cache_val *value,
                         int64_t valid_until_ms);

/* A new value wrapping data, with one reference (the caller's). */
cd_api_cache_val *cd_api_cache_val_new(void *data, void (*free_data)(void *data));
void *cd_api_cache_val_data(const cd_api_cache_val *v);
/* Drops one reference; the last one frees the data. */
void cd_api_cache_release(cd_api_cache_val *v);

/* Counters for tests and /metrics. */
typedef struct cd_api_cache_stats {
    uint64_t hits, renders, waits, shared, stored, discarded, bypassed;
    size_t entries;
} cd_api_cache_stats;
void cd_api_cache_get_stats(cd_api_cache *c, cd_api_cache_stats *s);

/* Test hook: the registry generation the versions include (defaults to
 * cd_registry_generation). */
void cd_api_cache_set_extra_version(cd_api_cache *c, uint64_t (*fn)(void));

#endif
