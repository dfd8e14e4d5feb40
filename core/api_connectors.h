/*
 * api_connectors.h — connector rows as the API shows them, shared by the
 * read and write handlers.
 */
#ifndef CD_API_CONNECTORS_H
#define CD_API_CONNECTORS_H

#include "api_internal.h"

/* The connector with its computed fields (success_rate, active_run),
 * unmasked, or NULL: *err set on failure, not set when there is none. */
json_t *cd_api_load_connector(PGconn *db, int64_t id, int for_update, char **err);

/* A masked copy with next_run_at, as responses show it. */
json_t *cd_api_masked_copy(const json_t *c);

/* Row `row` of a connector query, masked, with next_run_at. */
json_t *cd_api_connector_json(const PGresult *res, int row, json_t *snapshot, json_t *cache);

#endif
