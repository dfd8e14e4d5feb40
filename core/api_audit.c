/* api_audit.c — see api_audit.h. */
#include "api_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "util.h"

/* Bookkeeping columns change on every write and say nothing about intent. */
static int is_noise(const char *key)
{
    static const char *const noise[] = {"updated_at", "paused_at", "resumed_at", "schedule_changed_at",
                                          NULL};
    for (size_t i = 0; noise[i]; i++)
        if (strcmp(key, noise[i]) == 0)
            return 1;
    return 0;
}

static json_t *changed_fields(const json_t *before, const json_t *after)
{
    json_t *changed = json_array();
    if (!before || !after)
        return changed;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)after, key, v) {
        if (!is_noise(key) && !json_equal(v, json_object_get(before, key)))
            json_array_append_new(changed, json_string(key));
    }
    json_object_foreach((json_t *)before, key, v) {
        if (!is_noise(key) && !json_object_get(after, key))
            json_array_append_new(changed, json_string(key));
    }
    return changed;
}

int cd_api_audit(PGconn *db, int64_t connector_id, const char *action, const char *actor,
                 const json_t *before, const json_t *after, char **err)
{
    return cd_api_audit_diff(db, connector_id, action, actor, before, after, before, after, err);
}

int cd_api_audit_diff(PGconn *db, int64_t connector_id, const char *action, const char *actor,
                      const json_t *before, const json_t *after, const json_t *raw_before,
                      const json_t *raw_after, char **err)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)connector_id);
    json_t *changed = changed_fields(raw_before, raw_after);
    char *b = before ? json_dumps(before, JSON_COMPACT) : NULL;
    char *a = after ? json_dumps(after, JSON_COMPACT) : NULL;
    char *c = json_dumps(changed, JSON_COMPACT);
    const char *p[] = {id, action, actor ? actor : "unknown", b, a, c};
    int rc = cd_db_command(db, "recording the audit entry",
                           "INSERT INTO sp_v2_connector_audit"
                           " (connector_id, action, actor, before, after, changed_fields)"
                           " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb,"
                           "         ARRAY(SELECT jsonb_array_elements_text($6::jsonb)))",
                           6, p, err);
    free(b);
    free(a);
    free(c);
    json_decref(changed);
    return rc;
}
