/* api_audit.c — see api_audit.h. */
#include "api_audit.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "api_mask.h"
#include "db.h"
#include "registry.h"
#include "secrets.h"
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

json_t *cd_api_audit_guard(const json_t *connector, json_t *snapshot)
{
    if (!connector)
        return NULL;
    json_t *c = json_deep_copy(connector);
    json_t *cfg = json_object_get(c, "connection_config");
    if (!json_is_object(cfg) && !json_is_array(cfg))
        return c;
    const char *d = json_string_value(json_object_get(c, "driver"));
    char *name = NULL;
    if (d && *d) {
        name = cd_xstrdup(d);
    } else if (json_string_value(json_object_get(c, "connector_type"))) {
        name = cd_xstrdup(json_string_value(json_object_get(c, "connector_type")));
        for (char *p = name; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    if (!cd_api_driver_schema(snapshot, name))
        cd_api_mask_all(cfg);
    free(name);
    return c;
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
    json_t *snap = cd_registry_get();
    json_t *gb = cd_api_audit_guard(before, snap), *ga = cd_api_audit_guard(after, snap);
    json_decref(snap);
    char *b = gb ? json_dumps(gb, JSON_COMPACT) : NULL;
    char *a = ga ? json_dumps(ga, JSON_COMPACT) : NULL;
    json_decref(gb);
    json_decref(ga);
    char *c = json_dumps(changed, JSON_COMPACT);
    const char *p[] = {id, action, actor ? actor : "unknown", b, a, c};
    /* at: now, as updated_at is, not now() (when the request's
     * transaction began: an update validates the connector inside it,
     * which may take seconds, waiting for the row's lock too). */
    int rc = cd_db_command(db, "recording the audit entry",
                           "INSERT INTO sp_v2_connector_audit"
                           " (connector_id, action, actor, at, before, after, changed_fields)"
                           " VALUES ($1, $2, $3, clock_timestamp(), $4::jsonb, $5::jsonb,"
                           "         ARRAY(SELECT jsonb_array_elements_text($6::jsonb)))",
                           6, p, err);
    free(b);
    free(a);
    free(c);
    json_decref(changed);
    return rc;
}

/* How much of the entries' before and after one page holds at most (and
 * at least one entry): a connection_config may take up to the 1 MiB a
 * request body may be, and each update keeps it twice, so a page of 500
 * such entries would be a gigabyte held by the worker. The page ends
 * early and next_before goes on from there. */
#define PAGE_BYTES (8 * 1024 * 1024)
/* Entries read per query while a page fills: a few first, then as many
 * as the room left holds at the size seen so far, so that neither large
 * entries the page then leaves out are read nor small ones one by one. */
enum { FIRST_BATCH = 8, MAX_BATCH = 200 };

/* Appends the page's entries to b (from offset, older than before when
 * before > 0). 1 when there are more after them (*last: the last one's
 * id), 0 when not, -1 with *err. */
static int emit_page(PGconn *db, int64_t id, int64_t before, long long offset, long long limit,
                     cd_buf *b, int64_t *last, char **err)
{
    long long shown = 0, bytes = 0;
    for (;;) {
        long long want = limit - shown + 1; /* one more: is there a next page? */
        long long fit = shown ? (PAGE_BYTES - bytes) / (bytes / shown + 1) + 2 : FIRST_BATCH;
        if (want > fit)
            want = fit;
        if (want > MAX_BATCH)
            want = MAX_BATCH;
        if (want < 1) /* full: is there one more? */
            want = 1;
        char ids[24], lim[24], off[24], bef[24];
        snprintf(ids, sizeof ids, "%lld", (long long)id);
        snprintf(lim, sizeof lim, "%lld", want);
        snprintf(off, sizeof off, "%lld", shown ? 0LL : offset);
        snprintf(bef, sizeof bef, "%lld", (long long)(shown ? *last : before));
        const char *p[] = {ids, lim, off, shown || before > 0 ? bef : NULL};
        PGresult *res = cd_db_exec(db, "reading the audit trail", PGRES_TUPLES_OK,
                                   "SELECT id, connector_id, action, actor, at,"
                                   "       array_to_json(changed_fields) AS changed_fields,"
                                   "       before, after"
                                   "  FROM sp_v2_connector_audit"
                                   " WHERE connector_id = $1"
                                   "   AND ($4::bigint IS NULL OR id < $4::bigint)"
                                   " ORDER BY id DESC LIMIT $2 OFFSET $3",
                                   4, p, err);
        if (!res)
            return -1;
        int rows = PQntuples(res);
        int cb = PQfnumber(res, "before"), ca = PQfnumber(res, "after");
        for (int i = 0; i < rows; i++) {
            if (shown == limit || bytes >= PAGE_BYTES) {
                PQclear(res);
                return 1;
            }
            if (shown)
                cd_buf_putc(b, ',');
            cd_api_row_emit(b, res, i, NULL, NULL);
            cd_buf_putc(b, '}');
            bytes += PQgetlength(res, i, cb) + PQgetlength(res, i, ca);
            *last = strtoll(PQgetvalue(res, i, 0), NULL, 10);
            shown++;
        }
        PQclear(res);
        if (rows < want)
            return 0;
    }
}

void cd_api_audit_list(cd_api_req *q, cd_api_resp *r, int64_t id)
{
    json_t *errors = json_array();
    long long limit = cd_api_query_int(q, "limit", 50, 1, 500, errors);
    long long offset = cd_api_query_int(q, "offset", 0, 0, 100000000, errors);
    /* before: the next_before of the page read last. Every write adds an
     * entry at the top, so an offset read after one shows the last entry
     * of the page before again; an id does not move. */
    const char *bs = cd_api_query(q, "before");
    int64_t before = 0;
    if (bs && *bs && (before = cd_api_parse_id(bs)) < 0)
        json_array_append_new(errors, cd_api_field_error("before", "must be the next_before of a page "
                                                                   "read before (an entry's id)"));
    if (json_array_size(errors)) {
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Invalid query parameters", errors);
        return;
    }
    json_decref(errors);
    PGconn *db = cd_api_db(q, r);
    if (!db)
        return;
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *p[] = {ids};
    char *err = NULL;
    PGresult *cnt = cd_db_exec(db, "counting the audit trail", PGRES_TUPLES_OK,
                               "SELECT count(*) FROM sp_v2_connector_audit WHERE connector_id = $1",
                               1, p, &err);
    if (!cnt) {
        cd_api_internal_error(r, "counting the audit trail", err);
        return;
    }
    long long total = strtoll(PQgetvalue(cnt, 0, 0), NULL, 10);
    PQclear(cnt);
    /* No entry at all: a connector made before the API kept a trail, or
     * none (the trail of a deleted one outlives it, so entries answer). */
    if (total == 0 && cd_api_connector_exists(q, r, id, NULL) != 1)
        return;
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_puts(&b, "{\"success\":true,\"audit\":[");
    int64_t last = 0;
    int more = emit_page(db, id, before, offset, limit, &b, &last, &err);
    if (more < 0) {
        cd_buf_free(&b);
        cd_api_internal_error(r, "reading the audit trail", err);
        return;
    }
    cd_buf_printf(&b, "],\"total\":%lld,\"limit\":%lld,\"offset\":%lld,\"next_before\":", total,
                  limit, offset);
    if (more)
        cd_buf_printf(&b, "\"%lld\"}", (long long)last);
    else
        cd_buf_puts(&b, "null}");
    cd_api_ok(r, MHD_HTTP_OK, NULL);
    r->text = cd_buf_take(&b);
}
