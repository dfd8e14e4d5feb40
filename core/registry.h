/*
 * registry.h — the serving process's view of the plugin directory: the
 * JSON that plugin_probe.c produced ({"plugins_dir", "loaded", "refused"}),
 * replaced as a whole on SIGHUP. Readers on any thread get a reference to
 * one consistent snapshot.
 */
#ifndef CD_REGISTRY_H
#define CD_REGISTRY_H

#include <jansson.h>
#include <stdint.h>

/* Replaces the snapshot (takes the reference). */
void cd_registry_set(json_t *snapshot);

/* A new reference to the current snapshot (an empty one before the first
 * set). The caller json_decref's it. */
json_t *cd_registry_get(void);

/* How many times the snapshot was replaced: responses rendered with an
 * older snapshot (secrets masked by its schemas) are stale. */
uint64_t cd_registry_generation(void);

/* The loaded driver named `name` in snapshot (borrowed from it), or NULL. */
json_t *cd_registry_driver(json_t *snapshot, const char *name);

/* Frees the snapshot at exit. */
void cd_registry_clear(void);

#endif
