/*
 * api_audit.h — the audit trail of changes made through the API
 * (sp_v2_connector_audit, schema/006): who, when, what, and the connector
 * before and after with secrets masked.
 */
#ifndef CD_API_AUDIT_H
#define CD_API_AUDIT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

/* A copy of a masked connector (NULL for NULL) as the trail may keep it:
 * when the schema of its driver is not in snapshot (the driver is not
 * loaded by this worker), every value of its connection_config but
 * secret references, nulls and booleans is masked. Masking then goes by
 * field names alone, which leaves a secret in a field such as "pin" in
 * the clear, and the trail keeps what it is given for ever. */
json_t *cd_api_audit_guard(const json_t *connector, json_t *snapshot);

struct cd_api_req;
struct cd_api_resp;

/* Records one action (CREATE, UPDATE, DELETE, PAUSE, RESUME). before and
 * after are masked connector objects or NULL; the changed top-level
 * fields are computed from them. 0 or -1 with *err. */
int cd_api_audit(PGconn *db, int64_t connector_id, const char *action, const char *actor,
                 const json_t *before, const json_t *after, char **err);

/* The same, with the changed fields computed from raw_before and
 * raw_after (the rows unmasked), so that a new value of a secret, masked
 * alike before and after, still counts as a change. Only the masked
 * before and after are stored. */
int cd_api_audit_diff(PGconn *db, int64_t connector_id, const char *action, const char *actor,
                      const json_t *before, const json_t *after, const json_t *raw_before,
                      const json_t *raw_after, char **err);

/* GET /connectors/:id/audit: the connector's entries, newest first
 * (the trail of a deleted connector too). Paged by cursor: each page
 * gives next_before (the id of its last entry, null on the last page) and
 * ?before= reads the entries older than it, so entries recorded between
 * two page reads neither repeat nor shift one off a page. ?offset= counts
 * from the cursor (from the newest entry without one). */
void cd_api_audit_list(struct cd_api_req *q, struct cd_api_resp *r, int64_t id);

#endif
