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
 * built-in driver when it is missing. Appends errors and returns 0, or
 * returns -1 after answering r (the database, asked about the time zone,
 * failed). */
int cd_api_validate_connector(cd_api_req *q, cd_api_resp *r, json_t *c, int creating,
                              json_t *errors);

/* Whether tz can be a connector's schedule_timezone: a zone the scheduler
 * reads (cd_tz_valid), PostgreSQL knows by the same name (the run
 * functions of schema/007) and both read with the same offsets around now
 * (PostgreSQL reads CET as the abbreviation, without DST, and one built
 * with other tz data reads some zones otherwise). 1 when
 * it can; 0 with *why (malloc'd, a message for the field); -1 with *err
 * when the database failed. Verdicts are remembered per process. */
int cd_api_tz_check(PGconn *db, const char *tz, char **why, char **err);

#endif
