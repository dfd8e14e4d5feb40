/* metrics.c — GET /metrics in the Prometheus text exposition format
 * (version 0.0.4); see alerts_api.h.
 *
 * Runs, records, retries, rescues and deliveries are counted from the
 * database, not from per-process counters: several workers share one
 * database, any of them may be scraped, and each must tell the same truth
 * (a restart must not reset a counter either). The price is a few
 * aggregate queries per scrape over the runs table. Rows that are deleted
 * (a connector with its runs, pruned alerts) leave what they counted in
 * sp_v2_metric_retired (schema/017), added back here, so no counter drops. */
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "alerts_api.h"
#include "db.h"
#include "log.h"
#include "notify_channel_sets.h"
#include "registry.h"
#include "util.h"

/* Run duration buckets, seconds: a run is seconds to the 900 s default
 * timeout, occasionally an hour. Whole seconds only: deleted runs are kept
 * in sp_v2_metric_retired by their duration rounded up to a second. */
static const char *const buckets[] = {"1", "5", "15", "30", "60", "120", "300", "600", "900",
                                      "1800", "3600"};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* Label values: backslash, double quote and newline escaped. */
static void label(cd_buf *b, const char *name, const char *value, int first)
{
    cd_buf_printf(b, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\')
            cd_buf_puts(b, "\\\\");
        else if (*p == '"')
            cd_buf_puts(b, "\\\"");
        else if (*p == '\n')
            cd_buf_puts(b, "\\n");
        else
            cd_buf_putc(b, *p);
    }
    cd_buf_putc(b, '"');
}

static void family(cd_buf *b, const char *name, const char *type, const char *help)
{
    cd_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static PGresult *query(PGconn *db, const char *what, const char *sql, char **err)
{
    return cd_db_exec(db, what, PGRES_TUPLES_OK, sql, 0, NULL, err);
}

/* Columns 0 and 1 are connector id and name. */
static void connector_labels(cd_buf *b, const PGresult *res, int i)
{
    label(b, "connector_id", PQgetvalue(res, i, 0), 1);
    label(b, "connector", PQgetvalue(res, i, 1), 0);
}

static int emit_runs(cd_buf *b, PGconn *db, char **err)
{
    PGresult *res = query(db, "metrics: runs",
                          "SELECT c.id, c.name, r.run_type, r.status, count(*)"
                          " FROM sp_v2_connector_runs r JOIN sp_v2_connectors c ON c.id = r.connector_id"
                          " GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4", err);
    if (!res)
        return -1;
    family(b, "connectord_runs", "gauge",
           "Runs in the database by connector, run type and status.");
    for (int i = 0; i < PQntuples(res); i++) {
        cd_buf_puts(b, "connectord_runs{");
        connector_labels(b, res, i);
        label(b, "type", PQgetvalue(res, i, 2), 0);
        label(b, "status", PQgetvalue(res, i, 3), 0);
        cd_buf_printf(b, "} %s\n", PQgetvalue(res, i, 4));
    }
    PQclear(res);

    res = query(db, "metrics: records",
                "WITH x AS (SELECT label1::bigint AS id,"
                "  sum(value) FILTER (WHERE metric = 'records_loaded') AS loaded,"
                "  sum(value) FILTER (WHERE metric = 'records_failed') AS failed,"
                "  sum(value) FILTER (WHERE metric = 'run_retries') AS retries"
                "  FROM sp_v2_metric_retired"
                "  WHERE metric IN ('records_loaded', 'records_failed', 'run_retries') GROUP BY 1)"
                " SELECT c.id, c.name,"
                " COALESCE(sum(r.records_success) FILTER (WHERE r.status IN ('SUCCESS', 'PARTIAL_SUCCESS')), 0)"
                "  + COALESCE(x.loaded, 0),"
                " COALESCE(sum(r.records_failed) FILTER (WHERE r.status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED')), 0)"
                "  + COALESCE(x.failed, 0),"
                " COALESCE(sum(r.attempt - 1), 0) + COALESCE(x.retries, 0),"
                " extract(epoch FROM max(r.completed_at) FILTER (WHERE r.status IN ('SUCCESS', 'PARTIAL_SUCCESS')))"
                " FROM sp_v2_connectors c LEFT JOIN sp_v2_connector_runs r ON r.connector_id = c.id"
                "  AND r.run_type <> 'TEST'"
                " LEFT JOIN x ON x.id = c.id"
                " GROUP BY c.id, c.name, x.loaded, x.failed, x.retries ORDER BY 1", err);
    if (!res)
        return -1;
    static const struct {
        const char *name, *type, *help;
        int col;
    } per_connector[] = {
        {"connectord_records_loaded_total", "counter",
         "Records loaded into the target tables by successful runs (tests excluded).", 2},
        {"connectord_records_failed_total", "counter",
         "Records rejected by finished runs (tests excluded).", 3},
        {"connectord_run_retries_total", "counter",
         "Retry attempts scheduled after failed attempts (tests excluded).", 4},
        {"connectord_last_success_timestamp_seconds", "gauge",
         "When the connector's last successful run finished, seconds since the epoch.", 5},
    };
    for (size_t f = 0; f < sizeof per_connector / sizeof per_connector[0]; f++) {
        family(b, per_connector[f].name, per_connector[f].type, per_connector[f].help);
        for (int i = 0; i < PQntuples(res); i++) {
            if (PQgetisnull(res, i, per_connector[f].col))
                continue; /* never succeeded: no sample, rather than a fake 0 */
            cd_buf_printf(b, "%s{", per_connector[f].name);
            connector_labels(b, res, i);
            cd_buf_printf(b, "} %s\n", PQgetvalue(res, i, per_connector[f].col));
        }
    }
    PQclear(res);
    return 0;
}

static int emit_durations(cd_buf *b, PGconn *db, char **err)
{
    cd_buf sql;
    cd_buf_init(&sql);
    /* One row per live run (n 1, its seconds) and per retired figure: a
     * count of runs at a whole-second duration, or a sum of seconds. */
    cd_buf_puts(&sql, "WITH d (type, secs, n, total) AS ("
                      " SELECT c.connector_type, r.duration_seconds, 1::numeric, r.duration_seconds"
                      "  FROM sp_v2_connector_runs r JOIN sp_v2_connectors c ON c.id = r.connector_id"
                      "  WHERE r.status IN ('SUCCESS', 'PARTIAL_SUCCESS', 'FAILED')"
                      "   AND r.duration_seconds IS NOT NULL"
                      " UNION ALL SELECT label1, label2::numeric, value, 0 FROM sp_v2_metric_retired"
                      "  WHERE metric = 'run_duration'"
                      " UNION ALL SELECT label1, NULL, 0, value FROM sp_v2_metric_retired"
                      "  WHERE metric = 'run_duration_sum')"
                      " SELECT type, sum(n), sum(total)");
    for (size_t i = 0; i < NBUCKETS; i++)
        cd_buf_printf(&sql, ", COALESCE(sum(n) FILTER (WHERE secs <= %s), 0)", buckets[i]);
    cd_buf_puts(&sql, " FROM d GROUP BY 1 ORDER BY 1");
    PGresult *res = query(db, "metrics: run durations", sql.data, err);
    cd_buf_free(&sql);
    if (!res)
        return -1;
    family(b, "connectord_run_duration_seconds", "histogram",
           "Duration of finished runs by connector type (category), seconds.");
    for (int i = 0; i < PQntuples(res); i++) {
        const char *type = PQgetvalue(res, i, 0);
        for (size_t k = 0; k < NBUCKETS; k++) {
            cd_buf_puts(b, "connectord_run_duration_seconds_bucket{");
            label(b, "connector_type", type, 1);
            label(b, "le", buckets[k], 0);
            cd_buf_printf(b, "} %s\n", PQgetvalue(res, i, 3 + (int)k));
        }
        cd_buf_puts(b, "connectord_run_duration_seconds_bucket{");
        label(b, "connector_type", type, 1);
        cd_buf_printf(b, ",le=\"+Inf\"} %s\n", PQgetvalue(res, i, 1));
        cd_buf_puts(b, "connectord_run_duration_seconds_sum{");
        label(b, "connector_type", type, 1);
        cd_buf_printf(b, "} %s\n", PQgetvalue(res, i, 2));
        cd_buf_puts(b, "connectord_run_duration_seconds_count{");
        label(b, "connector_type", type, 1);
        cd_buf_printf(b, "} %s\n", PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return 0;
}

static int emit_totals(cd_buf *b, PGconn *db, char **err)
{
    PGresult *res = query(
        db, "metrics: queue",
        "SELECT (SELECT count(*) FROM sp_v2_connector_runs WHERE status = 'QUEUED'),"
        " (SELECT count(*) FROM sp_v2_connector_runs WHERE status = 'RUNNING'),"
        " (SELECT count(*) FROM sp_v2_connector_run_attempts WHERE error_message = 'worker lost')"
        "  + COALESCE((SELECT sum(value) FROM sp_v2_metric_retired WHERE metric = 'lease_rescues'), 0)",
        err);
    if (!res)
        return -1;
    family(b, "connectord_queue_depth", "gauge", "Runs waiting in the queue (QUEUED).");
    cd_buf_printf(b, "connectord_queue_depth %s\n", PQgetvalue(res, 0, 0));
    family(b, "connectord_runs_running", "gauge", "Runs RUNNING now, on every worker.");
    cd_buf_printf(b, "connectord_runs_running %s\n", PQgetvalue(res, 0, 1));
    family(b, "connectord_lease_rescues_total", "counter",
           "Attempts taken over from a worker whose lease expired (\"worker lost\").");
    cd_buf_printf(b, "connectord_lease_rescues_total %s\n", PQgetvalue(res, 0, 2));
    PQclear(res);
    return 0;
}

static int emit_notifications(cd_buf *b, PGconn *db, char **err)
{
    PGresult *res = query(db, "metrics: notification deliveries",
                          "SELECT channel, outcome, sum(n) FROM ("
                          " SELECT d.channel, lower(a.outcome) AS outcome, 1::numeric AS n"
                          "  FROM sp_v2_notification_attempts a"
                          "  JOIN sp_v2_notification_deliveries d ON d.id = a.delivery_id"
                          " UNION ALL SELECT label1, label2, value FROM sp_v2_metric_retired"
                          "  WHERE metric = 'notification_attempts') s"
                          " GROUP BY 1, 2 ORDER BY 1, 2", err);
    if (!res)
        return -1;
    family(b, "connectord_notification_deliveries_total", "counter",
           "Alert delivery attempts by channel and outcome (sent, error).");
    for (int i = 0; i < PQntuples(res); i++) {
        cd_buf_puts(b, "connectord_notification_deliveries_total{");
        label(b, "channel", PQgetvalue(res, i, 0), 1);
        label(b, "outcome", PQgetvalue(res, i, 1), 0);
        cd_buf_printf(b, "} %s\n", PQgetvalue(res, i, 2));
    }
    PQclear(res);
    res = query(db, "metrics: alert channel lists",
                "SELECT count(DISTINCT channels) FROM sp_v2_alert_channel_sets"
                " WHERE " CD_CHANNEL_SETS_LIVE, err);
    if (!res)
        return -1;
    family(b, "connectord_alert_channel_sets", "gauge",
           "Distinct alert channel lists among live workers with channels; more than 1 means "
           "an alert's channels depend on the worker that takes it.");
    cd_buf_printf(b, "connectord_alert_channel_sets %s\n", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = query(db, "metrics: notification queue",
                "SELECT channel, lower(status), count(*) FROM sp_v2_notification_deliveries"
                " GROUP BY 1, 2 ORDER BY 1, 2", err);
    if (!res)
        return -1;
    family(b, "connectord_notifications", "gauge",
           "Alert deliveries by channel and status (pending, sending, sent, failed).");
    for (int i = 0; i < PQntuples(res); i++) {
        cd_buf_puts(b, "connectord_notifications{");
        label(b, "channel", PQgetvalue(res, i, 0), 1);
        label(b, "status", PQgetvalue(res, i, 1), 0);
        cd_buf_printf(b, "} %s\n", PQgetvalue(res, i, 2));
    }
    PQclear(res);
    return 0;
}

/* The API's response cache (api_cache.h), when on. */
static void emit_cache(cd_buf *b, cd_api_cache *cache)
{
    if (!cache)
        return;
    cd_api_cache_stats s;
    cd_api_cache_get_stats(cache, &s);
    family(b, "connectord_api_cache_live", "gauge",
           "1 while the API cache hears of changes (LISTEN is up) and serves from the cache.");
    cd_buf_printf(b, "connectord_api_cache_live %d\n", cd_api_cache_live(cache));
    family(b, "connectord_api_cache_entries", "gauge", "Responses the API cache holds.");
    cd_buf_printf(b, "connectord_api_cache_entries %zu\n", s.entries);
    family(b, "connectord_api_cache_requests_total", "counter",
           "Cacheable API reads by outcome: hit (stored response), shared (waited for another "
           "request's render), render, bypass (cache not live).");
    cd_buf_printf(b, "connectord_api_cache_requests_total{outcome=\"hit\"} %llu\n",
                  (unsigned long long)s.hits);
    cd_buf_printf(b, "connectord_api_cache_requests_total{outcome=\"shared\"} %llu\n",
                  (unsigned long long)s.shared);
    cd_buf_printf(b, "connectord_api_cache_requests_total{outcome=\"render\"} %llu\n",
                  (unsigned long long)s.renders);
    cd_buf_printf(b, "connectord_api_cache_requests_total{outcome=\"bypass\"} %llu\n",
                  (unsigned long long)s.bypassed);
    family(b, "connectord_api_cache_renders_discarded_total", "counter",
           "Renders not stored because a change was heard of while they ran.");
    cd_buf_printf(b, "connectord_api_cache_renders_discarded_total %llu\n",
                  (unsigned long long)s.discarded);
}

/* This worker's own view: its plugin directory and its event loop. */
static void emit_process(cd_buf *b)
{
    json_t *snap = cd_registry_get();
    family(b, "connectord_drivers_loaded", "gauge", "Drivers this worker loaded.");
    cd_buf_printf(b, "connectord_drivers_loaded %zu\n",
                  json_array_size(json_object_get(snap, "loaded")));
    family(b, "connectord_driver_load_failures", "gauge",
           "Driver files this worker refused to load (see GET /plugins for the reasons).");
    cd_buf_printf(b, "connectord_driver_load_failures %zu\n",
                  json_array_size(json_object_get(snap, "refused")));
    json_decref(snap);
    double age = cd_alerts_tick_age_seconds();
    if (age >= 0) {
        family(b, "connectord_scheduler_last_tick_age_seconds", "gauge",
               "Seconds since this worker's event loop last ticked.");
        cd_buf_printf(b, "connectord_scheduler_last_tick_age_seconds %.3f\n", age);
    }
}

void cd_api_metrics(cd_api_req *q, cd_api_resp *r)
{
    PGconn *db = cd_api_db(q, r);
    cd_buf b;
    cd_buf_init(&b);
    char *err = NULL;
    family(&b, "connectord_database_up", "gauge", "1 when this worker reached the database.");
    cd_buf_printf(&b, "connectord_database_up %d\n", db ? 1 : 0);
    if (db && (emit_runs(&b, db, &err) != 0 || emit_durations(&b, db, &err) != 0 ||
               emit_totals(&b, db, &err) != 0 || emit_notifications(&b, db, &err) != 0)) {
        cd_buf_free(&b);
        cd_api_internal_error(r, "metrics", err);
        return;
    }
    emit_process(&b);
    emit_cache(&b, q->api->cache);
    size_t len = b.len;
    char *text = cd_buf_take(&b);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    /* cd_api_db answered 503 when there was no connection: keep the body
     * (database_up 0 is worth scraping) and the status. */
    json_decref(r->body);
    r->body = NULL;
    free(r->text);
    r->text = NULL;
    r->raw = resp;
    r->status = db ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
}
