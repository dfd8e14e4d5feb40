/* notify_api.c — POST /notifications/test; see alerts_api.h. */
#include <stdlib.h>
#include <string.h>

#include "alerts_api.h"
#include "db.h"
#include "notify.h"
#include "util.h"

void cd_api_notifications_test(cd_api_req *q, cd_api_resp *r)
{
    static const char *const allowed[] = {"channel", NULL};
    json_t *errors = json_array();
    if (!q->body)
        json_array_append_new(errors, cd_api_field_error("channel", "required"));
    else
        cd_api_check_fields(q->body, allowed, errors);
    const char *name = q->body ? cd_api_opt_string(q->body, "channel", 64, errors) : NULL;
    if (q->body && !name && json_array_size(errors) == 0)
        json_array_append_new(errors, cd_api_field_error("channel", "required"));
    if (json_array_size(errors) > 0) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Validation failed", errors);
        return;
    }
    json_decref(errors);
    cd_alert_settings *s = cd_alert_settings_get();
    const cd_channel *ch = cd_alert_channel(s, name);
    if (!ch) {
        cd_buf known;
        cd_buf_init(&known);
        for (size_t i = 0; s && i < s->nchannels; i++)
            cd_buf_printf(&known, "%s%s", i ? ", " : "", s->channels[i].name);
        char *m = cd_sprintf("Unknown channel %s (configured in alerts.channels: %s)", name,
                             known.len ? known.data : "none");
        cd_buf_free(&known);
        cd_alert_settings_put(s);
        cd_api_error(r, MHD_HTTP_NOT_FOUND, m);
        free(m);
        return;
    }
    char *type = cd_xstrdup(cd_channel_type_name(ch->type));
    cd_alert_settings_put(s);
    PGconn *db = cd_api_db(q, r);
    if (!db) {
        free(type);
        return;
    }
    const char *p[] = {name, q->actor ? q->actor : "anonymous"};
    char *err = NULL;
    /* Each request is its own message (a random key), delivered by any
     * worker's delivery thread like every other alert. */
    PGresult *res = cd_db_exec(
        db, "queueing a test message", PGRES_TUPLES_OK,
        "WITH e AS (INSERT INTO sp_v2_notifications (kind, dedup_key, only_channel, payload)"
        " VALUES ('TEST', 'test:' || gen_random_uuid(), $1,"
        "  jsonb_build_object('channel', $1::text, 'requested_by', $2::text)) RETURNING id)"
        " SELECT id, pg_notify('connectord_alerts', 'TEST') FROM e",
        2, p, &err);
    if (!res) {
        free(type);
        cd_api_internal_error(r, "notifications test", err);
        return;
    }
    char *msg = cd_sprintf("Test message queued for channel %s", name);
    json_t *b = json_pack("{s:b, s:s, s:s, s:s, s:s}", "success", 1, "message", msg,
                          "notification_id", PQgetvalue(res, 0, 0), "channel", name,
                          "channel_type", type);
    PQclear(res);
    free(msg);
    free(type);
    cd_api_ok(r, MHD_HTTP_ACCEPTED, b);
}
