/*
 * api_health.h — what GET /healthz reports beyond the database: serve
 * registers a hook that describes the scheduler's liveness (last tick,
 * workers), so the API needs to know nothing about the scheduler.
 */
#ifndef CD_API_HEALTH_H
#define CD_API_HEALTH_H

#include <jansson.h>

/* Fills `out` (an object) with members describing the component and
 * returns 1 when healthy, 0 when not. Called on API threads: must be
 * thread-safe and quick. */
typedef int (*cd_api_health_fn)(json_t *out, void *arg);

/* Sets the hook (NULL to clear); the "scheduler" member of /healthz. */
void cd_api_set_health_hook(cd_api_health_fn fn, void *arg);

#endif
