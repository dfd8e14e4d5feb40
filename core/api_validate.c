/*
 * api_validate.c — whether a would-be connector can be stored: the core's
 * own fields, then connection_config against the driver's JSON Schema,
 * then (only when all that passed) the driver's validate() in a child
 * process. Every problem is a {"field", "message"} error; messages never
 * quote submitted values, which may be secrets.
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"
#include "api_mask.h"
#include "api_validate.h"
#include "cron.h"
#include "db.h"
#include "jsonschema.h"
#include "secret_guard.h"
#include "secrets.h"
#include "templates.h"
#include "log.h"
#include "notify.h"
#include "registry.h"
#include "util.h"
#include "validate_child.h"

const char *const cd_api_connector_fields[] = {
    "name", "connector_type", "source_entity", "connection_config", "driver", "status",
    "schedule_enabled", "schedule_cron", "schedule_timezone", "created_by", "expected_by",
    "alert_channels", NULL};

static const char *const read_only_fields[] = {
    "id", "last_run_at", "last_run_status", "last_run_details", "success_count",
    "failure_count", "total_runs", "created_at", "updated_at", "sync_cursor", "resumed_at",
    "paused_at", "schedule_changed_at", "success_rate", "active_run", "next_run_at", NULL};

static const char *const types[] = {"BANK_SFTP", "BANK_API", "PG_API", "PG_DATABASE", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static void err_add(json_t *errors, const char *field, const char *msg)
{
    json_array_append_new(errors, cd_api_field_error(field, msg));
}

void cd_api_check_connector_body(const json_t *body, int creating, json_t *errors)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        if (in_list(key, read_only_fields))
            err_add(errors, key, "is read-only");
        else if (!in_list(key, cd_api_connector_fields))
            err_add(errors, key, "is not an allowed field");
        else if (!creating && strcmp(key, "status") == 0)
            err_add(errors, key, "cannot be set here: use POST /connectors/:id/pause or /resume");
        else if (!creating && strcmp(key, "created_by") == 0)
            err_add(errors, key, "is read-only");
    }
}

/* A string member within 1..maxlen characters (or absent when optional). */
static const char *string_field(const json_t *c, const char *key, size_t maxlen, int required,
                                json_t *errors)
{
    json_t *v = json_object_get(c, key);
    if (!v || json_is_null(v)) {
        if (required)
            err_add(errors, key, "is required");
        return NULL;
    }
    if (!json_is_string(v)) {
        err_add(errors, key, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    int blank = 1;
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            blank = 0;
    if (strlen(s) != n) {
        err_add(errors, key, "must not contain NUL characters");
        return NULL;
    }
    if (blank && required) {
        err_add(errors, key, "must not be empty");
        return NULL;
    }
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
    if (chars > maxlen) {
        char *m = cd_sprintf("must be at most %zu characters", maxlen);
        err_add(errors, key, m);
        free(m);
        return NULL;
    }
    return s;
}

#define TZ_DEFAULT "Asia/Kolkata"
#define TZ_UNKNOWN "is not a known IANA time zone (for example Asia/Kolkata)"

/* The schedule and alert fields of c (body: what the request itself sent).
 * *tz_out is the zone to check with PostgreSQL (cd_api_tz_check) when it
 * names a zone file, else NULL. */
static void check_schedule(const json_t *c, const json_t *body, json_t *errors,
                           const char **tz_out)
{
    *tz_out = NULL;
    json_t *en = json_object_get(c, "schedule_enabled");
    if (en && !json_is_null(en) && !json_is_boolean(en))
        err_add(errors, "schedule_enabled", "must be true or false");
    int enabled = !en || json_is_null(en) || json_is_true(en);
    const char *cron = string_field(c, "schedule_cron", 100, 0, errors);
    json_t *cv = json_object_get(c, "schedule_cron");
    json_t *tzv = json_object_get(c, "schedule_timezone");
    const char *tz = string_field(c, "schedule_timezone", 50, 0, errors);
    int tz_ok = 1;
    if (tz && !cd_tz_valid(tz)) {
        err_add(errors, "schedule_timezone", TZ_UNKNOWN);
        tz_ok = 0;
    } else if (tz) {
        *tz_out = tz;
    } else if (tzv && !json_is_null(tzv)) {
        tz_ok = 0; /* not a string: string_field said so */
    }
    if (cron) {
        cd_cron parsed;
        char *why = NULL;
        if (cd_cron_parse(cron, &parsed, &why) != 0) {
            char *m = cd_sprintf("is not a valid cron expression: %s", why ? why : "invalid");
            err_add(errors, "schedule_cron", m);
            free(m);
        } else if (enabled && tz_ok) {
            /* "0 0 30 2 *" parses, but a schedule that never fires is a
             * connector that silently never runs. */
            int64_t next = 0;
            free(why);
            why = NULL;
            if (cd_cron_next(&parsed, tz ? tz : TZ_DEFAULT, (int64_t)time(NULL), &next, &why) != 0)
                err_add(errors, "schedule_cron",
                        "never fires: no date matches it (for example 30 February); fix it or "
                        "set schedule_enabled to false");
        }
        free(why);
    } else if (enabled && (!cv || json_is_null(cv))) {
        err_add(errors, "schedule_cron", "is required when schedule_enabled is true");
    }

    /* Alerts (#9): the local time yesterday's data must have arrived by,
     * and the channels this connector's alerts go to (null: all). */
    const char *by = string_field(c, "expected_by", 5, 0, errors);
    if (by && !(strlen(by) == 5 && by[2] == ':' && isdigit((unsigned char)by[0]) &&
                isdigit((unsigned char)by[1]) && isdigit((unsigned char)by[3]) &&
                isdigit((unsigned char)by[4]) && atoi(by) < 24 && atoi(by + 3) < 60))
        err_add(errors, "expected_by", "must be a local time HH:MM, like 09:00");
    json_t *ch = json_object_get(c, "alert_channels");
    if (ch && !json_is_null(ch)) {
        if (!json_is_array(ch)) {
            err_add(errors, "alert_channels", "must be a list of channel names, or null for all");
        } else {
            /* A name no channel has would send this connector's alerts
             * nowhere, without a word: judged against this worker's
             * alerts.channels (every worker should have the same ones; the
             * workers warn when they differ). */
            /* Only names a request sends: a stored list a later change of
             * alerts.channels left behind must not block every other edit
             * (the ops page cannot even send this field). */
            const json_t *sent = body ? json_object_get(body, "alert_channels") : NULL;
            cd_alert_settings *as = sent ? cd_alert_settings_get() : NULL;
            size_t i;
            json_t *v;
            json_array_foreach(ch, i, v) {
                const char *n = json_string_value(v);
                char *f = cd_sprintf("alert_channels[%zu]", i);
                if (!n || !*n || strlen(n) > 100) {
                    err_add(errors, f, "must be a channel name (1 to 100 characters)");
                } else if (as && !cd_alert_channel(as, n)) {
                    cd_buf known;
                    cd_buf_init(&known);
                    for (size_t k = 0; k < as->nchannels; k++)
                        cd_buf_printf(&known, "%s%s", k ? ", " : "", as->channels[k].name);
                    char *m = as->nchannels
                                  ? cd_sprintf("names no channel of alerts.channels (%s)", known.data)
                                  : cd_xstrdup("names a channel, but alerts.channels has none");
                    err_add(errors, f, m);
                    free(m);
                    cd_buf_free(&known);
                }
                free(f);
            }
            cd_alert_settings_put(as);
        }
    }
}

#define TZ_NOT_PG                                                                           \
    "is not an IANA zone name PostgreSQL knows (abbreviations such as AET or IST are not): "   \
    "use the Region/City name, for example Australia/Sydney or Asia/Kolkata"
#define TZ_DISAGREE                                                                         \
    "means one offset to PostgreSQL (which reads it as an abbreviation, or has other time "   \
    "zone data) and another to the scheduler: use the Region/City name, for example "         \
    "Europe/Paris"

/* Verdicts on names of zone files (a bounded set): JSON null for a usable
 * zone, else the message. Asking PostgreSQL costs tens of milliseconds
 * (pg_timezone_names reads the whole zone directory), and every run
 * request asks. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *tz_verdicts;

/* Whether PostgreSQL and the scheduler give tz the same UTC offsets
 * around now: 1, 0, or -1 with *err. Both read the zone files now, but a
 * PostgreSQL built with its own tz data (--without-system-tzdata, or an
 * older copy) reads some zones otherwise, and a name that is also an
 * abbreviation (CET, EET) is read by PostgreSQL as that fixed offset. */
static int tz_offsets_agree(PGconn *db, const char *tz, char **err)
{
    enum { N = 13 };
    int64_t now = (int64_t)time(NULL);
    int64_t at[N];
    cd_buf list;
    cd_buf_init(&list);
    cd_buf_putc(&list, '{');
    for (int i = 0; i < N; i++) {
        /* about one instant a month from six months back to six ahead: any
         * DST rule, in either hemisphere, shows in some of them */
        at[i] = now + (int64_t)(i - N / 2) * 30 * 86400;
        cd_buf_printf(&list, "%s%lld", i ? "," : "", (long long)at[i]);
    }
    cd_buf_putc(&list, '}');
    const char *p[] = {tz, list.data};
    PGresult *res = cd_db_exec(db, "comparing the time zone's offsets", PGRES_TUPLES_OK,
                               "SELECT extract(epoch FROM (to_timestamp(t) AT TIME ZONE $1))::bigint"
                               "       - t"
                               "  FROM unnest($2::bigint[]) WITH ORDINALITY AS u(t, n) ORDER BY n",
                               2, p, err);
    cd_buf_free(&list);
    if (!res)
        return -1;
    int agree = PQntuples(res) == N;
    for (int i = 0; agree && i < N; i++) {
        int off = 0;
        if (cd_tz_local_fields(tz, at[i], NULL, NULL, NULL, NULL, NULL, &off) != 0 ||
            strtoll(PQgetvalue(res, i, 0), NULL, 10) != off)
            agree = 0;
    }
    PQclear(res);
    return agree;
}

int cd_api_tz_check(PGconn *db, const char *tz, char **why, char **err)
{
    *why = NULL;
    if (!tz || !cd_tz_valid(tz)) {
        *why = cd_xstrdup(TZ_UNKNOWN);
        return 0;
    }
    pthread_mutex_lock(&tz_lock);
    json_t *v = tz_verdicts ? json_object_get(tz_verdicts, tz) : NULL;
    int cached = v != NULL;
    if (json_is_string(v))
        *why = cd_xstrdup(json_string_value(v));
    pthread_mutex_unlock(&tz_lock);
    if (cached)
        return *why ? 0 : 1;

    /* The scheduler reads the zone file itself, the run functions of
     * schema/007 with PostgreSQL: a name only one of them knows fails
     * every run, and one they read differently gives runs the wrong day. */
    const char *p[] = {tz};
    PGresult *res = cd_db_exec(db, "looking up the time zone", PGRES_TUPLES_OK,
                               "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)",
                               1, p, err);
    if (!res)
        return -1;
    int known = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (!known) {
        *why = cd_xstrdup(TZ_NOT_PG);
    } else {
        /* Every name, not only those without a '/': the same name can still
         * mean other rules to a PostgreSQL with other tz data. */
        int agree = tz_offsets_agree(db, tz, err);
        if (agree < 0)
            return -1;
        if (!agree)
            *why = cd_xstrdup(TZ_DISAGREE);
    }
    pthread_mutex_lock(&tz_lock);
    if (!tz_verdicts)
        tz_verdicts = json_object();
    json_object_set_new(tz_verdicts, tz, *why ? json_string(*why) : json_null());
    pthread_mutex_unlock(&tz_lock);
    return *why ? 0 : 1;
}

/* Every secret reference in connection_config, not only those in fields
 * the driver marks writeOnly: the runner resolves them wherever they are
 * (cd_secrets_resolve_tree), so one naming the service's own credentials
 * would be stored and then fail every run. And every number, schema or
 * not: jsonb stores 1e20 as the digits 100000000000000000000, which no
 * reader of the stored document (the API, the runner) can parse back into
 * an int64, so the whole connection_config would become unreadable.
 * path is restored on return. */
static void check_config_values(const json_t *v, cd_buf *path, json_t *errors, int depth)
{
    if (json_is_real(v) && !(fabs(json_real_value(v)) < 0x1p63)) {
        err_add(errors, path->data,
                "is a number too large to store (at most 9223372036854775807 either way)");
        return;
    }
    if (cd_secret_is_reference(v)) {
        /* A reference is no secret itself: saying which one is refused is safe. */
        char *why = NULL;
        const char *ref = json_string_value(json_object_get(v, "secret"));
        if (cd_secret_reference_check(ref, &why) != 0 ||
            cd_secret_guard_check_reference(ref, &why) != 0)
            err_add(errors, path->data, why);
        free(why);
        return;
    }
    if (depth > 64) {
        err_add(errors, path->data, "is nested too deeply (more than 64 levels)");
        return;
    }
    size_t mark = path->len;
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child) {
            cd_buf_printf(path, ".%s", key);
            check_config_values(child, path, errors, depth + 1);
            path->len = mark;
            path->data[mark] = '\0';
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) {
            cd_buf_printf(path, "[%zu]", i);
            check_config_values(child, path, errors, depth + 1);
            path->len = mark;
            path->data[mark] = '\0';
        }
    }
}

static char *lower_dup(const char *s)
{
    char *d = cd_xstrdup(s);
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

int cd_api_validate_connector(cd_api_req *q, cd_api_resp *r, json_t *c, int creating,
                              json_t *errors)
{
    cd_api *api = q->api;
    size_t before = json_array_size(errors);
    const char *name = string_field(c, "name", 255, 1, errors);
    if (name && cd_api_has_control(name))
        err_add(errors, "name", CD_API_NO_CONTROL);
    const char *entity = string_field(c, "source_entity", 100, 1, errors);
    if (entity && cd_api_has_control(entity))
        err_add(errors, "source_entity", CD_API_NO_CONTROL);
    const char *creator = string_field(c, "created_by", 100, 0, errors);
    if (creator && cd_api_has_control(creator))
        err_add(errors, "created_by", CD_API_NO_CONTROL);
    const char *type = string_field(c, "connector_type", 50, 1, errors);
    if (type && !in_list(type, types)) {
        err_add(errors, "connector_type", "must be one of BANK_SFTP, BANK_API, PG_API, PG_DATABASE");
        type = NULL;
    }
    if (creating) {
        const char *st = string_field(c, "status", 20, 0, errors);
        if (st && strcmp(st, "ACTIVE") != 0 && strcmp(st, "PAUSED") != 0)
            err_add(errors, "status", "must be ACTIVE or PAUSED");
    }
    const char *tz = NULL;
    check_schedule(c, q->body, errors, &tz);
    if (tz) {
        PGconn *db = cd_api_db(q, r);
        if (!db)
            return -1;
        char *why = NULL, *err = NULL;
        int ok = cd_api_tz_check(db, tz, &why, &err);
        if (ok < 0) {
            cd_api_internal_error(r, "checking the time zone", err);
            return -1;
        }
        if (!ok)
            err_add(errors, "schedule_timezone", why);
        free(why);
    }
    json_t *cfg = json_object_get(c, "connection_config");
    if (!cfg || json_is_null(cfg)) {
        err_add(errors, "connection_config", "is required");
        cfg = NULL;
    } else if (!json_is_object(cfg)) {
        err_add(errors, "connection_config", "must be an object");
        cfg = NULL;
    } else {
        cd_buf path;
        cd_buf_init(&path);
        cd_buf_puts(&path, "connection_config");
        check_config_values(cfg, &path, errors, 0);
        cd_buf_free(&path);
    }

    /* The driver: named, or the built-in one of the category. */
    const char *drv = string_field(c, "driver", 100, 0, errors);
    int driver_given = drv != NULL;
    char *drv_alloc = NULL;
    if (drv) {
        /* "" was looked up as a driver: "driver  is not loaded" */
        if (!*drv) {
            err_add(errors, "driver", "must be a driver name: lower-case letters, digits, _");
            drv = NULL;
        }
        for (const char *p = drv ? drv : ""; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
                err_add(errors, "driver", "must be a driver name: lower-case letters, digits, _");
                drv = NULL;
                break;
            }
    } else if (type) {
        drv = drv_alloc = lower_dup(type);
    }
    if (!drv) {
        free(drv_alloc);
        return 0;
    }
    if (!driver_given)
        json_object_set_new(c, "driver", json_string(drv));
    json_t *snap = cd_registry_get();
    json_t *d = cd_registry_driver(snap, drv);
    const char *field = driver_given ? "driver" : "connector_type";
    if (!d) {
        char *m = cd_sprintf("driver %s is not loaded (see GET /plugins)", drv);
        err_add(errors, field, m);
        free(m);
    } else {
        const char *cat = json_string_value(json_object_get(d, "category"));
        if (type && cat && strcmp(cat, type) != 0) {
            char *m = cd_sprintf("must be %s to use driver %s", cat, drv);
            err_add(errors, "connector_type", m);
            free(m);
        }
        const json_t *schema = json_object_get(d, "config_schema");
        if (cfg && json_is_object(schema))
            cd_jsonschema_validate(schema, cfg, "connection_config", errors);
        const char *path = json_string_value(json_object_get(d, "path"));
        /* The driver's own rules only on a config that is otherwise fine: a
         * child process per keystroke of garbage is not worth it. */
        if (cfg && path && json_array_size(errors) == before) {
            /* As the runner does: a named bank template becomes the
             * driver's template_format, so the driver checks the real thing. */
            json_t *with_template = json_deep_copy(cfg);
            cd_templates_inject(api->cfg, schema, with_template);
            char *text = json_dumps(with_template, JSON_COMPACT);
            json_decref(with_template);
            char *err = NULL;
            if (cd_validate_driver_run(api->self_exe, path, text, "connection_config", 10000,
                                       errors, &err) < 0) {
                cd_warn("api: validating with driver %s: %s", drv, err);
                char *m = cd_sprintf("could not be checked by driver %s: %s", drv, err);
                err_add(errors, "connection_config", m);
                free(m);
                free(err);
            }
            free(text);
        }
    }
    json_decref(snap);
    free(drv_alloc);
    return 0;
}
