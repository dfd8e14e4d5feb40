/*
 * api_mask.h — secrets in connection_config as the API shows them. A field
 * the driver's schema marks "writeOnly": true is shown as "********" when
 * it holds a plaintext value, and as itself when it holds a reference
 * ({"secret": "env:NAME"}). A PUT that sends "********" back keeps the
 * stored value. Without the driver's schema (driver not loaded), fields
 * whose names look like secrets are masked instead, so nothing leaks while
 * a plugin is missing.
 */
#ifndef CD_API_MASK_H
#define CD_API_MASK_H

#include <jansson.h>

/* Masks config in place. schema may be NULL (name heuristics). */
void cd_api_mask_config(json_t *config, const json_t *schema);

/* Masks a connector row object's connection_config in place, finding the
 * schema of its driver (or lower(connector_type)) in the registry
 * snapshot. */
void cd_api_mask_connector(json_t *connector, json_t *snapshot);

/* The loaded driver's config schema (borrowed from snapshot), or NULL. */
const json_t *cd_api_driver_schema(json_t *snapshot, const char *driver);

/* In newcfg, replaces every "********" by the value at the same path in
 * oldcfg (oldcfg may be NULL). A mask with nothing stored behind it is an
 * error appended to errors as {"field": prefix.path, ...}. Returns the
 * number of errors appended. */
int cd_api_unmask_config(json_t *newcfg, const json_t *oldcfg, const char *prefix,
                         json_t *errors);

#endif
