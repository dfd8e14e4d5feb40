/*
 * api_backfill.c — backfills: one BACKFILL run per date of a range, queued
 * together under a backfill id (cd_queue_backfill), their progress, and
 * cancelling what has not finished. Dates are business dates in the
 * connector's time zone; the range is bounded by backfill.max_days.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "datetime.h"
#include "db.h"
#include "log.h"
#include "queue.h"
#include "util.h"

static int uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* The backfill's progress (schema/023: connectord_backfill_progress):
 * total, queued, running, succeeded, failed and cancelled (these five add
 * up to total: a cancelled date is not a failed one) and the dates. NULL
 * with *err "Backfill not found" when the connector has no run of it. */
static json_t *read_progress(PGconn *db, int64_t connector_id, const char *bid, char **err)
{
    if (!uuid_valid(bid)) {
        *err = cd_xstrdup("Backfill not found");
        return NULL;
    }
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)connector_id);
    const char *p[] = {id, bid};
    PGresult *res = cd_db_exec(db, "reading the backfill", PGRES_TUPLES_OK,
                               "SELECT connectord_backfill_progress($1::bigint, $2::uuid)::text",
                               2, p, err);
    if (!res)
        return NULL;
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        *err = cd_xstrdup("Backfill not found");
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    PQclear(res);
    if (!j)
        *err = cd_sprintf("reading the backfill: bad JSON from the database: %s", jerr.text);
    return j;
}

static long days_of(const char *date)
{
    int y, m, d;
    if (cd_date_parse(date, &y, &m, &d) != 0)
        return 0;
    return cd_days_from_civil(y, m, d);
}

void cd_api_backfill_create(cd_api_req *q, cd_api_resp *r, int64_t id)
{
    static const char *const allowed[] = {"from_date", "to_date", "triggered_by", NULL};
    if (!q->body) {
        cd_api_error(r, MHD_HTTP_BAD_REQUEST, "Request body must be a JSON object");
        return;
    }
    json_t *errors = json_array();
    cd_api_check_fields(q->body, allowed, errors);
    const char *from = cd_api_opt_string(q->body, "from_date", 10, errors);
    const char *to = cd_api_opt_string(q->body, "to_date", 10, errors);
    const char *by = cd_api_opt_string(q->body, "triggered_by", 100, errors);
    const char *why = NULL;
    const char *names[] = {"from_date", "to_date"};
    const char *vals[] = {from, to};
    for (int i = 0; i < 2; i++) {
        /* null is as good as absent (cd_api_opt_string gives NULL for both) */
        json_t *v = json_object_get(q->body, names[i]);
        if (!v || json_is_null(v))
            json_array_append_new(errors, cd_api_field_error(names[i], "is required"));
        else if (vals[i] && cd_date_valid(vals[i], strlen(vals[i]), &why) != 0)
            json_array_append_new(errors, cd_api_field_error(names[i], "must be a date YYYY-MM-DD"));
    }
    if (json_array_size(errors)) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Validation failed", errors);
        return;
    }
    char *status = NULL;
    if (cd_api_connector_runnable(q, r, id, &status) != 1) {
        json_decref(errors);
        return;
    }
    int paused = strcmp(status, "PAUSED") == 0;
    free(status);
    if (paused) {
        json_decref(errors);
        cd_api_error(r, MHD_HTTP_BAD_REQUEST, "Cannot run paused connector. Resume it first.");
        return;
    }
    char today[11];
    char *err = NULL;
    if (cd_queue_connector_today(q->db, id, today, &err) != 0) {
        json_decref(errors);
        if (err && strstr(err, "Connector not found")) { /* deleted meanwhile */
            free(err);
            cd_api_error(r, MHD_HTTP_NOT_FOUND, "Connector not found");
        } else {
            cd_api_internal_error(r, "reading the connector's date", err);
        }
        return;
    }
    long span = days_of(to) - days_of(from) + 1;
    int max = q->api->backfill_max_days;
    if (span < 1)
        json_array_append_new(errors, cd_api_field_error("to_date", "must not be before from_date"));
    if (strcmp(to, today) > 0)
        json_array_append_new(errors, cd_api_field_error("to_date", "is in the future (in the connector's time zone)"));
    if (strcmp(from, today) > 0)
        json_array_append_new(errors, cd_api_field_error("from_date", "is in the future (in the connector's time zone)"));
    if (span > max) {
        char *m = cd_sprintf("the range has %ld days; at most %d (backfill.max_days)", span, max);
        json_array_append_new(errors, cd_api_field_error("to_date", m));
        free(m);
    }
    if (json_array_size(errors)) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Validation failed", errors);
        return;
    }
    json_decref(errors);
    char bid[37];
    int n = cd_queue_backfill(q->db, id, from, to, by && *by ? by : q->actor, bid, &err);
    /* The connector deleted while the backfill was being queued: gone
     * before the INSERT read it (no run queued, n is 0), or after (its
     * runs' foreign key fails). A 404 either way, not a 500, nor a 202
     * "Backfill queued" with no run in it. */
    if (n == 0 || (n < 0 && err && (strstr(err, "Connector not found") ||
                                    strstr(err, CD_API_RUN_CONNECTOR_FKEY)))) {
        free(err);
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Connector not found");
        return;
    }
    if (n < 0) {
        if (err && strstr(err, "paused")) {
            free(err);
            cd_api_error(r, MHD_HTTP_BAD_REQUEST, "Cannot run paused connector. Resume it first.");
        } else {
            cd_api_internal_error(r, "queueing the backfill", err);
        }
        return;
    }
    cd_info("api: %s queued backfill %s of connector %lld, %s..%s (%d runs)", q->actor, bid,
            (long long)id, from, to, n);
    json_t *progress = read_progress(q->db, id, bid, &err);
    free(err);
    json_t *b = json_pack("{s:b, s:s, s:s, s:i, s:s, s:s}", "success", 1, "message",
                          "Backfill queued", "backfill_id", bid, "runs", n, "from_date", from,
                          "to_date", to);
    if (progress)
        json_object_set_new(b, "progress", progress);
    cd_api_ok(r, MHD_HTTP_ACCEPTED, b);
}

void cd_api_backfill_get(cd_api_req *q, cd_api_resp *r, int64_t id, const char *bid)
{
    if (!uuid_valid(bid)) {
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Backfill not found");
        return;
    }
    if (cd_api_connector_exists(q, r, id, NULL) != 1)
        return;
    char *err = NULL;
    json_t *p = read_progress(q->db, id, bid, &err);
    if (!p) {
        if (err && strstr(err, "not found")) {
            free(err);
            cd_api_error(r, MHD_HTTP_NOT_FOUND, "Backfill not found");
        } else {
            cd_api_internal_error(r, "reading the backfill", err);
        }
        return;
    }
    json_object_set_new(p, "success", json_true());
    cd_api_ok(r, MHD_HTTP_OK, p);
}

void cd_api_backfill_cancel(cd_api_req *q, cd_api_resp *r, int64_t id, const char *bid)
{
    if (cd_api_refuse_body_fields(q, r) != 0)
        return;
    if (!uuid_valid(bid)) {
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Backfill not found");
        return;
    }
    if (cd_api_connector_exists(q, r, id, NULL) != 1)
        return;
    char *err = NULL;
    json_t *p = read_progress(q->db, id, bid, &err);
    if (!p) {
        if (err && strstr(err, "not found")) {
            free(err);
            cd_api_error(r, MHD_HTTP_NOT_FOUND, "Backfill not found");
        } else {
            cd_api_internal_error(r, "reading the backfill", err);
        }
        return;
    }
    json_decref(p);
    int n = cd_cancel_backfill(q->db, id, bid, q->actor, &err);
    if (n < 0) {
        cd_api_internal_error(r, "cancelling the backfill", err);
        return;
    }
    cd_info("api: %s cancelled backfill %s (%d runs)", q->actor, bid, n);
    cd_api_ok(r, MHD_HTTP_OK, json_pack("{s:b, s:s, s:s, s:i}", "success", 1, "message",
                                        "Backfill cancelled", "backfill_id", bid, "cancelled_runs", n));
}
