/*
 * api_cache_listen.h — the thread that LISTENs on CD_API_CACHE_CHANNEL and
 * applies what it hears to an API cache (api_cache.h): the cache is live
 * while the LISTEN connection is up, flushed on every (re)connection, and
 * bypassed while it is down (reconnecting every second).
 */
#ifndef CD_API_CACHE_LISTEN_H
#define CD_API_CACHE_LISTEN_H

#include "api_cache.h"

/* The channel schema/011_api_cache.sql's triggers notify. */
#define CD_API_CACHE_CHANNEL "connectord_cache"

typedef struct cd_api_cache_listener cd_api_cache_listener;

/* Starts the thread (it connects in the background). NULL with *err when
 * no thread could be started. */
cd_api_cache_listener *cd_api_cache_listen_start(cd_api_cache *cache, const char *url,
                                                 char **err);
/* Stops and joins the thread; the cache is left not live. */
void cd_api_cache_listen_stop(cd_api_cache_listener *l);

#endif
