/*
 * bank_api_internal.h — pieces of bank_api.c reachable without HTTP, for
 * the fuzz targets and unit tests. Not exported from the .so (hidden
 * visibility).
 */
#ifndef BANK_API_INTERNAL_H
#define BANK_API_INTERNAL_H

#include <connectord/plugin.h>

#include <stddef.h>
#include <stdint.h>

/* Maps one response body (JSON or CSV per the run's connection_config:
 * records_path, columns, csv.*) to records through the host the driver was
 * initialised with, as one page of run() does. Calls records_begin itself.
 * Returns a cd_status; *count the records seen. */
int bank_api_emit_body(cd_run *run, const char *body, size_t len, uint64_t *count);
/* The same, a JSON body fed to the parser `chunk` bytes at a time, as it
 * arrives from the network (0: all at once). */
int bank_api_emit_chunks(cd_run *run, const char *body, size_t len, size_t chunk,
                         uint64_t *count);

/* The loop guard of cursor and link listings: adds the URLs of `pages`
 * distinct pages, then (when again is not 0) page again's URL once more.
 * Returns the page the guard says was asked for already (0: none, -1: out
 * of memory); *bytes what the guard held at the end. */
long bank_api_seen_check(size_t pages, size_t again, size_t *bytes);

/* The rel="next" target of a Link header value, malloc'd, or NULL. */
char *bank_api_link_next(const char *link_header);

/* The canonical string to sign: tmpl with {method} {path} {query} {host}
 * {timestamp} {date} {body_sha256} {key_id} replaced (NULL values: empty).
 * Malloc'd; NULL on ENOMEM. */
char *bank_api_canonical(const char *tmpl, const char *method, const char *path,
                         const char *query, const char *host, const char *timestamp,
                         const char *date, const char *body_sha256, const char *key_id);

#endif /* BANK_API_INTERNAL_H */
