/* registry.c — see registry.h. */
#include "registry.h"

#include <pthread.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *current;
static uint64_t generation;

void cd_registry_set(json_t *snapshot)
{
    pthread_mutex_lock(&lock);
    json_t *old = current;
    current = snapshot;
    __atomic_add_fetch(&generation, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&lock);
    json_decref(old);
}

json_t *cd_registry_get(void)
{
    pthread_mutex_lock(&lock);
    json_t *s = current ? json_incref(current) : NULL;
    pthread_mutex_unlock(&lock);
    if (!s)
        s = json_pack("{s:s, s:[], s:[]}", "plugins_dir", "", "loaded", "refused");
    return s;
}

uint64_t cd_registry_generation(void)
{
    return __atomic_load_n(&generation, __ATOMIC_SEQ_CST);
}

json_t *cd_registry_driver(json_t *snapshot, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(snapshot, "loaded"), i, d) {
        const char *n = json_string_value(json_object_get(d, "name"));
        if (n && strcmp(n, name) == 0)
            return d;
    }
    return NULL;
}

void cd_registry_clear(void) { cd_registry_set(NULL); }
