/* notify.c — the delivery thread; see notify.h.
 *
 * Thread-safety: the thread owns its PGconn and curl handles outright. It
 * shares with other threads only `stop` (atomic) and the wake eventfd; the
 * settings come from the reference-counted snapshot. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "notify.h"
#include "notify_channel_sets.h"
#include "util.h"

#define ALERTS_CHANNEL "connectord_alerts"
/* Deliveries sent in one round before the thread looks at new events. */
#define ROUND_MAX 50

struct cd_notifier {
    pthread_t thread;
    int wake_fd;
    atomic_int stop;
    atomic_int abort_send;    /* set by cd_notifier_stop, read by curl's progress callback */
    char *worker_id;
    PGconn *conn;
    int64_t last_prune_ms;
    int64_t last_conn_error_ms;
    cd_channel_sets channel_sets;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The channel names and types as PostgreSQL array literals
 * ({"a","b"}); names are plain (checked at load), but quoted anyway. */
static void channel_arrays(const cd_alert_settings *s, char **names, char **types)
{
    cd_buf n, t;
    cd_buf_init(&n);
    cd_buf_init(&t);
    cd_buf_putc(&n, '{');
    cd_buf_putc(&t, '{');
    for (size_t i = 0; i < s->nchannels; i++) {
        cd_buf_printf(&n, "%s\"%s\"", i ? "," : "", s->channels[i].name);
        cd_buf_printf(&t, "%s\"%s\"", i ? "," : "", cd_channel_type_name(s->channels[i].type));
    }
    cd_buf_putc(&n, '}');
    cd_buf_putc(&t, '}');
    *names = cd_buf_take(&n);
    *types = cd_buf_take(&t);
}

static int ensure_conn(cd_notifier *n, const cd_alert_settings *s)
{
    if (n->conn && PQstatus(n->conn) == CONNECTION_OK)
        return 0;
    int64_t now = mono_ms();
    if (n->last_conn_error_ms && now - n->last_conn_error_ms < 2000)
        return -1;
    if (n->conn)
        PQfinish(n->conn);
    char *err = NULL;
    n->conn = cd_db_connect(s->database_url, "connectord-notify", &err);
    if (n->conn &&
        cd_db_command(n->conn, "listening for alerts", "LISTEN " ALERTS_CHANNEL, 0, NULL, &err) != 0) {
        PQfinish(n->conn);
        n->conn = NULL;
    }
    if (!n->conn) {
        cd_error("notify: database unavailable, retrying: %s", err);
        free(err);
        n->last_conn_error_ms = now;
        return -1;
    }
    n->last_conn_error_ms = 0;
    return 0;
}

/* New events become one delivery per channel they go to: every channel,
 * or the connector's alert_channels, or a test message's one channel. A
 * worker only fans out to the channels it knows; events older than
 * max_age_hours (alerts were off, or no worker had channels) are closed
 * without deliveries rather than sent stale. Returns deliveries created. */
static long fan_out(cd_notifier *n, const cd_alert_settings *s, const char *names,
                    const char *types)
{
    char maxatt[16], age[16];
    snprintf(maxatt, sizeof maxatt, "%d", s->max_attempts);
    snprintf(age, sizeof age, "%d", s->max_age_hours);
    const char *p[] = {names, types, maxatt, age};
    char *err = NULL;
    PGresult *res = cd_db_exec(
        n->conn, "notify: creating deliveries", PGRES_TUPLES_OK,
        "WITH ev AS ("
        "  SELECT e.id, e.connector_id, e.only_channel, e.created_at FROM sp_v2_notifications e"
        "   WHERE e.fanned_out_at IS NULL"
        "     AND (e.only_channel IS NULL OR e.only_channel = ANY($1::text[])"
        "          OR e.created_at < now() - make_interval(hours => $4::int))"
        "   ORDER BY e.id LIMIT 200 FOR UPDATE SKIP LOCKED"
        "), ins AS ("
        "  INSERT INTO sp_v2_notification_deliveries (notification_id, channel, channel_type,"
        "   max_attempts)"
        "  SELECT ev.id, ch.name, ch.type, $3::int"
        "    FROM ev CROSS JOIN unnest($1::text[], $2::text[]) AS ch(name, type)"
        "    LEFT JOIN sp_v2_connectors c ON c.id = ev.connector_id"
        "   WHERE ev.created_at >= now() - make_interval(hours => $4::int)"
        "     AND CASE WHEN ev.only_channel IS NOT NULL THEN ev.only_channel = ch.name"
        "              WHEN c.alert_channels IS NULL THEN true"
        "              ELSE c.alert_channels ? ch.name END"
        "  ON CONFLICT (notification_id, channel) DO NOTHING RETURNING 1"
        "), up AS ("
        "  UPDATE sp_v2_notifications e SET fanned_out_at = now() FROM ev WHERE e.id = ev.id"
        "  RETURNING 1"
        ") SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM up)",
        4, p, &err);
    if (!res) {
        cd_error("%s", err);
        free(err);
        return -1;
    }
    long made = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return made;
}

static double backoff_s(const cd_alert_settings *s, int attempt)
{
    double d = s->retry_base_s;
    for (int i = 1; i < attempt && d < s->retry_max_s; i++)
        d *= 2;
    if (d > s->retry_max_s)
        d = s->retry_max_s;
    /* Jitter: many alerts failing together do not retry in lockstep. */
    return d * (0.8 + 0.4 * ((double)random() / (double)RAND_MAX));
}

/* Hands a claimed delivery back untouched: the worker is stopping and cut
 * the exchange short, so the receiver may never have seen it. Counting it
 * would let a restart burn the last attempt and give up on an alert that
 * was never really tried; a duplicate, should the receiver have got it,
 * is the lesser harm (the delivery id lets receivers drop it). */
static int release(cd_notifier *n, long long did, int attempt)
{
    char sdid[32], satt[16];
    snprintf(sdid, sizeof sdid, "%lld", did);
    snprintf(satt, sizeof satt, "%d", attempt);
    const char *p[] = {sdid, satt, n->worker_id};
    char *err = NULL;
    int rc = cd_db_command(
        n->conn, "notify: handing back an interrupted delivery",
        "UPDATE sp_v2_notification_deliveries SET status = 'PENDING', attempts = attempts - 1,"
        "  next_attempt_at = now(), claimed_by = NULL, claim_expires_at = NULL"
        " WHERE id = $1::bigint AND claimed_by = $3::text AND attempts = $2::int",
        3, p, &err);
    if (rc != 0) {
        cd_error("%s", err);
        free(err);
    }
    return rc == 0 ? 1 : -1;
}

/* Claims one due delivery, sends it, records the attempt. Returns 1 when
 * one was handled, 0 when none was due, -1 on a database error. */
static int deliver_one(cd_notifier *n, const cd_alert_settings *s, const char *names)
{
    char lease[16];
    /* The claim outlives the longest exchange; a worker that dies mid-send
     * leaves a claim that another worker takes over when it expires. */
    snprintf(lease, sizeof lease, "%d", s->timeout_s + 60);
    char age[16];
    snprintf(age, sizeof age, "%d", s->max_age_hours);
    const char *p[] = {names, n->worker_id, lease, age};
    char *err = NULL;
    PGresult *res = cd_db_exec(
        n->conn, "notify: claiming a delivery", PGRES_TUPLES_OK,
        "UPDATE sp_v2_notification_deliveries d SET status = 'SENDING', attempts = d.attempts + 1,"
        "  claimed_by = $2, claim_expires_at = now() + make_interval(secs => $3::int)"
        " FROM sp_v2_notifications e"
        " WHERE e.id = d.notification_id AND d.id = ("
        "  SELECT q.id FROM sp_v2_notification_deliveries q"
        "    JOIN sp_v2_notifications qe ON qe.id = q.notification_id"
        "   WHERE q.channel = ANY($1::text[])"
        "     AND qe.created_at >= now() - make_interval(hours => $4::int)"
        "     AND ((q.status = 'PENDING' AND q.next_attempt_at <= now())"
        "          OR (q.status = 'SENDING' AND q.claim_expires_at < now()))"
        "   ORDER BY q.next_attempt_at, q.id LIMIT 1 FOR UPDATE OF q SKIP LOCKED)"
        " RETURNING d.id, d.channel, d.attempts, d.max_attempts, e.id, e.kind, e.payload::text,"
        "  to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        "  clock_timestamp()::text",
        4, p, &err);
    if (!res) {
        cd_error("%s", err);
        free(err);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    long long did = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    char *channel = cd_xstrdup(PQgetvalue(res, 0, 1));
    int attempt = atoi(PQgetvalue(res, 0, 2));
    int max_attempts = atoi(PQgetvalue(res, 0, 3));
    long long nid = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    char *kind = cd_xstrdup(PQgetvalue(res, 0, 5));
    json_t *payload = json_loads(PQgetvalue(res, 0, 6), 0, NULL);
    char *created = cd_xstrdup(PQgetvalue(res, 0, 7));
    char *started = cd_xstrdup(PQgetvalue(res, 0, 8));
    PQclear(res);

    const cd_channel *ch = cd_alert_channel(s, channel);
    long code = 0;
    char *send_err = NULL;
    int outcome;
    if (!ch || !payload) {
        outcome = CD_SEND_PERMANENT;
        send_err = !ch ? cd_sprintf("channel %s is no longer configured", channel)
                       : cd_sprintf("notification %lld: unreadable payload", nid);
    } else {
        cd_notify_msg m = {.notification_id = nid, .delivery_id = did, .kind = kind,
                           .payload = payload, .created_at = created, .base_url = s->base_url};
        outcome = cd_notify_send(s, ch, &m, &n->abort_send, &code, &send_err);
    }
    if (outcome == CD_SEND_ABORTED) {
        int rc = release(n, did, attempt);
        cd_info("notify: %s %lld to %s interrupted by shutdown, left for the next worker",
                kind, nid, channel);
        json_decref(payload);
        free(channel), free(kind), free(created), free(started), free(send_err);
        return rc;
    }
    int final_failure = outcome == CD_SEND_PERMANENT ||
                        (outcome == CD_SEND_RETRY && attempt >= max_attempts);
    if (outcome == CD_SEND_OK)
        cd_info("notify: %s %lld delivered to %s (attempt %d)", kind, nid, channel, attempt);
    else
        cd_warn("notify: %s %lld to %s, attempt %d of %d failed%s: %s", kind, nid, channel,
                attempt, max_attempts, final_failure ? " (giving up)" : "", send_err);

    char sdid[32], satt[16], scode[16], sdelay[32];
    snprintf(sdid, sizeof sdid, "%lld", did);
    snprintf(satt, sizeof satt, "%d", attempt);
    snprintf(scode, sizeof scode, "%ld", code);
    snprintf(sdelay, sizeof sdelay, "%.3f", backoff_s(s, attempt));
    const char *status = outcome == CD_SEND_OK ? "SENT" : final_failure ? "FAILED" : "PENDING";
    const char *p2[] = {sdid,    satt,   n->worker_id, started, outcome == CD_SEND_OK ? "SENT" : "ERROR",
                        code ? scode : NULL, send_err, status, sdelay};
    /* Only our own claim is settled: if it expired and another worker took
     * the delivery over, that worker's attempt counts. */
    int rc = cd_db_command(
        n->conn, "notify: recording the attempt",
        "WITH d AS (UPDATE sp_v2_notification_deliveries SET status = $8::text,"
        "   next_attempt_at = CASE WHEN $8::text = 'PENDING'"
        "     THEN now() + make_interval(secs => $9::float8) ELSE next_attempt_at END,"
        "   last_error = $7::text, last_http_status = $6::int,"
        "   sent_at = CASE WHEN $8::text = 'SENT' THEN now() END,"
        "   claimed_by = NULL, claim_expires_at = NULL"
        "  WHERE id = $1::bigint AND claimed_by = $3::text AND attempts = $2::int RETURNING id)"
        " INSERT INTO sp_v2_notification_attempts (delivery_id, attempt, worker_id, started_at,"
        "  outcome, http_status, error)"
        " SELECT id, $2::int, $3::text, $4::timestamptz, $5::text, $6::int, $7::text FROM d"
        " ON CONFLICT (delivery_id, attempt) DO NOTHING",
        9, p2, &err);
    if (rc != 0) {
        cd_error("%s", err);
        free(err);
    }
    json_decref(payload);
    free(channel), free(kind), free(created), free(started), free(send_err);
    return rc == 0 ? 1 : -1;
}

/* Closes deliveries no worker will send: their alert is older than
 * max_age_hours (stale news; the claim skips them), or they are for a
 * channel this worker does not know. The latter waits out the same age
 * rather than going at once: after a SIGHUP or during a rolling change
 * another worker may still have the channel and deliver it meanwhile.
 * Each is FAILED with the reason as its last error and as an attempt, so
 * it leaves the pending count and pruning can take it. */
static void settle_stale(cd_notifier *n, const cd_alert_settings *s, const char *names)
{
    char age[16];
    snprintf(age, sizeof age, "%d", s->max_age_hours);
    const char *p[] = {names, age, n->worker_id};
    char *err = NULL;
    if (cd_db_command(
            n->conn, "notify: closing stale deliveries",
            "WITH st AS ("
            "  SELECT q.id, CASE WHEN q.channel = ANY($1::text[])"
            "    THEN 'expired (older than max_age_hours)'"
            "    ELSE 'channel ' || q.channel || ' is no longer configured' END AS why"
            "    FROM sp_v2_notification_deliveries q"
            "    JOIN sp_v2_notifications e ON e.id = q.notification_id"
            "   WHERE (q.status = 'PENDING'"
            "          OR (q.status = 'SENDING' AND q.claim_expires_at < now()))"
            "     AND e.created_at < now() - make_interval(hours => $2::int)"
            "   ORDER BY q.id LIMIT 200 FOR UPDATE OF q SKIP LOCKED"
            "), d AS ("
            "  UPDATE sp_v2_notification_deliveries d SET status = 'FAILED',"
            "   attempts = d.attempts + 1, last_error = st.why, last_http_status = NULL,"
            "   claimed_by = NULL, claim_expires_at = NULL"
            "  FROM st WHERE d.id = st.id RETURNING d.id, d.attempts, st.why)"
            " INSERT INTO sp_v2_notification_attempts (delivery_id, attempt, worker_id, started_at,"
            "  outcome, error)"
            " SELECT id, attempts, $3::text, now(), 'ERROR', why FROM d"
            " ON CONFLICT (delivery_id, attempt) DO NOTHING",
            3, p, &err) != 0) {
        cd_error("%s", err);
        free(err);
    }
}

/* Old alerts go in bounded DELETEs, as run logs do (retention.c): a
 * backlog of months (alerts never pruned, or retention shortened) must not
 * become one statement holding locks on the whole table. */
#define PRUNE_BATCH "500"
#define PRUNE_MAX_BATCHES 20

/* Sent and given-up alerts are kept as long as run logs. Runs with or
 * without channels: events are recorded either way, and with none
 * configured (the shipped default) nothing else ever removes them. */
static void prune(cd_notifier *n, const cd_alert_settings *s)
{
    int64_t now = mono_ms();
    if (n->last_prune_ms && now - n->last_prune_ms < 3600 * 1000)
        return;
    char days[16];
    snprintf(days, sizeof days, "%d", s->retention_days);
    const char *p[] = {days, PRUNE_BATCH};
    long batch = atol(PRUNE_BATCH);
    for (int i = 0; i < PRUNE_MAX_BATCHES && !atomic_load(&n->stop); i++) {
        char *err = NULL;
        PGresult *res = cd_db_exec(
            n->conn, "notify: pruning old alerts", PGRES_COMMAND_OK,
            "DELETE FROM sp_v2_notifications WHERE id IN ("
            " SELECT e.id FROM sp_v2_notifications e"
            "  WHERE e.created_at < now() - make_interval(days => $1::int)"
            "    AND NOT EXISTS (SELECT 1 FROM sp_v2_notification_deliveries d"
            "     WHERE d.notification_id = e.id AND d.status IN ('PENDING', 'SENDING'))"
            "  ORDER BY e.created_at LIMIT $2::int)",
            2, p, &err);
        if (!res) {
            cd_error("%s", err);
            free(err);
            return; /* tried again on the next round */
        }
        long gone = atol(PQcmdTuples(res));
        PQclear(res);
        if (gone < batch) {
            n->last_prune_ms = now;
            return;
        }
    }
    /* A backlog left over: the next round goes on with it rather than
     * waiting an hour, and deliveries get their turn in between. */
}

/* Waits for a NOTIFY, a wake-up or the timeout. */
static void wait_for_work(cd_notifier *n, int timeout_ms)
{
    struct pollfd fds[2] = {{.fd = n->wake_fd, .events = POLLIN}, {.fd = -1}};
    if (n->conn && PQstatus(n->conn) == CONNECTION_OK)
        fds[1] = (struct pollfd){.fd = PQsocket(n->conn), .events = POLLIN};
    if (poll(fds, fds[1].fd >= 0 ? 2 : 1, timeout_ms) < 0 && errno != EINTR)
        cd_error("notify: poll: %s", strerror(errno));
    if (fds[0].revents & POLLIN) {
        uint64_t v;
        if (read(n->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
            cd_error("notify: reading the wake-up: %s", strerror(errno));
    }
    if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
        if (!PQconsumeInput(n->conn)) {
            char *e = cd_db_error(n->conn, "notify: LISTEN connection");
            cd_error("%s", e);
            free(e);
            return; /* ensure_conn reconnects */
        }
        PGnotify *note;
        while ((note = PQnotifies(n->conn)) != NULL)
            PQfreemem(note);
    }
}

static void *thread_main(void *arg)
{
    cd_notifier *n = arg;
    while (!atomic_load(&n->stop)) {
        cd_alert_settings *s = cd_alert_settings_get();
        int busy = 0;
        if (s && ensure_conn(n, s) == 0) {
            char *names, *types;
            channel_arrays(s, &names, &types);
            /* The next call may be a whole round of sends away. */
            cd_channel_sets_publish(&n->channel_sets, n->conn, n->worker_id, s,
                                    120 + ROUND_MAX * (s->timeout_s > 0 ? s->timeout_s : 10),
                                    mono_ms());
            settle_stale(n, s, names);
            if (s->nchannels > 0) {
                long made = fan_out(n, s, names, types);
                for (int i = 0; i < ROUND_MAX && !atomic_load(&n->stop); i++) {
                    int r = deliver_one(n, s, names);
                    if (r <= 0)
                        break;
                    busy = i + 1 == ROUND_MAX;
                }
                if (made > 0)
                    busy = 1;
            }
            prune(n, s);
            free(names);
            free(types);
        }
        cd_alert_settings_put(s);
        /* The poll is the fallback for retries coming due and for a lost
         * NOTIFY; new events wake it at once. */
        if (!busy && !atomic_load(&n->stop))
            wait_for_work(n, 1000);
    }
    cd_channel_sets_finish(&n->channel_sets, n->conn, n->worker_id);
    if (n->conn)
        PQfinish(n->conn);
    n->conn = NULL;
    return NULL;
}

cd_notifier *cd_notifier_start(const char *worker_id, char **err)
{
    cd_notifier *n = cd_xcalloc(1, sizeof *n);
    n->worker_id = cd_xstrdup(worker_id);
    atomic_init(&n->stop, 0);
    atomic_init(&n->abort_send, 0);
    n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->wake_fd < 0) {
        *err = cd_sprintf("notify: eventfd: %s", strerror(errno));
        free(n->worker_id);
        free(n);
        return NULL;
    }
    int rc = pthread_create(&n->thread, NULL, thread_main, n);
    if (rc != 0) {
        *err = cd_sprintf("notify: cannot start the delivery thread: %s", strerror(rc));
        close(n->wake_fd);
        free(n->worker_id);
        free(n);
        return NULL;
    }
    return n;
}

void cd_notifier_wake(cd_notifier *n)
{
    uint64_t one = 1;
    if (n && write(n->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        cd_error("notify: waking the delivery thread: %s", strerror(errno));
}

void cd_notifier_stop(cd_notifier *n)
{
    if (!n)
        return;
    atomic_store(&n->stop, 1);
    atomic_store(&n->abort_send, 1);
    cd_notifier_wake(n);
    pthread_join(n->thread, NULL);
    close(n->wake_fd);
    free(n->worker_id);
    free(n);
}
