/*
 * pg_api_internal.h — entry points into pg_api.c's stream parser and date
 * reading without HTTP, for the fuzz targets and unit tests. Not part of
 * the driver ABI: the .so is built with hidden visibility, so these are
 * not exported.
 */
#ifndef PG_API_INTERNAL_H
#define PG_API_INTERNAL_H

#include <connectord/plugin.h>

#include <stddef.h>
#include <stdint.h>

/* Runs body (a report API response) through the same parser and mapping as
 * run(), feeding it in pieces of `chunk` bytes (0: all at once), emitting
 * records through the host the driver was initialised with. Calls
 * records_begin itself. Returns a cd_status (the run's message says why
 * the parser stopped, when it did); *items the array items seen. */
int pg_api_parse_buffer(cd_run *run, const char *merchant, const unsigned char *body,
                        size_t len, size_t chunk, uint64_t *items);

/* The gateway date-time reader: "YYYY-MM-DD[ T]HH:MM[:SS[.f]][zone]" or
 * "DD-MM-YYYY[ HH:MM[:SS]]" (also with '/'). out_date gets "YYYY-MM-DD",
 * *out_ts a malloc'd ISO timestamp or NULL for a bare date. 0 or -1. */
int pg_api_split_datetime(const char *s, char out_date[11], char **out_ts);

#endif /* PG_API_INTERNAL_H */
