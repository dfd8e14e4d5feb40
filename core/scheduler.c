/* scheduler.c — see scheduler.h. */
#include "scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "db.h"
#include "duration.h"
#include "log.h"
#include "queue.h"
#include "util.h"

/* Connectors are re-read at least this often, so edits made without a
 * NOTIFY (psql by hand) are picked up. */
#define RELOAD_SECONDS 60

typedef struct sched_entry {
    int64_t id;
    cd_cron cron;
    char *tz;
    int days_back;
    int64_t next;     /* next slot not yet enqueued; 0 when none */
    long next_day;    /* the local day next is the slot of (cd_cron_next_slot) */
} sched_entry;

struct cd_scheduler {
    int64_t catchup_window;
    sched_entry *entries;
    size_t n;
    int64_t loaded_at;
    int stale;
    /* The oldest slot this worker found due but could not enqueue (0: none).
     * The catch-up window is for slots missed while no worker was up: a
     * reload keeps every slot since this one, however old. */
    int64_t undelivered_since;
    /* What the last reload said about each connector it could not
     * schedule: said again only when it changes, not on every reload
     * (each minute and after every edit of any connector, per worker). */
    struct sched_warning *warned;
    size_t nwarned;
};

typedef struct sched_warning {
    int64_t id;
    char *msg;
} sched_warning;

static void free_warnings(sched_warning *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(w[i].msg);
    free(w);
}

/* Logs msg (taken) about connector id unless the previous reload said the
 * same, and keeps it in (*w)[*n] for the next reload to compare with. */
static void reload_warn(const cd_scheduler *s, sched_warning **w, size_t *n, size_t *cap,
                        int64_t id, char *msg)
{
    int said = 0;
    for (size_t i = 0; i < s->nwarned && !said; i++)
        said = s->warned[i].id == id && strcmp(s->warned[i].msg, msg) == 0;
    if (!said)
        cd_warn("connector %lld: %s (said again only if it changes)", (long long)id, msg);
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *w = cd_xrealloc(*w, *cap * sizeof **w);
    }
    (*w)[(*n)++] = (sched_warning){id, msg};
}

cd_scheduler *cd_scheduler_new(const cd_config *cfg)
{
    cd_scheduler *s = cd_xcalloc(1, sizeof *s);
    const char *w = cd_config_string(cfg, "scheduler.catchup_window", "48h");
    s->catchup_window = cd_parse_duration(w);
    if (s->catchup_window < 0) {
        cd_warn("scheduler.catchup_window '%s' is not a duration (like 48h); using 48h", w);
        s->catchup_window = 48 * 3600;
    }
    s->stale = 1;
    return s;
}

static void clear_entries(cd_scheduler *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->entries[i].tz);
    free(s->entries);
    s->entries = NULL;
    s->n = 0;
}

void cd_scheduler_free(cd_scheduler *s)
{
    if (!s)
        return;
    clear_entries(s);
    free_warnings(s->warned, s->nwarned);
    free(s);
}

void cd_scheduler_invalidate(cd_scheduler *s) { s->stale = 1; }

int64_t cd_scheduler_next_due(const cd_scheduler *s)
{
    int64_t best = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->entries[i].next && (!best || s->entries[i].next < best))
            best = s->entries[i].next;
    return best;
}

/* Reads the schedulable connectors and where each one's schedule stands:
 * after its last enqueued slot, its creation or resumption, and the start
 * of the catch-up window, whichever is latest. */
static int reload(cd_scheduler *s, PGconn *conn, int64_t now, char **err)
{
    PGresult *res = cd_db_exec(
        conn, "reading the schedules", PGRES_TUPLES_OK,
        "SELECT c.id, c.schedule_cron, COALESCE(NULLIF(c.schedule_timezone, ''), 'Asia/Kolkata'),"
        " connectord_days_back(c.connection_config),"
        /* floor: a cast rounds, and a connector created at 01:59:59.6
         * would start after its own 02:00 slot. */
        " COALESCE(floor(extract(epoch FROM GREATEST(c.created_at, c.resumed_at)))::bigint, 0),"
        " COALESCE((SELECT floor(extract(epoch FROM max(r.slot_time)))::bigint"
        "           FROM sp_v2_connector_runs r"
        "           WHERE r.connector_id = c.id AND r.slot_time IS NOT NULL), 0)"
        " FROM sp_v2_connectors c"
        " WHERE c.status IN ('ACTIVE', 'FAILED') AND c.schedule_enabled IS TRUE"
        "   AND COALESCE(c.schedule_cron, '') <> ''"
        " ORDER BY c.id",
        0, NULL, err);
    if (!res)
        return -1;
    clear_entries(s);
    sched_warning *warned = NULL;
    size_t nwarned = 0, wcap = 0;
    int rows = PQntuples(res);
    s->entries = cd_xcalloc((size_t)rows, sizeof *s->entries);
    for (int i = 0; i < rows; i++) {
        sched_entry *e = &s->entries[s->n];
        e->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        char *cerr = NULL;
        if (cd_cron_parse(PQgetvalue(res, i, 1), &e->cron, &cerr) != 0) {
            reload_warn(s, &warned, &nwarned, &wcap, e->id,
                        cd_sprintf("schedule_cron '%s' is not used: %s", PQgetvalue(res, i, 1),
                                   cerr));
            free(cerr);
            continue;
        }
        const char *tz = PQgetvalue(res, i, 2);
        if (!cd_tz_valid(tz)) {
            reload_warn(s, &warned, &nwarned, &wcap, e->id,
                        cd_sprintf("schedule_timezone '%s' is not a known zone; not scheduled",
                                   tz));
            continue;
        }
        e->tz = cd_xstrdup(tz);
        e->days_back = atoi(PQgetvalue(res, i, 3));
        int64_t floor = strtoll(PQgetvalue(res, i, 4), NULL, 10);
        int64_t last_slot = strtoll(PQgetvalue(res, i, 5), NULL, 10);
        if (last_slot > floor)
            floor = last_slot;
        /* One second more than the window: cd_cron_next looks strictly
         * after floor, and a slot due this very second is not missed
         * (with a window of 0, a reload at 02:00:00 lost the 02:00 run). */
        int64_t window_floor = now - s->catchup_window - 1;
        if (s->undelivered_since && s->undelivered_since - 1 < window_floor)
            window_floor = s->undelivered_since - 1;
        if (window_floor > floor)
            floor = window_floor;
        if (cd_cron_next_slot(&e->cron, e->tz, floor, &e->next, &e->next_day, &cerr) != 0) {
            reload_warn(s, &warned, &nwarned, &wcap, e->id, cerr);
            free(e->tz);
            e->tz = NULL;
            continue;
        }
        s->n++;
    }
    PQclear(res);
    free_warnings(s->warned, s->nwarned);
    s->warned = warned;
    s->nwarned = nwarned;
    s->loaded_at = now;
    s->stale = 0;
    return 0;
}

typedef struct due_slot {
    int64_t connector_id;
    int64_t slot;
    int days_back; /* the sync_days_back run_date was computed with */
    char run_date[11];
} due_slot;

/* Adds the due slots of e up to now, keeping only the latest slot of each
 * business date (a per-minute schedule down for an hour is one run). */
static void collect(sched_entry *e, int64_t now, due_slot **slots, size_t *n, size_t *cap)
{
    size_t first = *n;
    while (e->next && e->next <= now) {
        char date[11];
        char *err = NULL;
        /* T is the day of the slot's wall time: a slot moved past midnight
         * by a DST jump (cron.h) is still the slot of the day before. */
        if (cd_tz_date_back(e->next_day, e->days_back, date, &err) != 0) {
            cd_warn("connector %lld: %s", (long long)e->id, err);
            free(err);
        } else if (*n > first && strcmp((*slots)[*n - 1].run_date, date) == 0) {
            (*slots)[*n - 1].slot = e->next; /* same date: the later slot wins */
        } else {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 256;
                *slots = cd_xrealloc(*slots, *cap * sizeof **slots);
            }
            due_slot *d = &(*slots)[(*n)++];
            d->connector_id = e->id;
            d->slot = e->next;
            d->days_back = e->days_back;
            memcpy(d->run_date, date, sizeof d->run_date);
        }
        int64_t next;
        long next_day;
        if (cd_cron_next_slot(&e->cron, e->tz, e->next, &next, &next_day, &err) != 0) {
            cd_warn("connector %lld: %s", (long long)e->id, err);
            free(err);
            next = 0;
            next_day = 0;
        }
        e->next = next;
        e->next_day = next_day;
    }
}

static int cmp_slot(const void *a, const void *b)
{
    const due_slot *x = a, *y = b;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return x->connector_id < y->connector_id ? -1 : x->connector_id > y->connector_id;
}

int cd_scheduler_tick(cd_scheduler *s, PGconn *conn, int64_t now, char **err)
{
    if (s->stale || now - s->loaded_at >= RELOAD_SECONDS || now < s->loaded_at) {
        if (reload(s, conn, now, err) != 0)
            return -1;
    }
    due_slot *slots = NULL;
    size_t n = 0, cap = 0;
    /* Where each schedule stood: a failed enqueue puts it back, so the next
     * tick offers the same slots again (a reload would drop the ones older
     * than the catch-up window, though this worker was up all along). */
    sched_entry *before = cd_xcalloc(s->n ? s->n : 1, sizeof *before);
    for (size_t i = 0; i < s->n; i++) {
        before[i] = s->entries[i]; /* next and next_day; tz stays owned by entries */
        collect(&s->entries[i], now, &slots, &n, &cap);
    }
    if (!n) {
        free(before);
        /* Nothing due: no slot is owed any more (the one that failed
         * belonged to a connector since paused, deleted or rescheduled),
         * and the next reload keeps to the catch-up window again. */
        s->undelivered_since = 0;
        return 0;
    }
    /* Oldest first, so catch-up runs queue in date order. */
    qsort(slots, n, sizeof *slots, cmp_slot);
    int64_t oldest = slots[0].slot;
    cd_buf ids, times, dates, backs;
    cd_buf_init(&ids), cd_buf_init(&times), cd_buf_init(&dates), cd_buf_init(&backs);
    cd_buf_putc(&ids, '{'), cd_buf_putc(&times, '{'), cd_buf_putc(&dates, '{');
    cd_buf_putc(&backs, '{');
    for (size_t i = 0; i < n; i++) {
        const char *sep = i ? "," : "";
        cd_buf_printf(&ids, "%s%lld", sep, (long long)slots[i].connector_id);
        cd_buf_printf(&times, "%s%lld", sep, (long long)slots[i].slot);
        cd_buf_printf(&dates, "%s%s", sep, slots[i].run_date);
        cd_buf_printf(&backs, "%s%d", sep, slots[i].days_back);
    }
    cd_buf_putc(&ids, '}'), cd_buf_putc(&times, '}'), cd_buf_putc(&dates, '}');
    cd_buf_putc(&backs, '}');
    free(slots);
    const char *p[] = {ids.data, times.data, dates.data, backs.data};
    /* The unique (connector, slot) key makes a second worker's insert of the
     * same slot a no-op; the connector is re-checked in the same statement
     * so a pause that raced the tick wins, and so does a resumption this
     * worker has not reloaded since (its slots were computed before the
     * pause, or kept while its enqueue failed): no slot at or before the
     * creation or resumption, as reload() counts them. A slot that was
     * already past when the schedule was last edited (021) is a catch-up
     * only for a date that has no scheduled run yet: moving 02:00 to 06:00
     * at 10:00 must not run yesterday's date again.
     *
     * A lowered sync_days_back (024) leaves dates no slot will run: the
     * statement that inserts a connector's first slot run made with the
     * current value consumes its recorded change and queues a run for each
     * such date. Which dates: from the date the old value would have run at
     * the first slot after the change (anchor; earlier than this statement's
     * slot when a worker that had not yet seen a hand edit ran a slot with
     * the old value), but never at or before the latest date the schedule
     * had reached when the value changed (a typo of 30 put right does not
     * reach a month back, and a connector whose schedule never ran has
     * nothing skipped), up to the day before this statement's first date
     * for the connector; dates with a scheduled run already are left out.
     * Only the worker whose slot insert succeeded sees the connector in
     * `ins`, and the DELETE under the change row's lock lets one statement
     * consume it (version: not a newer change made meanwhile), so each date
     * is queued once however many workers tick; and a unique key on these
     * runs' (connector, run_date) (025) makes a second one impossible even
     * when the NOT EXISTS cannot see a concurrent, uncommitted insert. */
    PGresult *res = cd_db_exec(
        conn, "enqueueing scheduled runs", PGRES_TUPLES_OK,
        "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::date[], $4::int[])"
        "  WITH ORDINALITY AS v(cid, slot, run_date, days_back, ord)),"
        " ins AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status,"
        "  triggered_by, attempt, max_attempts, queued_at, started_at, slot_time)"
        " SELECT c.id, 'SCHEDULED', v.run_date, 'QUEUED', 'SCHEDULER', 1,"
        "  connectord_max_attempts(c.connection_config, 'SCHEDULED'), now(), NULL,"
        "  to_timestamp(v.slot)"
        " FROM v"
        " JOIN sp_v2_connectors c ON c.id = v.cid AND c.status IN ('ACTIVE', 'FAILED')"
        "  AND c.schedule_enabled IS TRUE"
        "  AND to_timestamp(v.slot) > COALESCE(GREATEST(c.created_at, c.resumed_at), '-infinity')"
        " WHERE NOT (c.schedule_changed_at IS NOT NULL"
        "  AND to_timestamp(v.slot) < c.schedule_changed_at"
        "  AND EXISTS (SELECT 1 FROM sp_v2_connector_runs x WHERE x.connector_id = c.id"
        "   AND x.run_date = v.run_date AND x.run_type = 'SCHEDULED'))"
        " ORDER BY v.ord"
        " ON CONFLICT (connector_id, slot_time) WHERE slot_time IS NOT NULL DO NOTHING"
        " RETURNING connector_id, run_date, slot_time),"
        " firsts AS (SELECT i.connector_id AS cid, min(i.run_date) AS first_date,"
        "  min(i.slot_time) AS first_slot, bool_and(v.days_back = connectord_days_back("
        "   c.connection_config)) AS current_value,"
        "  min(connectord_days_back(c.connection_config)) AS days_back,"
        "  min(COALESCE(NULLIF(c.schedule_timezone, ''), 'Asia/Kolkata')) AS tz"
        "  FROM ins i JOIN v ON v.cid = i.connector_id AND to_timestamp(v.slot) = i.slot_time"
        "  JOIN sp_v2_connectors c ON c.id = i.connector_id"
        "  GROUP BY i.connector_id),"
        " pending AS (SELECT f.*, g.version FROM firsts f"
        "  JOIN sp_v2_connector_days_back_changes g ON g.connector_id = f.cid"
        "  WHERE f.current_value),"
        " consumed AS (DELETE FROM sp_v2_connector_days_back_changes g USING pending p"
        "  WHERE g.connector_id = p.cid AND g.version = p.version"
        "  RETURNING p.cid, p.first_date, p.first_slot, p.days_back, p.tz,"
        "   g.days_back_before, g.after_slot),"
        " bounds AS (SELECT k.cid, k.days_back, k.days_back_before, k.first_date - 1 AS hi,"
        "  (LEAST(k.first_slot, (SELECT min(r.slot_time) FROM sp_v2_connector_runs r"
        "     WHERE r.connector_id = k.cid AND r.slot_time > k.after_slot))"
        "    AT TIME ZONE k.tz)::date - k.days_back_before AS anchor_lo,"
        "  (SELECT max(r.run_date) FROM sp_v2_connector_runs r WHERE r.connector_id = k.cid"
        "    AND r.run_type = 'SCHEDULED' AND r.slot_time <= k.after_slot) AS reached"
        "  FROM consumed k),"
        " gaps AS (INSERT INTO sp_v2_connector_runs (connector_id, run_type, run_date, status,"
        "  triggered_by, attempt, max_attempts, queued_at, started_at)"
        " SELECT b.cid, 'SCHEDULED', b.lo + n, 'QUEUED',"
        "  format('SCHEDULER (sync_days_back %s -> %s)', b.days_back_before, b.days_back), 1,"
        "  connectord_max_attempts(c.connection_config, 'SCHEDULED'), now(), NULL"
        " FROM (SELECT *, GREATEST(anchor_lo, reached + 1) AS lo FROM bounds"
        "   WHERE reached IS NOT NULL) b"
        "  JOIN sp_v2_connectors c ON c.id = b.cid,"
        "  generate_series(0, b.hi - b.lo) AS n"
        " WHERE NOT EXISTS (SELECT 1 FROM sp_v2_connector_runs x WHERE x.connector_id = b.cid"
        "   AND x.run_type = 'SCHEDULED' AND x.run_date = b.lo + n)"
        " ORDER BY b.cid, n"
        /* 025's key: a date another statement is inserting uncommitted
         * (unseen by the NOT EXISTS) is waited for, then not queued again. */
        " ON CONFLICT DO NOTHING"
        " RETURNING connector_id, run_date)"
        " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM gaps),"
        "  (SELECT string_agg(format('connector %s: %s', connector_id, dates), '; '"
        "    ORDER BY connector_id)"
        "   FROM (SELECT connector_id, string_agg(run_date::text, ', ' ORDER BY run_date) AS dates"
        "    FROM gaps GROUP BY connector_id) t),"
        "  CASE WHEN (SELECT count(*) FROM ins) > 0"
        "  THEN pg_notify('" CD_QUEUE_CHANNEL "', 'scheduled') END",
        4, p, err);
    cd_buf_free(&ids), cd_buf_free(&times), cd_buf_free(&dates), cd_buf_free(&backs);
    if (!res) {
        for (size_t i = 0; i < s->n; i++)
            s->entries[i].next = before[i].next, s->entries[i].next_day = before[i].next_day;
        free(before);
        if (!s->undelivered_since || oldest < s->undelivered_since)
            s->undelivered_since = oldest;
        return -1;
    }
    free(before);
    s->undelivered_since = 0;
    int inserted = atoi(PQgetvalue(res, 0, 0));
    int gaps = atoi(PQgetvalue(res, 0, 1));
    if (inserted)
        cd_info("scheduler: queued %d scheduled run%s", inserted, inserted == 1 ? "" : "s");
    if (gaps)
        cd_info("scheduler: queued %d run%s for dates a lowered sync_days_back would skip: %s",
                gaps, gaps == 1 ? "" : "s", PQgetvalue(res, 0, 2));
    PQclear(res);
    return inserted + gaps;
}
