/*
 * api_validate.h — validation of a would-be connector (POST, PUT and
 * POST /connectors/validate share it).
 */
#ifndef CD_API_VALIDATE_H
#define CD_API_VALIDATE_H

#include <jansson.h>

#include "api_internal.h"

/* The fields a request may set. */
extern const char *const cd_api_connector_fields[];

/* Refuses unknown and read-only top-level fields of a request body. */
void cd_api_check_connector_body(const json_t *body, int creating, json_t *errors);

/* Validates the whole connector c (for an update: the stored row with the
 * request merged in and masks replaced). Sets c.driver to the category's
 * built-in driver when it is missing. Appends errors. */
void cd_api_validate_connector(cd_api *api, json_t *c, int creating, json_t *errors);

#endif
