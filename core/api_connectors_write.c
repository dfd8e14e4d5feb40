/*
 * api_connectors_write.c — changing connectors: create, update, delete,
 * pause, resume, and the dry run POST /connectors/validate. Each change
 * and its audit entry commit together, and the scheduler hears of it
 * through NOTIFY.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_audit.h"
#include "api_connectors.h"
#include "api_mask.h"
#include "api_validate.h"
#include "db.h"
#include "log.h"
#include "queue.h"
#include "registry.h"
#include "util.h"

/* alert_channels as JSON text for a jsonb parameter, or NULL for "all". */
static char *channels_text(const json_t *c)
{
    const json_t *ch = json_object_get(c, "alert_channels");
    return ch && json_is_array(ch) ? json_dumps(ch, JSON_COMPACT) : NULL;
}

static int begin(PGconn *db, cd_api_resp *r)
{
    char *err = NULL;
    if (cd_db_command(db, "starting a transaction", "BEGIN", 0, NULL, &err) != 0) {
        cd_api_internal_error(r, "starting a transaction", err);
        return -1;
    }
    return 0;
}

static int commit(PGconn *db, cd_api_resp *r)
{
    char *err = NULL;
    if (cd_db_command(db, "committing", "COMMIT", 0, NULL, &err) != 0) {
        cd_api_internal_error(r, "committing", err);
        return -1;
    }
    return 0;
}

static const char *text_of(const json_t *c, const char *key)
{
    return json_string_value(json_object_get(c, key));
}

/* Runs the INSERT or UPDATE; 23505 on the name is a 409, not a 500.
 * Returns the result (PGRES_TUPLES_OK) or NULL after answering. */
static PGresult *write_row(PGconn *db, cd_api_resp *r, const char *sql, int n,
                           const char *const *p, const char *name)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && strcmp(state, "23505") == 0) {
        char *m = cd_sprintf("A connector named '%s' already exists", name ? name : "");
        json_t *errs = json_array();
        json_array_append_new(errs, cd_api_field_error("name", "is already used by another connector"));
        cd_api_error_fields(r, MHD_HTTP_CONFLICT, m, errs);
        free(m);
    } else {
        cd_api_internal_error(r, "storing the connector", cd_db_result_error(res, "storing the connector"));
    }
    PQclear(res);
    return NULL;
}

static const char *bool_text(const json_t *v)
{
    if (json_is_true(v))
        return "true";
    if (json_is_false(v))
        return "false";
    return NULL;
}

/* What updated_at becomes on every change the API makes: the clock at
 * millisecond precision (what the API shows), and always at least one
 * millisecond past the value it replaces, so that each change shows as a
 * new updated_at, which If-Match compares (if_match_ok). */
#define UPDATED_AT_NEXT                                                                      \
    "greatest(date_trunc('milliseconds', clock_timestamp()),"                                \
    " date_trunc('milliseconds', updated_at) + interval '1 millisecond')"

/* Whether an If-Match header value names the connector's current version:
 * "*", or one of its comma-separated entity tags equal to updated_at as
 * the API shows it ("2025-10-03T14:23:11.488Z"; quotes and W/ optional).
 * 1 when it matches, 0 when not, -1 when the header is malformed. */
static int if_match_ok(const char *header, const char *updated_at)
{
    const char *p = header;
    int tags = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, ",");
        const char *e = p + n;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        const char *t = p;
        if (e - t >= 2 && t[0] == 'W' && t[1] == '/')
            t += 2;
        if (e - t >= 1 && *t == '"') {
            if (e - t < 2 || e[-1] != '"')
                return -1;
            t++;
            e--;
        }
        if (e == t)
            return -1;
        tags++;
        if ((e - t == 1 && *t == '*') ||
            (updated_at && strlen(updated_at) == (size_t)(e - t) &&
             strncmp(t, updated_at, (size_t)(e - t)) == 0))
            return 1;
        p += n;
        if (*p == ',')
            p++;
    }
    return tags ? 0 : -1;
}

void cd_api_connector_create(cd_api_req *q, cd_api_resp *r)
{
    if (!q->body) {
        cd_api_error(r, MHD_HTTP_BAD_REQUEST, "Request body must be a JSON object");
        return;
    }
    json_t *errors = json_array();
    cd_api_check_connector_body(q->body, 1, errors);
    json_t *c = json_deep_copy(q->body);
    /* A mask in a new connector stands for nothing: refuse it. */
    json_t *cfg = json_object_get(c, "connection_config");
    if (json_is_object(cfg))
        cd_api_unmask_config(cfg, NULL, "connection_config", errors);
    if (json_array_size(errors) == 0 && cd_api_validate_connector(q, r, c, 1, errors) != 0) {
        json_decref(c);
        json_decref(errors);
        return;
    }
    if (json_array_size(errors)) {
        json_decref(c);
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Validation failed", errors);
        return;
    }
    json_decref(errors);
    PGconn *db = cd_api_db(q, r);
    if (!db || begin(db, r) != 0) {
        json_decref(c);
        return;
    }
    char *cfg_text = json_dumps(json_object_get(c, "connection_config"), JSON_COMPACT);
    char *channels = channels_text(c);
    const char *created_by = text_of(c, "created_by") ? text_of(c, "created_by") : q->actor;
    const char *p[] = {text_of(c, "name"), text_of(c, "connector_type"), text_of(c, "source_entity"),
                       text_of(c, "status"), cfg_text, bool_text(json_object_get(c, "schedule_enabled")),
                       text_of(c, "schedule_cron"), text_of(c, "schedule_timezone"), created_by,
                       text_of(c, "driver"), text_of(c, "expected_by"), channels};
    PGresult *res = write_row(db, r,
                              "INSERT INTO sp_v2_connectors (name, connector_type, source_entity, status,"
                              "  connection_config, schedule_enabled, schedule_cron, schedule_timezone,"
                              "  created_by, driver, expected_by, alert_channels)"
                              " VALUES ($1, $2, $3, coalesce($4, 'ACTIVE'), $5::jsonb,"
                              "         coalesce($6::boolean, true), $7, coalesce($8, 'Asia/Kolkata'),"
                              "         $9, $10, $11, $12::jsonb)"
                              " RETURNING id",
                              12, p, text_of(c, "name"));
    free(cfg_text);
    free(channels);
    json_decref(c);
    if (!res)
        return;
    int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    char *err = NULL;
    json_t *row = cd_api_load_connector(db, id, 0, &err);
    json_t *masked = row ? cd_api_masked_copy(row) : NULL;
    json_decref(row);
    if (!masked || cd_api_audit(db, id, "CREATE", q->actor, NULL, masked, &err) != 0) {
        json_decref(masked);
        cd_api_internal_error(r, "creating the connector", err);
        return;
    }
    cd_api_notify_connectors(db, id);
    if (commit(db, r) != 0) {
        json_decref(masked);
        return;
    }
    cd_info("api: %s created connector %lld", q->actor, (long long)id);
    cd_api_ok(r, MHD_HTTP_CREATED, json_pack("{s:b, s:o, s:s}", "success", 1, "connector", masked,
                                             "message", "Connector created successfully"));
}

/* The stored connector with the request applied, masks replaced by the
 * stored secrets. Appends errors for masks with nothing behind them. */
static json_t *merge_update(const json_t *stored, const json_t *body, json_t *errors)
{
    json_t *m = json_object();
    for (size_t i = 0; cd_api_connector_fields[i]; i++) {
        const char *k = cd_api_connector_fields[i];
        if (strcmp(k, "status") == 0 || strcmp(k, "created_by") == 0)
            continue;
        json_t *v = json_object_get(body, k);
        if (!v)
            v = json_object_get(stored, k);
        if (v)
            json_object_set_new(m, k, json_deep_copy(v));
    }
    /* A connector on its category's built-in driver follows a type change. */
    const char *old_type = json_string_value(json_object_get(stored, "connector_type"));
    const char *old_drv = json_string_value(json_object_get(stored, "driver"));
    const char *new_type = json_string_value(json_object_get(body, "connector_type"));
    if (new_type && !json_object_get(body, "driver") && old_type && old_drv &&
        strcasecmp(old_type, old_drv) == 0)
        json_object_del(m, "driver");
    /* A mask keeps the stored secret only for the same driver at the same
     * addresses (cd_api_unmask_update): a new driver may show it as a
     * plain field or send it anywhere, and a new host would be sent it. */
    json_t *snap = cd_registry_get();
    char *old_driver = cd_api_connector_driver(stored);
    char *new_driver = cd_api_connector_driver(m);
    const json_t *oldcfg = json_object_get(stored, "connection_config");
    json_t *cfg = json_object_get(m, "connection_config");
    int same = old_driver && new_driver && strcmp(old_driver, new_driver) == 0;
    if (!same && json_is_object(cfg) && !json_object_get(body, "connection_config")) {
        /* The stored config kept whole under another driver: its secrets
         * are kept as if the client had sent back what GET shows. */
        cd_api_mask_config(cfg, cd_api_driver_schema(snap, old_driver));
    }
    if (json_is_object(cfg))
        cd_api_unmask_update(cfg, oldcfg, "connection_config", old_driver, new_driver,
                             cd_api_driver_schema(snap, new_driver), errors);
    free(old_driver);
    free(new_driver);
    json_decref(snap);
    return m;
}

void cd_api_connector_update(cd_api_req *q, cd_api_resp *r, int64_t id)
{
    if (!q->body) {
        cd_api_error(r, MHD_HTTP_BAD_REQUEST, "Request body must be a JSON object");
        return;
    }
    json_t *errors = json_array();
    cd_api_check_connector_body(q->body, 0, errors);
    if (json_array_size(errors)) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Validation failed", errors);
        return;
    }
    PGconn *db = cd_api_db(q, r);
    if (!db || begin(db, r) != 0) {
        json_decref(errors);
        return;
    }
    char *err = NULL;
    json_t *stored = cd_api_load_connector(db, id, 1, &err);
    if (!stored) {
        json_decref(errors);
        if (err)
            cd_api_internal_error(r, "reading the connector", err);
        else
            cd_api_error(r, MHD_HTTP_NOT_FOUND, "Connector not found");
        return;
    }
    /* If-Match: the version the client read (its updated_at). Two people
     * editing one connector from the page would otherwise each send the
     * whole form, and the later save would undo the earlier one's changes
     * without a word. */
    const char *im = MHD_lookup_connection_value(q->mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MATCH);
    if (im) {
        const char *now_at = json_string_value(json_object_get(stored, "updated_at"));
        int ok = if_match_ok(im, now_at);
        if (ok != 1) {
            char *m = ok < 0 ? cd_xstrdup("must be the connector's updated_at as read, in quotes")
                             : cd_sprintf("the connector was changed (updated_at %s) since the version "
                                          "you read: reload it and make your change again",
                                          now_at ? now_at : "null");
            json_array_append_new(errors, cd_api_field_error(ok < 0 ? "If-Match" : "updated_at", m));
            free(m);
            json_decref(stored);
            cd_api_error_fields(r, ok < 0 ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_PRECONDITION_FAILED,
                                ok < 0 ? "Invalid If-Match header"
                                       : "The connector was changed by someone else since you read it",
                                errors);
            return;
        }
    }
    json_t *c = merge_update(stored, q->body, errors);
    if (json_array_size(errors) == 0 && cd_api_validate_connector(q, r, c, 0, errors) != 0) {
        json_decref(c);
        json_decref(stored);
        json_decref(errors);
        return;
    }
    if (json_array_size(errors)) {
        json_decref(c);
        json_decref(stored);
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Validation failed", errors);
        return;
    }
    json_decref(errors);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    char *cfg_text = json_dumps(json_object_get(c, "connection_config"), JSON_COMPACT);
    char *channels = channels_text(c);
    const char *p[] = {ids, text_of(c, "name"), text_of(c, "connector_type"),
                       text_of(c, "source_entity"), cfg_text,
                       bool_text(json_object_get(c, "schedule_enabled")), text_of(c, "schedule_cron"),
                       text_of(c, "schedule_timezone"), text_of(c, "driver"),
                       text_of(c, "expected_by"), channels};
    PGresult *res = write_row(db, r,
                              "UPDATE sp_v2_connectors SET name = $2, connector_type = $3,"
                              "  source_entity = $4, connection_config = $5::jsonb,"
                              "  schedule_enabled = coalesce($6::boolean, true), schedule_cron = $7::text,"
                              "  schedule_timezone = coalesce($8, 'Asia/Kolkata'), driver = $9,"
                              "  expected_by = $10, alert_channels = $11::jsonb, updated_at = " UPDATED_AT_NEXT ","
                              /* A schedule switched on starts now, as a resume
                               * does: the slots of the days it was off are not
                               * caught up (scheduler.c). */
                              "  resumed_at = CASE WHEN coalesce($6::boolean, true)"
                              "       AND coalesce($7::text, '') <> ''"
                              "       AND NOT (schedule_enabled IS TRUE"
                              "                AND coalesce(schedule_cron, '') <> '')"
                              "       THEN now() ELSE resumed_at END"
                              " WHERE id = $1 RETURNING id",
                              11, p, text_of(c, "name"));
    free(cfg_text);
    free(channels);
    json_decref(c);
    if (!res) {
        json_decref(stored);
        return;
    }
    PQclear(res);
    json_t *before = cd_api_masked_copy(stored);
    json_t *row = cd_api_load_connector(db, id, 0, &err);
    json_t *after = row ? cd_api_masked_copy(row) : NULL;
    /* A rotated secret masks to the same text before and after: what
     * changed is read from the rows as stored. */
    if (!after || cd_api_audit_diff(db, id, "UPDATE", q->actor, before, after, stored, row,
                                    &err) != 0) {
        json_decref(stored);
        json_decref(row);
        json_decref(before);
        json_decref(after);
        cd_api_internal_error(r, "updating the connector", err);
        return;
    }
    json_decref(stored);
    json_decref(row);
    json_decref(before);
    cd_api_notify_connectors(db, id);
    if (commit(db, r) != 0) {
        json_decref(after);
        return;
    }
    cd_api_ok(r, MHD_HTTP_OK, json_pack("{s:b, s:o, s:s}", "success", 1, "connector", after,
                                        "message", "Connector updated successfully"));
}

/* Ids of the connector's unfinished runs with the given status. */
static PGresult *runs_in(PGconn *db, const char *ids, const char *status, char **err)
{
    const char *p[] = {ids, status};
    return cd_db_exec(db, "reading the connector's runs", PGRES_TUPLES_OK,
                      "SELECT id FROM sp_v2_connector_runs WHERE connector_id = $1 AND status = $2",
                      2, p, err);
}

/* Runs a statement of the delete's transaction. A deadlock with a run
 * finishing or being claimed, a serialization failure or a lock wait past
 * lock_timeout is a 409 "try again", anything else a 500. Returns the
 * result, or NULL after answering (the transaction is then rolled back
 * when the connection goes back to the pool). */
static PGresult *delete_step(PGconn *db, cd_api_resp *r, const char *what, const char *sql,
                             int n, const char *const *p)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0 ||
                  strcmp(state, "55P03") == 0)) {
        cd_info("api: deleting a connector: %s: SQLSTATE %s, answered 409", what, state);
        cd_api_error(r, MHD_HTTP_CONFLICT,
                     "The connector is busy (one of its runs was starting or finishing at the "
                     "same moment): try the delete again");
    } else {
        cd_api_internal_error(r, "deleting the connector", cd_db_result_error(res, what));
    }
    PQclear(res);
    return NULL;
}

/* FOR NO KEY UPDATE is what a claim takes on the run it starts: a claim in
 * flight is waited for and its run then read as RUNNING, and a claim
 * after this (SKIP LOCKED) passes the locked queued runs by. The rows a
 * runner writes that only reference a run (log lines, record errors) take
 * a key-share lock, which does not conflict and is not waited for. */
#define LOCK_RUNS_SQL                                                                       \
    "SELECT id, status FROM sp_v2_connector_runs"                                           \
    " WHERE connector_id = $1 AND status IN ('QUEUED', 'RUNNING')"                          \
    " ORDER BY id FOR NO KEY UPDATE"

/* The ids of the RUNNING runs a forced delete asked to stop. */
typedef struct id_list {
    int64_t *v;
    size_t n, cap;
} id_list;

static int id_listed(const id_list *l, int64_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == id)
            return 1;
    return 0;
}

static void id_add(id_list *l, int64_t id)
{
    if (id_listed(l, id))
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = cd_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = id;
}

/* ?force=true: cancels the queued runs, asks the running ones to stop
 * (adding them to asked) and gives their runners the grace period to end
 * and finalize, so that the delete does not wait on their locks for long.
 * Returns how many runs were cancelled. */
static int cancel_and_wait(cd_api_req *q, PGconn *db, const char *ids, id_list *asked)
{
    int cancelled = 0;
    char *err = NULL;
    /* Queued runs first, so none starts while the running one stops. */
    const char *order[] = {"QUEUED", "RUNNING"};
    for (int k = 0; k < 2; k++) {
        PGresult *ids_res = runs_in(db, ids, order[k], &err);
        for (int i = 0; ids_res && i < PQntuples(ids_res); i++) {
            int64_t run_id = strtoll(PQgetvalue(ids_res, i, 0), NULL, 10);
            int rc = cd_cancel_run(db, run_id, q->actor, &err);
            if (rc > 0)
                cancelled++;
            if (rc == 2)
                id_add(asked, run_id);
            if (rc == CD_CANCEL_NOT_FOUND) {
                free(err); /* gone already: nothing to cancel */
                err = NULL;
            }
            if (err)
                cd_warn("api: deleting connector %s: %s", ids, err);
            free(err);
            err = NULL;
        }
        PQclear(ids_res);
        if (err)
            cd_warn("api: deleting connector %s: %s", ids, err);
        free(err);
        err = NULL;
    }
    int grace = (int)cd_config_int(q->api->cfg, "runner.kill_grace_seconds", 10, NULL) + 5;
    for (int i = 0; asked->n && i < grace * 10; i++) {
        PGresult *left = runs_in(db, ids, "RUNNING", &err);
        int n = left ? PQntuples(left) : 0;
        PQclear(left);
        free(err);
        err = NULL;
        if (n == 0)
            break;
        usleep(100000);
    }
    return cancelled;
}

enum { DELETE_DONE, DELETE_AGAIN };

/* One attempt at the delete, in one transaction: the connector's queued
 * and running runs are locked, then the connector (which holds off new
 * runs: inserting one takes a key-share lock on it), then its runs again
 * for those queued in between. No run can start after that, and one
 * that started before is seen RUNNING: a run is never deleted while it
 * runs unless a forced delete asked it to stop and it outlived its grace
 * period. Runs and then their connector is also the order in which a run
 * finishing and a cancel lock them, so neither deadlocks with this. */
static int delete_once(cd_api_req *q, cd_api_resp *r, PGconn *db, int64_t id, const char *ids,
                       int force, const id_list *asked, int round, int cancelled)
{
    const char *p[] = {ids};
    if (begin(db, r) != 0)
        return DELETE_DONE;
    PGresult *res = delete_step(db, r, "limiting the lock wait",
                                "SET LOCAL lock_timeout = '15s'", 0, NULL);
    if (!res)
        return DELETE_DONE;
    PQclear(res);
    if (!(res = delete_step(db, r, "locking the connector's runs", LOCK_RUNS_SQL, 1, p)))
        return DELETE_DONE;
    PQclear(res);
    if (!(res = delete_step(db, r, "locking the connector",
                            "SELECT id FROM sp_v2_connectors WHERE id = $1 FOR UPDATE", 1, p)))
        return DELETE_DONE;
    int found = PQntuples(res) > 0;
    PQclear(res);
    if (!found) {
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Connector not found");
        return DELETE_DONE;
    }
    if (!(res = delete_step(db, r, "locking the connector's runs", LOCK_RUNS_SQL, 1, p)))
        return DELETE_DONE;
    int queued = 0;
    const char *running = NULL;
    int unasked = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 1), "QUEUED") == 0) {
            queued++;
            continue;
        }
        if (!running)
            running = PQgetvalue(res, i, 0);
        if (!id_listed(asked, strtoll(PQgetvalue(res, i, 0), NULL, 10)))
            unasked++;
    }
    if (running && !force) {
        char *m = cd_sprintf("Connector has a running run (id %s): cancel it first, or delete with "
                             "?force=true to cancel it and delete",
                             running);
        cd_api_error(r, MHD_HTTP_CONFLICT, m);
        free(m);
        PQclear(res);
        return DELETE_DONE;
    }
    PQclear(res);
    if (unasked) {
        /* Started after the cancel: it gets a cancel and its grace too. */
        if (round < 2)
            return DELETE_AGAIN;
        cd_api_error(r, MHD_HTTP_CONFLICT,
                     "The connector is busy (its runs keep starting while it is being deleted): "
                     "try the delete again");
        return DELETE_DONE;
    }
    char *err = NULL;
    json_t *stored = cd_api_load_connector(db, id, 0, &err);
    if (!stored) {
        cd_api_internal_error(r, "reading the connector", err);
        return DELETE_DONE;
    }
    json_t *before = cd_api_masked_copy(stored);
    json_decref(stored);
    res = delete_step(db, r, "deleting the connector",
                      "DELETE FROM sp_v2_connectors WHERE id = $1 RETURNING id", 1, p);
    if (!res) {
        json_decref(before);
        return DELETE_DONE;
    }
    PQclear(res);
    if (cd_api_audit(db, id, "DELETE", q->actor, before, NULL, &err) != 0) {
        json_decref(before);
        cd_api_internal_error(r, "deleting the connector", err);
        return DELETE_DONE;
    }
    json_decref(before);
    cd_api_notify_connectors(db, id);
    if (commit(db, r) != 0)
        return DELETE_DONE;
    cd_info("api: %s deleted connector %lld (%d queued runs dropped with it)", q->actor,
            (long long)id, queued);
    cd_api_ok(r, MHD_HTTP_OK,
              json_pack("{s:b, s:s, s:o, s:i, s:i}", "success", 1, "message",
                        "Connector deleted successfully", "id", cd_api_id_string(id),
                        "cancelled_runs", cancelled, "dropped_queued_runs", queued));
    return DELETE_DONE;
}

void cd_api_connector_delete(cd_api_req *q, cd_api_resp *r, int64_t id)
{
    if (cd_api_refuse_body_fields(q, r) != 0)
        return;
    const char *force_s = cd_api_query(q, "force");
    int force = force_s && (strcmp(force_s, "true") == 0 || strcmp(force_s, "1") == 0);
    if (force_s && !force && strcmp(force_s, "false") != 0 && strcmp(force_s, "0") != 0) {
        json_t *errs = json_array();
        json_array_append_new(errs, cd_api_field_error("force", "must be true or false"));
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Invalid query parameters", errs);
        return;
    }
    PGconn *db = cd_api_db(q, r);
    if (!db)
        return;
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    char *err = NULL;
    if (!force) {
        /* The usual refusal without a lock wait; delete_once decides. */
        PGresult *running = runs_in(db, ids, "RUNNING", &err);
        if (!running) {
            cd_api_internal_error(r, "reading the connector's runs", err);
            return;
        }
        if (PQntuples(running) > 0) {
            char *m = cd_sprintf("Connector has a running run (id %s): cancel it first, or "
                                 "delete with ?force=true to cancel it and delete",
                                 PQgetvalue(running, 0, 0));
            cd_api_error(r, MHD_HTTP_CONFLICT, m);
            free(m);
            PQclear(running);
            return;
        }
        PQclear(running);
    }
    id_list asked = {0};
    int cancelled = 0;
    for (int round = 0;; round++) {
        if (force)
            cancelled += cancel_and_wait(q, db, ids, &asked);
        if (delete_once(q, r, db, id, ids, force, &asked, round, cancelled) == DELETE_DONE)
            break;
        /* A new round starts from no transaction. */
        if (cd_db_command(db, "rolling back", "ROLLBACK", 0, NULL, &err) != 0) {
            cd_api_internal_error(r, "deleting the connector", err);
            break;
        }
    }
    free(asked.v);
}

void cd_api_connector_pause(cd_api_req *q, cd_api_resp *r, int64_t id, int pause)
{
    if (cd_api_refuse_body_fields(q, r) != 0)
        return;
    PGconn *db = cd_api_db(q, r);
    if (!db || begin(db, r) != 0)
        return;
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *p[] = {ids};
    char *err = NULL;
    PGresult *cur = cd_db_exec(db, "reading the connector", PGRES_TUPLES_OK,
                               "SELECT id, name, status FROM sp_v2_connectors WHERE id = $1 FOR UPDATE",
                               1, p, &err);
    if (!cur) {
        cd_api_internal_error(r, "reading the connector", err);
        return;
    }
    if (PQntuples(cur) == 0) {
        PQclear(cur);
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Connector not found");
        return;
    }
    json_t *before = cd_api_row_json(cur, 0);
    PQclear(cur);
    const char *status = json_string_value(json_object_get(before, "status"));
    /* Pausing a paused connector and resuming a running one change
     * nothing and need no audit entry; resume only lifts a pause. */
    int change = pause ? strcmp(status, "PAUSED") != 0 : strcmp(status, "PAUSED") == 0;
    json_t *after = NULL;
    if (change) {
        PGresult *res = cd_db_exec(
            db, pause ? "pausing the connector" : "resuming the connector", PGRES_TUPLES_OK,
            pause ? "UPDATE sp_v2_connectors SET status = 'PAUSED', paused_at = now(),"
                    " updated_at = " UPDATED_AT_NEXT " WHERE id = $1 RETURNING id, name, status"
                  /* Back to what its runs say: FAILED until a run succeeds,
                   * as the finalize in runs.c would have left it. A cancelled
                   * run is not a failure there, so not here either. */
                  : "UPDATE sp_v2_connectors c SET status = CASE WHEN (SELECT r.status"
                    "   FROM sp_v2_connector_runs r WHERE r.connector_id = c.id"
                    "    AND r.run_type <> 'TEST'"
                    "    AND r.status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED')"
                    "    AND COALESCE(r.details->>'outcome', '') <> 'cancelled'"
                    "  ORDER BY r.completed_at DESC NULLS LAST, r.id DESC LIMIT 1) = 'FAILED'"
                    "  THEN 'FAILED' ELSE 'ACTIVE' END,"
                    " resumed_at = now(), updated_at = " UPDATED_AT_NEXT " WHERE id = $1"
                    " RETURNING id, name, status",
            1, p, &err);
        if (res) {
            after = cd_api_row_json(res, 0);
            PQclear(res);
        }
        if (!after || cd_api_audit(db, id, pause ? "PAUSE" : "RESUME", q->actor, before, after,
                                   &err) != 0) {
            json_decref(before);
            json_decref(after);
            cd_api_internal_error(r, pause ? "pausing the connector" : "resuming the connector", err);
            return;
        }
        cd_api_notify_connectors(db, id);
    } else {
        after = json_incref(before);
    }
    json_decref(before);
    if (commit(db, r) != 0) {
        json_decref(after);
        return;
    }
    cd_api_ok(r, MHD_HTTP_OK,
              json_pack("{s:b, s:o, s:s}", "success", 1, "connector", after, "message",
                        pause ? "Connector paused successfully" : "Connector resumed successfully"));
}

void cd_api_connector_validate(cd_api_req *q, cd_api_resp *r)
{
    if (!q->body) {
        cd_api_error(r, MHD_HTTP_BAD_REQUEST, "Request body must be a JSON object");
        return;
    }
    json_t *errors = json_array();
    json_t *body = json_deep_copy(q->body);
    /* With "id", the body is a would-be update of that connector. */
    json_t *idv = json_object_get(body, "id");
    int64_t id = -1;
    if (idv) {
        if (json_is_string(idv))
            id = cd_api_parse_id(json_string_value(idv));
        else if (json_is_integer(idv) && json_integer_value(idv) > 0)
            id = json_integer_value(idv);
        if (id < 0)
            json_array_append_new(errors, cd_api_field_error("id", "must be a positive integer"));
        json_object_del(body, "id");
    }
    json_t *c = NULL;
    cd_api_check_connector_body(body, id < 0, errors);
    if (id > 0 && json_array_size(errors) == 0) {
        PGconn *db = cd_api_db(q, r);
        if (!db) {
            json_decref(body);
            json_decref(errors);
            return;
        }
        char *err = NULL;
        json_t *stored = cd_api_load_connector(db, id, 0, &err);
        if (!stored) {
            json_decref(body);
            json_decref(errors);
            if (err)
                cd_api_internal_error(r, "reading the connector", err);
            else
                cd_api_error(r, MHD_HTTP_NOT_FOUND, "Connector not found");
            return;
        }
        c = merge_update(stored, body, errors);
        json_decref(stored);
    } else {
        c = json_incref(body);
        json_t *cfg = json_object_get(c, "connection_config");
        if (json_is_object(cfg))
            cd_api_unmask_config(cfg, NULL, "connection_config", errors);
    }
    /* Report everything at once: field-level checks run even when the body
     * also has unknown fields. */
    int failed = cd_api_validate_connector(q, r, c, id < 0, errors) != 0;
    /* A dry run says what the write would: a name another connector has is
     * a 409 there, so an error here. */
    const char *name = json_string_value(json_object_get(c, "name"));
    if (!failed && name) {
        PGconn *db = cd_api_db(q, r);
        char ids[24];
        snprintf(ids, sizeof ids, "%lld", (long long)id);
        const char *p[] = {name, ids};
        char *err = NULL;
        PGresult *res = db ? cd_db_exec(db, "checking the name", PGRES_TUPLES_OK,
                                        "SELECT 1 FROM sp_v2_connectors WHERE name = $1"
                                        " AND id <> $2::bigint",
                                        2, p, &err)
                           : NULL;
        if (!res) {
            if (db)
                cd_api_internal_error(r, "checking the name", err);
            failed = 1;
        } else {
            if (PQntuples(res) > 0)
                json_array_append_new(errors, cd_api_field_error(
                                                  "name", "is already used by another connector"));
            PQclear(res);
        }
    }
    json_decref(c);
    json_decref(body);
    if (failed) {
        json_decref(errors);
        return;
    }
    size_t n = json_array_size(errors);
    cd_api_ok(r, MHD_HTTP_OK, json_pack("{s:b, s:b, s:I, s:o}", "success", 1, "valid", n == 0,
                                        "error_count", (json_int_t)n, "errors", errors));
}
