/*
 * run_policy.h — the keys of a connector's connection_config that are the
 * service's, not its driver's: sync_days_back (which business date a
 * scheduled run fetches), auto_retry and retry_count (how often a
 * transient failure is tried again). The database functions of
 * schema/007 and 014 read them for every connector, whatever its driver.
 */
#ifndef CD_RUN_POLICY_H
#define CD_RUN_POLICY_H

#include <jansson.h>

/* Adds the policy keys to a driver's config schema (its "properties"),
 * replacing any the driver declared itself: the service decides what they
 * mean, and a driver schema that allows no other keys must still allow
 * them. A schema that is not an object is left alone. */
void cd_run_policy_schema_merge(json_t *schema);

#endif
