/*
 * serve.h — `connectord serve`: one per host, any number of hosts per
 * database. The event loop of a worker: scheduler ticks, claiming and
 * supervising runs, leases and rescue, LISTEN/NOTIFY wake-ups, signals
 * (SIGTERM: stop gracefully; SIGHUP: rescan plugins and configuration), and
 * the REST API on its own thread pool.
 */
#ifndef CD_SERVE_H
#define CD_SERVE_H

#include "config.h"

/* Runs until SIGTERM/SIGINT. Returns the process exit code. */
int cd_serve(cd_config *cfg, const char *config_path);

#endif
