/*
 * api.h — the REST API and the ops page, served by `connectord serve` with
 * libmicrohttpd (a thread pool, no thread per connection).
 */
#ifndef CD_API_H
#define CD_API_H

#include "config.h"

typedef struct cd_api cd_api;

typedef struct cd_api_context {
    const cd_config *cfg;     /* valid until cd_api_stop */
    const char *self_exe;     /* this binary, for child processes */
    const char *config_path;  /* passed to child processes with -c */
    const char *worker_id;    /* this process's worker id */
} cd_api_context;

/* Binds http.listen:http.port and starts serving. Refuses to start bound to
 * a non-loopback address with no auth.tokens configured. Returns NULL with
 * *err on failure. */
cd_api *cd_api_start(const cd_api_context *ctx, char **err);

/* Stops accepting, finishes requests in flight, frees everything. */
void cd_api_stop(cd_api *api);

#endif
