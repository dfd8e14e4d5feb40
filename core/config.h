/*
 * config.h — connectord's configuration: connectord.yaml, then every
 * conf.d/NAME.yaml beside it in name order, later keys winning (mappings are
 * merged key by key, anything else is replaced), then the environment:
 * CONNECTORD_DATABASE_URL overrides database.url, CONNECTORD_HTTP_PORT
 * overrides http.port.
 *
 * The merged document is kept as a jansson tree. YAML scalars become JSON
 * strings, except that plain (unquoted) scalars that read as integers,
 * true/false or null become those JSON types.
 */
#ifndef CD_CONFIG_H
#define CD_CONFIG_H

#include <jansson.h>
#include <stddef.h>

typedef struct cd_config cd_config;

/* Loads path and path's directory's conf.d/NAME.yaml. A missing conf.d is
 * fine; a missing main file is an error. On error returns NULL and sets *err
 * (malloc'd, caller frees) to a message naming the file, line and column. */
cd_config *cd_config_load(const char *path, char **err);

/* Loads from YAML text (no conf.d, no environment): for tests and fuzzing. */
cd_config *cd_config_from_string(const char *yaml, size_t len, char **err);

/* Deep-merges YAML text over cfg (same rules as conf.d files). */
int cd_config_merge_string(cd_config *cfg, const char *yaml, size_t len, const char *name,
                           char **err);

void cd_config_free(cd_config *cfg);

/* The node at a dotted path ("database.url"), or NULL. Borrowed. */
json_t *cd_config_get(const cd_config *cfg, const char *dotted_key);

/* A string setting or dflt. Integers are rendered as text. Borrowed. */
const char *cd_config_string(const cd_config *cfg, const char *dotted_key, const char *dflt);

/* An integer setting: dflt when missing; when present but not an integer
 * (or a string of digits) returns dflt and sets *bad to 1 if bad != NULL. */
long long cd_config_int(const cd_config *cfg, const char *dotted_key, long long dflt, int *bad);

/* Refuses sections and keys the code does not read (with a "did you mean"
 * for a near miss), then checks the type and range of each known key
 * (database.url string, http.port 1..65535, runner.timeout_seconds at most a
 * week, scheduler.catchup_window a duration, ...). alerts.channels entries
 * are checked where they are read. Returns 0 or -1 with *err naming the
 * first bad key, never showing a value that may be a secret. */
int cd_config_check(const cd_config *cfg, char **err);

/* The files that were read, in order (for `connectord config`). Borrowed. */
const json_t *cd_config_sources(const cd_config *cfg);

#endif
