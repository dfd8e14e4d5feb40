/*
 * api_connectors.c — reading connectors: the list with its filters and
 * summary, one connector, its audit trail; and the helpers the other
 * handlers share. Changes (create, update, delete, pause, resume) are in
 * api_connectors_write.c.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_connectors.h"
#include "api_mask.h"
#include "api_validate.h"
#include "cron.h"
#include "db.h"
#include "log.h"
#include "queue.h"
#include "registry.h"
#include "util.h"

/* success_rate = round(100 * success_count / total_runs); active_run is the
 * running run, else the oldest queued one, so the page knows to keep
 * refreshing and shows what is happening: a manual run claimed ahead of a
 * backfill's queued dates is the one running, not the oldest queued date. */
#define CONNECTOR_SELECT                                                                     \
    "SELECT c.*,"                                                                            \
    "       CASE WHEN coalesce(c.total_runs, 0) > 0"                                         \
    "            THEN round(100.0 * coalesce(c.success_count, 0) / c.total_runs)::int"      \
    "            ELSE 0 END AS success_rate,"                                                \
    "       (SELECT json_build_object('id', r.id::text, 'status', r.status,"                 \
    "                                 'run_type', r.run_type, 'run_date', r.run_date)"       \
    "          FROM sp_v2_connector_runs r"                                                  \
    "         WHERE r.connector_id = c.id AND r.status IN ('QUEUED', 'RUNNING')"             \
    "         ORDER BY r.status = 'RUNNING' DESC, r.id LIMIT 1) AS active_run"              \
    "  FROM sp_v2_connectors c"

/* next_run_at (borrowed from cache, JSON null when none); cache maps
 * "cron\ntz" to the answer, since most connectors share a handful of
 * schedules. *soonest (when not NULL) is lowered to the answer's epoch
 * seconds: a rendered body is stale from then on. */
static json_t *next_run(const char *cron, const char *tz, int enabled, const char *status,
                        json_t *cache, int64_t now, int64_t *soonest)
{
    static json_t *none;
    if (!none)
        none = json_null(); /* a singleton in jansson: never freed */
    /* The scheduler runs ACTIVE and FAILED connectors only: a PAUSED or a
     * TESTING one has no next run to show. */
    if (!cron || !enabled || !status || (strcmp(status, "ACTIVE") != 0 && strcmp(status, "FAILED") != 0))
        return none;
    if (!tz)
        tz = "Asia/Kolkata";
    char *key = cd_sprintf("%s\n%s", cron, tz);
    json_t *hit = json_object_get(cache, key);
    json_t *at = NULL;
    char *atkey = soonest ? cd_sprintf("%s\nt", key) : NULL;
    if (!hit) {
        cd_cron parsed;
        char *err = NULL;
        int64_t next = 0;
        if (cd_cron_parse(cron, &parsed, &err) == 0 &&
            cd_cron_next(&parsed, tz, now, &next, &err) == 0) {
            time_t t = (time_t)next;
            struct tm tm;
            gmtime_r(&t, &tm);
            char buf[32];
            strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
            hit = json_string(buf);
            if (atkey)
                json_object_set_new(cache, atkey, json_integer(next));
        } else {
            hit = json_null();
        }
        free(err);
        json_object_set_new(cache, key, hit);
    }
    if (atkey && (at = json_object_get(cache, atkey)) != NULL &&
        (*soonest == 0 || json_integer_value(at) < *soonest))
        *soonest = json_integer_value(at);
    free(atkey);
    free(key);
    return hit;
}

static void add_next_run(json_t *c, json_t *cache, int64_t now, int64_t *soonest)
{
    json_t *n = next_run(json_string_value(json_object_get(c, "schedule_cron")),
                         json_string_value(json_object_get(c, "schedule_timezone")),
                         json_is_true(json_object_get(c, "schedule_enabled")),
                         json_string_value(json_object_get(c, "status")), cache, now, soonest);
    json_object_set(c, "next_run_at", n);
}

json_t *cd_api_connector_json(const PGresult *res, int row, json_t *snapshot, json_t *cache)
{
    json_t *c = cd_api_row_json(res, row);
    cd_api_mask_connector(c, snapshot);
    add_next_run(c, cache, (int64_t)time(NULL), NULL);
    return c;
}

json_t *cd_api_load_connector(PGconn *db, int64_t id, int for_update, char **err)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *p[] = {ids};
    PGresult *res = cd_db_exec(db, "reading the connector", PGRES_TUPLES_OK,
                               /* NO KEY: an update holds this while the driver
                                * checks the config (a child process, up to 10 s);
                                * FOR UPDATE would also hold off every INSERT of a
                                * run of the connector (its foreign key takes a
                                * key-share lock): the scheduler's tick for all
                                * connectors, manual runs, backfills. */
                               for_update ? CONNECTOR_SELECT " WHERE c.id = $1 FOR NO KEY UPDATE OF c"
                                          : CONNECTOR_SELECT " WHERE c.id = $1",
                               1, p, err);
    if (!res)
        return NULL;
    json_t *c = PQntuples(res) ? cd_api_row_json(res, 0) : NULL;
    PQclear(res);
    return c;
}

static json_t *masked_copy(const json_t *c, int64_t *soonest)
{
    json_t *m = json_deep_copy(c);
    json_t *snap = cd_registry_get();
    cd_api_mask_connector(m, snap);
    json_t *cache = json_object();
    add_next_run(m, cache, (int64_t)time(NULL), soonest);
    json_decref(cache);
    json_decref(snap);
    return m;
}

json_t *cd_api_masked_copy(const json_t *c)
{
    return masked_copy(c, NULL);
}

/* valid_until_ms of a body whose soonest next_run_at is soonest (epoch
 * seconds, 0: none). */
static int64_t until_ms(int64_t soonest)
{
    return soonest > 0 ? soonest * 1000 : 0;
}

/* The connector's row as sql (one parameter: its id) reads it, or NULL
 * with the response made and *rc set: 0 not found (404), -1 an error. */
static PGresult *connector_row(cd_api_req *q, cd_api_resp *r, int64_t id, const char *sql,
                               int *rc)
{
    *rc = -1;
    PGconn *db = cd_api_db(q, r);
    if (!db)
        return NULL;
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *p[] = {ids};
    char *err = NULL;
    PGresult *res = cd_db_exec(db, "reading the connector", PGRES_TUPLES_OK, sql, 1, p, &err);
    if (!res) {
        cd_api_internal_error(r, "reading the connector", err);
        return NULL;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        cd_api_error(r, MHD_HTTP_NOT_FOUND, "Connector not found");
        *rc = 0;
        return NULL;
    }
    return res;
}

int cd_api_connector_exists(cd_api_req *q, cd_api_resp *r, int64_t id, char **status)
{
    int rc;
    PGresult *res =
        connector_row(q, r, id, "SELECT status FROM sp_v2_connectors WHERE id = $1", &rc);
    if (!res)
        return rc;
    if (status)
        *status = cd_xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 1;
}

int cd_api_connector_runnable(cd_api_req *q, cd_api_resp *r, int64_t id, char **status)
{
    int rc;
    /* The zone as the run functions of schema/007 read it. */
    PGresult *res = connector_row(q, r, id,
                                  "SELECT status, coalesce(nullif(schedule_timezone, ''),"
                                  "                        'Asia/Kolkata')"
                                  "  FROM sp_v2_connectors WHERE id = $1",
                                  &rc);
    if (!res)
        return rc;
    PGconn *db = cd_api_db(q, r);
    char *err = NULL;
    /* A zone stored before the API checked it against PostgreSQL too (AET,
     * IST) fails the run's date in the database: say so, not a 500. */
    char *why = NULL;
    int ok = cd_api_tz_check(db, PQgetvalue(res, 0, 1), &why, &err);
    if (ok < 0) {
        PQclear(res);
        cd_api_internal_error(r, "checking the connector's time zone", err);
        return -1;
    }
    if (!ok) {
        PQclear(res);
        json_t *errs = json_array();
        json_array_append_new(errs, cd_api_field_error("schedule_timezone", why));
        free(why);
        cd_api_error_fields(r, MHD_HTTP_CONFLICT,
                            "The connector's schedule_timezone cannot be used to date its runs: "
                            "set a valid one with PUT /connectors/:id",
                            errs);
        return 0;
    }
    if (status)
        *status = cd_xstrdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 1;
}

void cd_api_notify_connectors(PGconn *db, int64_t id)
{
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *p[] = {CD_CONNECTORS_CHANNEL, ids};
    char *err = NULL;
    if (cd_db_command(db, "notifying the scheduler", "SELECT pg_notify($1, $2)", 2, p, &err) != 0) {
        cd_warn("api: %s", err);
        free(err);
    }
}

/* '%' and '_' in q are literal: escape them for ILIKE (default escape \). */
static char *like_pattern(const char *s)
{
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_putc(&b, '%');
    for (; *s; s++) {
        if (*s == '%' || *s == '_' || *s == '\\')
            cd_buf_putc(&b, '\\');
        cd_buf_putc(&b, *s);
    }
    cd_buf_putc(&b, '%');
    return cd_buf_take(&b);
}

static const char *upper_in(const char *v, const char *const *allowed, char *buf, size_t n)
{
    if (!v)
        return NULL;
    size_t i = 0;
    for (; v[i] && i < n - 1; i++)
        buf[i] = (char)toupper((unsigned char)v[i]);
    buf[i] = '\0';
    if (v[i])
        return "";
    for (size_t k = 0; allowed[k]; k++)
        if (strcmp(buf, allowed[k]) == 0)
            return buf;
    return "";
}

typedef struct list_ctx {
    json_t *snap;
    int cfg_col, drv_col, type_col;
} list_ctx;

/* connection_config, masked with its driver's schema. */
static int emit_config(cd_buf *b, const PGresult *res, int row, int col, void *arg)
{
    list_ctx *lc = arg;
    if (col != lc->cfg_col || PQgetisnull(res, row, col))
        return 0;
    json_t *cfg = json_loads(PQgetvalue(res, row, col), JSON_DECODE_ANY, NULL);
    const char *drv = lc->drv_col >= 0 && !PQgetisnull(res, row, lc->drv_col)
                          ? PQgetvalue(res, row, lc->drv_col) : NULL;
    char *lower = NULL;
    if (!drv || !*drv) {
        lower = cd_xstrdup(PQgetvalue(res, row, lc->type_col));
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        drv = lower;
    }
    cd_api_mask_config(cfg, cd_api_driver_schema(lc->snap, drv));
    char *t = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    cd_buf_puts(b, t ? t : "null");
    free(t);
    free(lower);
    json_decref(cfg);
    return 1;
}

static void render_list(cd_api_req *q, cd_api_resp *r, const char *status, const char *type,
                        const char *text, int64_t *soonest);

void cd_api_connectors_list(cd_api_req *q, cd_api_resp *r)
{
    static const char *const statuses[] = {"ACTIVE", "PAUSED", "FAILED", "TESTING", NULL};
    static const char *const types[] = {"BANK_SFTP", "BANK_API", "PG_API", "PG_DATABASE", NULL};
    char sbuf[16], tbuf[16];
    json_t *errors = json_array();
    const char *status = upper_in(cd_api_query(q, "status"), statuses, sbuf, sizeof sbuf);
    const char *type = upper_in(cd_api_query(q, "type"), types, tbuf, sizeof tbuf);
    const char *text = cd_api_query_text(q, "q", 200, errors);
    if (status && !*status)
        json_array_append_new(errors, cd_api_field_error("status", "must be ACTIVE, PAUSED, FAILED or TESTING"));
    if (type && !*type)
        json_array_append_new(errors, cd_api_field_error("type", "must be BANK_SFTP, BANK_API, PG_API or PG_DATABASE"));
    if (json_array_size(errors)) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Invalid query parameters", errors);
        return;
    }
    json_decref(errors);
    /* Every parameter that shapes the body, in a form that cannot run
     * together (status and type are from fixed lists; q is last). */
    char *key = cd_sprintf("list\n%s\n%s\n%s", status ? status : "", type ? type : "",
                           text ? text : "");
    cd_api_cache_ticket t;
    int hit = cd_api_cached_begin(q, r, key, 0, &t);
    free(key);
    if (hit)
        return;
    int64_t soonest = 0;
    render_list(q, r, status, type, text, &soonest);
    cd_api_cached_end(q, r, &t, until_ms(soonest));
}

static void render_list(cd_api_req *q, cd_api_resp *r, const char *status, const char *type,
                        const char *text, int64_t *soonest)
{
    PGconn *db = cd_api_db(q, r);
    if (!db)
        return;
    char *like = text && *text ? like_pattern(text) : NULL;
    const char *p[] = {status, type, like};
    char *err = NULL;
    PGresult *res = cd_db_exec(db, "listing connectors", PGRES_TUPLES_OK,
                               CONNECTOR_SELECT
                               " WHERE ($1::text IS NULL OR c.status = $1)"
                               "   AND ($2::text IS NULL OR c.connector_type = $2)"
                               "   AND ($3::text IS NULL OR c.name ILIKE $3 OR c.source_entity ILIKE $3)"
                               " ORDER BY c.id",
                               3, p, &err);
    free(like);
    if (!res) {
        cd_api_internal_error(r, "listing connectors", err);
        return;
    }
    PGresult *sum = cd_db_exec(db, "counting connectors", PGRES_TUPLES_OK,
                               "SELECT count(*), count(*) FILTER (WHERE status = 'ACTIVE'),"
                               "       count(*) FILTER (WHERE status = 'PAUSED'),"
                               "       count(*) FILTER (WHERE status = 'FAILED')"
                               "  FROM sp_v2_connectors",
                               0, NULL, &err);
    if (!sum) {
        PQclear(res);
        cd_api_internal_error(r, "counting connectors", err);
        return;
    }
    json_t *snap = cd_registry_get();
    json_t *cache = json_object();
    list_ctx lc = {.snap = snap, .cfg_col = PQfnumber(res, "connection_config"),
                   .drv_col = PQfnumber(res, "driver"), .type_col = PQfnumber(res, "connector_type")};
    int cron_col = PQfnumber(res, "schedule_cron"), tz_col = PQfnumber(res, "schedule_timezone");
    int en_col = PQfnumber(res, "schedule_enabled"), st_col = PQfnumber(res, "status");
    int64_t now = (int64_t)time(NULL);
    /* Built as text: a thousand connectors as jansson values cost more
     * than the query. */
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_reserve(&b, 1024 + (size_t)PQntuples(res) * 800); /* ~730 bytes a connector */
    cd_buf_puts(&b, "{\"success\":true,\"connectors\":[");
    for (int i = 0; i < PQntuples(res); i++) {
        if (i)
            cd_buf_putc(&b, ',');
        cd_api_row_emit(&b, res, i, emit_config, &lc);
        json_t *n = next_run(PQgetisnull(res, i, cron_col) ? NULL : PQgetvalue(res, i, cron_col),
                             PQgetisnull(res, i, tz_col) ? NULL : PQgetvalue(res, i, tz_col),
                             !PQgetisnull(res, i, en_col) && PQgetvalue(res, i, en_col)[0] == 't',
                             PQgetvalue(res, i, st_col), cache, now, soonest);
        char *nt = json_dumps(n, JSON_ENCODE_ANY);
        cd_buf_printf(&b, ",\"next_run_at\":%s}", nt ? nt : "null");
        free(nt);
    }
    json_decref(cache);
    json_decref(snap);
    /* The summary counts every connector, whatever the filter: it feeds the
     * page's tabs. */
    cd_buf_printf(&b, "],\"summary\":{\"total\":%lld,\"active\":%lld,\"paused\":%lld,\"failed\":%lld}}",
                  strtoll(PQgetvalue(sum, 0, 0), NULL, 10), strtoll(PQgetvalue(sum, 0, 1), NULL, 10),
                  strtoll(PQgetvalue(sum, 0, 2), NULL, 10), strtoll(PQgetvalue(sum, 0, 3), NULL, 10));
    PQclear(res);
    PQclear(sum);
    cd_api_ok(r, MHD_HTTP_OK, NULL);
    r->text = cd_buf_take(&b);
}

static void render_connector(cd_api_req *q, cd_api_resp *r, int64_t id, int64_t *soonest);

void cd_api_connector_get(cd_api_req *q, cd_api_resp *r, int64_t id)
{
    char *key = cd_sprintf("connector\n%lld", (long long)id);
    cd_api_cache_ticket t;
    int hit = cd_api_cached_begin(q, r, key, id, &t);
    free(key);
    if (hit)
        return;
    int64_t soonest = 0;
    render_connector(q, r, id, &soonest);
    cd_api_cached_end(q, r, &t, until_ms(soonest));
}

static void render_connector(cd_api_req *q, cd_api_resp *r, int64_t id, int64_t *soonest)
{
    PGconn *db = cd_api_db(q, r);
    if (!db)
        return;
    char *err = NULL;
    json_t *c = cd_api_load_connector(db, id, 0, &err);
    if (!c) {
        if (err)
            cd_api_internal_error(r, "reading the connector", err);
        else
            cd_api_error(r, MHD_HTTP_NOT_FOUND, "Connector not found");
        return;
    }
    json_t *m = masked_copy(c, soonest);
    json_decref(c);
    cd_api_ok(r, MHD_HTTP_OK, json_pack("{s:b, s:o}", "success", 1, "connector", m));
}

