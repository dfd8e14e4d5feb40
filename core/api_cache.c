/* api_cache.c — see api_cache.h. */
#include "api_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry.h"
#include "util.h"

struct cd_api_cache_val {
    void *data;
    void (*free_data)(void *data);
    int refs; /* atomic */
};

/* One render in progress for one key and version. Its renderer and every
 * request waiting for it hold a reference. */
struct cd_api_cache_flight {
    uint64_t version;
    int done;
    cd_api_cache_val *val; /* the result to share, or NULL */
    int refs;
};

typedef struct entry {
    struct entry *next; /* hash chain */
    char *key;
    uint64_t hash;
    int64_t connector_id;
    cd_api_cache_val *val; /* stored result, or NULL */
    uint64_t version;      /* val's */
    int64_t born_ms;       /* CLOCK_MONOTONIC */
    int64_t until_ms;      /* CLOCK_REALTIME, 0: none */
    cd_api_cache_flight *flight; /* the newest render in progress */
    uint64_t used;         /* last use, for eviction */
} entry;

#define NBUCKETS 1024

struct cd_api_cache {
    cd_api_cache_opts opts;
    pthread_mutex_t lock;
    pthread_cond_t done; /* a flight finished */
    entry *buckets[NBUCKETS];
    size_t nentries;
    uint64_t tick;
    uint64_t (*extra)(void);

    /* Counters that only grow, read and bumped without the lock. */
    uint64_t epoch;
    uint64_t list_gen;
    uint64_t slot_gen[CD_API_CACHE_SLOTS];
    int live;

    cd_api_cache_stats stats;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static size_t slot_of(int64_t id)
{
    return (size_t)((uint64_t)id % CD_API_CACHE_SLOTS);
}

static uint64_t load(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static void bump(uint64_t *p) { __atomic_add_fetch(p, 1, __ATOMIC_SEQ_CST); }

/* The version an entry of connector_id (0: list) depends on now. */
static uint64_t version_of(cd_api_cache *c, int64_t connector_id)
{
    uint64_t v = load(&c->epoch) + (c->extra ? c->extra() : 0);
    if (connector_id > 0)
        v += load(&c->slot_gen[slot_of(connector_id)]);
    else
        v += load(&c->list_gen);
    return v;
}

cd_api_cache_val *cd_api_cache_val_new(void *data, void (*free_data)(void *data))
{
    cd_api_cache_val *v = cd_xcalloc(1, sizeof *v);
    v->data = data;
    v->free_data = free_data;
    v->refs = 1;
    return v;
}

void *cd_api_cache_val_data(const cd_api_cache_val *v)
{
    return v ? v->data : NULL;
}

static cd_api_cache_val *val_ref(cd_api_cache_val *v)
{
    if (v)
        __atomic_add_fetch(&v->refs, 1, __ATOMIC_SEQ_CST);
    return v;
}

void cd_api_cache_release(cd_api_cache_val *v)
{
    if (!v || __atomic_sub_fetch(&v->refs, 1, __ATOMIC_SEQ_CST) != 0)
        return;
    if (v->free_data)
        v->free_data(v->data);
    free(v);
}

cd_api_cache *cd_api_cache_new(const cd_api_cache_opts *opts)
{
    cd_api_cache *c = cd_xcalloc(1, sizeof *c);
    c->opts = *opts;
    if (c->opts.max_entries == 0)
        c->opts.max_entries = 256;
    if (c->opts.wait_ms <= 0)
        c->opts.wait_ms = 30000;
    c->extra = cd_registry_generation;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->done, &ca);
    pthread_condattr_destroy(&ca);
    return c;
}

static void flight_unref(cd_api_cache *c, cd_api_cache_flight *f)
{
    if (--f->refs > 0)
        return;
    cd_api_cache_release(f->val);
    free(f);
}

static void entry_free(cd_api_cache *c, entry *e)
{
    if (e->flight)
        flight_unref(c, e->flight);
    cd_api_cache_release(e->val);
    free(e->key);
    free(e);
}

void cd_api_cache_free(cd_api_cache *c)
{
    if (!c)
        return;
    for (size_t b = 0; b < NBUCKETS; b++) {
        entry *e = c->buckets[b];
        while (e) {
            entry *next = e->next;
            entry_free(c, e);
            e = next;
        }
    }
    pthread_cond_destroy(&c->done);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void cd_api_cache_set_extra_version(cd_api_cache *c, uint64_t (*fn)(void))
{
    c->extra = fn;
}

void cd_api_cache_bump_connector(cd_api_cache *c, int64_t connector_id)
{
    if (connector_id <= 0) {
        cd_api_cache_bump_all(c);
        return;
    }
    bump(&c->slot_gen[slot_of(connector_id)]);
    bump(&c->list_gen);
}

void cd_api_cache_bump_all(cd_api_cache *c)
{
    bump(&c->epoch);
}

void cd_api_cache_notify(cd_api_cache *c, const char *payload)
{
    if (payload && (payload[0] == 'c' || payload[0] == 'r') && payload[1] == ':') {
        const char *p = payload + 2;
        int64_t id = 0;
        int ok = *p != '\0';
        for (; ok && *p; p++) {
            if (*p < '0' || *p > '9' || id > (INT64_MAX - 9) / 10)
                ok = 0;
            else
                id = id * 10 + (*p - '0');
        }
        if (ok && id > 0) {
            cd_api_cache_bump_connector(c, id);
            return;
        }
    }
    cd_api_cache_bump_all(c);
}

void cd_api_cache_set_live(cd_api_cache *c, int live)
{
    /* Up: flush first, then serve (what was rendered while notifications
     * could be missed is never served). Down: stop serving, then flush. */
    if (live) {
        bump(&c->epoch);
        __atomic_store_n(&c->live, 1, __ATOMIC_SEQ_CST);
    } else {
        __atomic_store_n(&c->live, 0, __ATOMIC_SEQ_CST);
        bump(&c->epoch);
    }
}

int cd_api_cache_live(cd_api_cache *c)
{
    return __atomic_load_n(&c->live, __ATOMIC_SEQ_CST);
}

static entry *find(cd_api_cache *c, const char *key, uint64_t h)
{
    for (entry *e = c->buckets[h % NBUCKETS]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

static void unlink_entry(cd_api_cache *c, entry *victim)
{
    entry **pp = &c->buckets[victim->hash % NBUCKETS];
    while (*pp != victim)
        pp = &(*pp)->next;
    *pp = victim->next;
    c->nentries--;
}

/* Makes room for one more: the least recently used entry goes (its flight,
 * if any, lives on in its renderer's ticket). */
static void evict_one(cd_api_cache *c)
{
    entry *victim = NULL;
    for (size_t b = 0; b < NBUCKETS; b++)
        for (entry *e = c->buckets[b]; e; e = e->next)
            if (!victim || e->used < victim->used)
                victim = e;
    if (!victim)
        return;
    unlink_entry(c, victim);
    entry_free(c, victim);
}

static entry *find_or_add(cd_api_cache *c, const char *key, uint64_t h, int64_t connector_id)
{
    entry *e = find(c, key, h);
    if (e)
        return e;
    while (c->nentries >= c->opts.max_entries)
        evict_one(c);
    e = cd_xcalloc(1, sizeof *e);
    e->key = cd_xstrdup(key);
    e->hash = h;
    e->connector_id = connector_id;
    e->next = c->buckets[h % NBUCKETS];
    c->buckets[h % NBUCKETS] = e;
    c->nentries++;
    return e;
}

static int servable(cd_api_cache *c, const entry *e, uint64_t version)
{
    if (!e->val || e->version != version)
        return 0;
    if (c->opts.max_age_ms > 0 && mono_ms() - e->born_ms >= c->opts.max_age_ms)
        return 0;
    if (e->until_ms > 0 && wall_ms() >= e->until_ms)
        return 0;
    return 1;
}

cd_api_cache_result cd_api_cache_get(cd_api_cache *c, const char *key, int64_t connector_id,
                                     cd_api_cache_ticket *t, cd_api_cache_val **value)
{
    memset(t, 0, sizeof *t);
    *value = NULL;
    t->connector_id = connector_id;
    if (!c)
        return CD_CACHE_BYPASS;
    /* The version before anything is looked at or queried. */
    t->version = version_of(c, connector_id);
    if (!cd_api_cache_live(c)) {
        pthread_mutex_lock(&c->lock);
        c->stats.bypassed++;
        pthread_mutex_unlock(&c->lock);
        return CD_CACHE_BYPASS;
    }
    uint64_t h = hash_key(key);
    pthread_mutex_lock(&c->lock);
    entry *e = find_or_add(c, key, h, connector_id);
    e->used = ++c->tick;
    if (servable(c, e, t->version)) {
        *value = val_ref(e->val);
        c->stats.hits++;
        pthread_mutex_unlock(&c->lock);
        return CD_CACHE_HIT;
    }
    cd_api_cache_flight *f = e->flight;
    if (f && f->version == t->version && !f->done) {
        /* Someone renders this version: wait for it. Its result is no older
         * than anything this request could have seen (the version did not
         * move between its start and this request's arrival). */
        f->refs++;
        c->stats.waits++;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += c->opts.wait_ms / 1000;
        until.tv_nsec += (long)(c->opts.wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!f->done)
            if (pthread_cond_timedwait(&c->done, &c->lock, &until) == ETIMEDOUT)
                break;
        cd_api_cache_val *v = f->done ? val_ref(f->val) : NULL;
        flight_unref(c, f);
        if (v) {
            c->stats.shared++;
            pthread_mutex_unlock(&c->lock);
            *value = v;
            return CD_CACHE_HIT;
        }
        /* The render failed or took too long: render alone, store nothing. */
        c->stats.bypassed++;
        pthread_mutex_unlock(&c->lock);
        return CD_CACHE_BYPASS;
    }
    /* This request renders. An older flight (of a version now stale) keeps
     * going for its own waiters but is no longer the entry's. */
    f = cd_xcalloc(1, sizeof *f);
    f->version = t->version;
    f->refs = 2; /* the renderer's ticket and the entry */
    if (e->flight)
        flight_unref(c, e->flight);
    e->flight = f;
    t->flight = f;
    t->key = cd_xstrdup(key);
    c->stats.renders++;
    pthread_mutex_unlock(&c->lock);
    return CD_CACHE_RENDER;
}

void cd_api_cache_finish(cd_api_cache *c, cd_api_cache_ticket *t, cd_api_cache_val *value,
                         int64_t valid_until_ms)
{
    cd_api_cache_flight *f = t->flight;
    if (!c || !f) {
        free(t->key);
        t->key = NULL;
        return;
    }
    pthread_mutex_lock(&c->lock);
    f->val = val_ref(value);
    f->done = 1;
    pthread_cond_broadcast(&c->done);
    uint64_t h = hash_key(t->key);
    entry *e = find(c, t->key, h);
    if (e && e->flight == f) {
        e->flight = NULL;
        flight_unref(c, f);
    }
    /* Stored only if nothing was bumped since the renderer read the
     * version, and the channel is still up. */
    if (value && cd_api_cache_live(c) && version_of(c, t->connector_id) == f->version &&
        (valid_until_ms <= 0 || wall_ms() < valid_until_ms)) {
        if (!e)
            e = find_or_add(c, t->key, h, t->connector_id);
        cd_api_cache_release(e->val);
        e->val = val_ref(value);
        e->version = f->version;
        e->born_ms = mono_ms();
        e->until_ms = valid_until_ms;
        e->used = ++c->tick;
        c->stats.stored++;
    } else if (value) {
        c->stats.discarded++;
    }
    flight_unref(c, f);
    pthread_mutex_unlock(&c->lock);
    t->flight = NULL;
    free(t->key);
    t->key = NULL;
}

void cd_api_cache_get_stats(cd_api_cache *c, cd_api_cache_stats *s)
{
    pthread_mutex_lock(&c->lock);
    *s = c->stats;
    s->entries = c->nentries;
    pthread_mutex_unlock(&c->lock);
}
