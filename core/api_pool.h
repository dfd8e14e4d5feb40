/*
 * api_pool.h — a small pool of PostgreSQL connections for the API's
 * threads. Connections are opened on first need, checked on every
 * acquire (reset when the server went away) and rolled back to idle on
 * release, so one request's failure never leaks into the next.
 */
#ifndef CD_API_POOL_H
#define CD_API_POOL_H

#include <libpq-fe.h>

typedef struct cd_api_pool cd_api_pool;

cd_api_pool *cd_api_pool_new(const char *url, int size);
void cd_api_pool_free(cd_api_pool *p);

/* A connection (session time zone UTC), waiting up to wait_ms for a free
 * one. NULL with *err when none could be had. */
PGconn *cd_api_pool_acquire(cd_api_pool *p, int wait_ms, char **err);
void cd_api_pool_release(cd_api_pool *p, PGconn *c);

#endif
