/*
 * api_server.c — the libmicrohttpd daemon behind cd_api_start: reading
 * bodies (bounded), authenticating, routing to the handlers and sending
 * their JSON. Every request ends in a deliberate status: bad input is a
 * 4xx with a message, never a crash or a 500.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "alerts_api.h"
#include "api_audit.h"
#include "api_internal.h"
#include "log.h"
#include "paths.h"
#include "util.h"

void cd_api_response_headers(struct MHD_Response *resp, unsigned status)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"connectord\"");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static enum MHD_Result send_response(struct MHD_Connection *c, cd_api_resp *r)
{
    if (r->cached) {
        /* Shared by many connections: queued as it is, never modified. */
        enum MHD_Result rc = cd_api_cached_queue(c, r->cached);
        r->cached = NULL;
        json_decref(r->body);
        r->body = NULL;
        free(r->text);
        r->text = NULL;
        return rc;
    }
    struct MHD_Response *resp = r->raw;
    if (!resp) {
        if (!r->body && !r->text)
            cd_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error: empty response");
        char *text = r->text ? r->text : json_dumps(r->body, JSON_COMPACT);
        r->text = NULL;
        size_t len = strlen(text);
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        cd_api_response_headers(resp, r->status);
    } else {
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    }
    /* RFC 9110: a 405 names the methods the resource supports. */
    if (r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    enum MHD_Result rc = MHD_queue_response(c, r->status ? r->status : 200, resp);
    MHD_destroy_response(resp);
    json_decref(r->body);
    r->body = NULL;
    r->raw = NULL;
    return rc;
}

static enum MHD_Result send_error_now(struct MHD_Connection *c, unsigned status, const char *msg)
{
    cd_api_resp r = {0};
    cd_api_error(&r, status, msg);
    return send_response(c, &r);
}

static void split_path(const char *url, cd_api_req *q)
{
    size_t cap = 8;
    q->seg = cd_xcalloc(cap, sizeof *q->seg);
    const char *p = url;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (q->nseg + 1 >= cap) {
            cap *= 2;
            q->seg = cd_xrealloc(q->seg, cap * sizeof *q->seg);
        }
        q->seg[q->nseg++] = cd_xstrndup(p, n);
        p += n;
    }
}

static int seg_is(const cd_api_req *q, size_t i, const char *s)
{
    return i < q->nseg && strcmp(q->seg[i], s) == 0;
}

/* What a route needs and does. */
typedef enum {
    R_NONE,
    R_LIST, R_CREATE, R_VALIDATE, R_GET, R_UPDATE, R_DELETE, R_TEST, R_RUN, R_PAUSE, R_RESUME,
    R_HISTORY, R_AUDIT, R_BACKFILL, R_BACKFILL_GET, R_BACKFILL_CANCEL, R_RUN_GET, R_RUN_CANCEL,
    R_PLUGINS, R_METRICS, R_NOTIFY_TEST, R_TEMPLATES
} route_kind;

typedef struct route {
    route_kind kind;
    cd_api_role need;
    int64_t id, run_id;
    const char *bid;
    int bad_id;         /* an id segment that is not a positive integer */
    int bad_method;     /* known path, other method */
    const char *allow;
} route;

static int is(const char *m, const char *want) { return strcmp(m, want) == 0; }

static void pick(route *rt, const char *method, const char *want, route_kind k, cd_api_role need)
{
    if (rt->kind != R_NONE)
        return;
    if (is(method, want) || (is(want, "GET") && is(method, "HEAD"))) {
        rt->kind = k;
        rt->need = need;
        rt->bad_method = 0;
    } else {
        rt->bad_method = 1;
    }
}

static void route_request(const cd_api_req *q, route *rt)
{
    const char *m = q->method;
    memset(rt, 0, sizeof *rt);
    if (seg_is(q, 0, "plugins") && q->nseg == 1) {
        rt->allow = "GET, HEAD";
        pick(rt, m, "GET", R_PLUGINS, CD_ROLE_VIEWER);
        return;
    }
    if (seg_is(q, 0, "templates") && q->nseg == 1) {
        rt->allow = "GET, HEAD";
        pick(rt, m, "GET", R_TEMPLATES, CD_ROLE_VIEWER);
        return;
    }
    if (seg_is(q, 0, "metrics") && q->nseg == 1) {
        rt->allow = "GET, HEAD";
        pick(rt, m, "GET", R_METRICS, CD_ROLE_VIEWER);
        return;
    }
    if (seg_is(q, 0, "notifications") && q->nseg == 2 && seg_is(q, 1, "test")) {
        rt->allow = "POST";
        pick(rt, m, "POST", R_NOTIFY_TEST, CD_ROLE_OPERATOR);
        return;
    }
    if (!seg_is(q, 0, "connectors"))
        return;
    if (q->nseg == 1) {
        rt->allow = "GET, HEAD, POST";
        pick(rt, m, "GET", R_LIST, CD_ROLE_VIEWER);
        pick(rt, m, "POST", R_CREATE, CD_ROLE_ADMIN);
        return;
    }
    if (q->nseg == 2 && seg_is(q, 1, "validate")) {
        rt->allow = "POST";
        pick(rt, m, "POST", R_VALIDATE, CD_ROLE_OPERATOR);
        return;
    }
    rt->id = cd_api_parse_id(q->seg[1]);
    if (rt->id < 0) {
        rt->bad_id = 1;
        return;
    }
    if (q->nseg == 2) {
        rt->allow = "GET, HEAD, PUT, DELETE";
        pick(rt, m, "GET", R_GET, CD_ROLE_VIEWER);
        pick(rt, m, "PUT", R_UPDATE, CD_ROLE_ADMIN);
        pick(rt, m, "DELETE", R_DELETE, CD_ROLE_ADMIN);
        return;
    }
    const char *a = q->seg[2];
    if (q->nseg == 3) {
        static const struct {
            const char *name, *method;
            route_kind kind;
            cd_api_role need;
        } simple[] = {
            {"test", "POST", R_TEST, CD_ROLE_OPERATOR},
            {"run", "POST", R_RUN, CD_ROLE_OPERATOR},
            {"pause", "POST", R_PAUSE, CD_ROLE_OPERATOR},
            {"resume", "POST", R_RESUME, CD_ROLE_OPERATOR},
            {"history", "GET", R_HISTORY, CD_ROLE_VIEWER},
            {"runs", "GET", R_HISTORY, CD_ROLE_VIEWER},
            {"audit", "GET", R_AUDIT, CD_ROLE_VIEWER},
            {"backfill", "POST", R_BACKFILL, CD_ROLE_OPERATOR},
            {"backfills", "POST", R_BACKFILL, CD_ROLE_OPERATOR},
        };
        for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
            if (strcmp(a, simple[i].name) == 0) {
                rt->allow = is(simple[i].method, "GET") ? "GET, HEAD" : simple[i].method;
                pick(rt, m, simple[i].method, simple[i].kind, simple[i].need);
                return;
            }
        }
        return;
    }
    if (strcmp(a, "backfills") == 0 && (q->nseg == 4 || (q->nseg == 5 && seg_is(q, 4, "cancel")))) {
        rt->bid = q->seg[3];
        rt->allow = q->nseg == 4 ? "GET, HEAD" : "POST";
        if (q->nseg == 4)
            pick(rt, m, "GET", R_BACKFILL_GET, CD_ROLE_VIEWER);
        else
            pick(rt, m, "POST", R_BACKFILL_CANCEL, CD_ROLE_OPERATOR);
        return;
    }
    if (strcmp(a, "runs") == 0 && (q->nseg == 4 || (q->nseg == 5 && seg_is(q, 4, "cancel")))) {
        rt->run_id = cd_api_parse_id(q->seg[3]);
        if (rt->run_id < 0) {
            rt->bad_id = 2;
            return;
        }
        rt->allow = q->nseg == 4 ? "GET, HEAD" : "POST";
        if (q->nseg == 4)
            pick(rt, m, "GET", R_RUN_GET, CD_ROLE_VIEWER);
        else
            pick(rt, m, "POST", R_RUN_CANCEL, CD_ROLE_OPERATOR);
    }
}

/* application/json, with or without parameters (charset=utf-8). */
static int content_type_is_json(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    if (strncasecmp(ct, "application/json", n) != 0)
        return 0;
    char next = ct[n];
    return next == '\0' || next == ';' || next == ' ';
}

static int refuse_unknown_query(struct MHD_Connection *c, route_kind k, cd_api_resp *r);

static void dispatch(cd_api_req *q, cd_api_resp *r, const route *rt)
{
    switch (rt->kind) {
    case R_LIST: cd_api_connectors_list(q, r); break;
    case R_CREATE: cd_api_connector_create(q, r); break;
    case R_VALIDATE: cd_api_connector_validate(q, r); break;
    case R_GET: cd_api_connector_get(q, r, rt->id); break;
    case R_UPDATE: cd_api_connector_update(q, r, rt->id); break;
    case R_DELETE: cd_api_connector_delete(q, r, rt->id); break;
    case R_TEST: cd_api_run_test(q, r, rt->id); break;
    case R_RUN: cd_api_run_manual(q, r, rt->id); break;
    case R_PAUSE: cd_api_connector_pause(q, r, rt->id, 1); break;
    case R_RESUME: cd_api_connector_pause(q, r, rt->id, 0); break;
    case R_HISTORY: cd_api_history(q, r, rt->id); break;
    case R_AUDIT: cd_api_audit_list(q, r, rt->id); break;
    case R_BACKFILL: cd_api_backfill_create(q, r, rt->id); break;
    case R_BACKFILL_GET: cd_api_backfill_get(q, r, rt->id, rt->bid); break;
    case R_BACKFILL_CANCEL: cd_api_backfill_cancel(q, r, rt->id, rt->bid); break;
    case R_RUN_GET: cd_api_run_get(q, r, rt->id, rt->run_id); break;
    case R_RUN_CANCEL: cd_api_run_cancel(q, r, rt->id, rt->run_id); break;
    case R_PLUGINS: cd_api_plugins(q, r); break;
    case R_METRICS: cd_api_metrics(q, r); break;
    case R_NOTIFY_TEST: cd_api_notifications_test(q, r); break;
    case R_TEMPLATES: cd_api_templates(q, r); break;
    case R_NONE: cd_api_error(r, MHD_HTTP_NOT_FOUND, "Not found"); break;
    }
}

static void invalidate_after_write(cd_api *api, const route *rt)
{
    if (!api->cache)
        return;
    switch (rt->kind) {
    case R_VALIDATE:
    case R_NOTIFY_TEST:
        break; /* change nothing the cache holds */
    default:
        if (rt->id > 0)
            cd_api_cache_bump_connector(api->cache, rt->id);
        else
            cd_api_cache_bump_all(api->cache);
        break;
    }
}

/* Whether the request may go on, from its headers alone: its origin
 * (api_origin.c) and its token. 0 with st->role and st->actor, or 1 with
 * *code and *msg (malloc'd). */
static int gate(cd_api *api, struct MHD_Connection *c, const char *method, cd_api_conn *st,
                unsigned *code, char **msg)
{
    int is_get = is(method, "GET") || is(method, "HEAD");
    char *refusal = cd_api_origin_refusal(c, !is_get, cd_api_auth_count(api->auth) == 0);
    if (refusal) {
        *code = MHD_HTTP_FORBIDDEN;
        *msg = refusal;
        return 1;
    }
    const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *who = NULL;
    cd_api_role role = cd_api_auth_check(api->auth, authz, &who);
    if (role == CD_ROLE_NONE) {
        *code = MHD_HTTP_UNAUTHORIZED;
        *msg = cd_xstrdup(authz ? "Invalid token"
                                : "Authentication required: send Authorization: Bearer TOKEN");
        return 1;
    }
    st->gated = 1;
    st->role = role;
    st->actor = who;
    return 0;
}

/* The ops page's files and the health check: open to all (handle()). */
static int is_public_path(const char *url)
{
    while (*url == '/')
        url++;
    size_t n = strcspn(url, "/");
    return n == 0 || (n == 3 && strncmp(url, "ops", 3) == 0) ||
           (n == 7 && strncmp(url, "healthz", 7) == 0 && url[7] == '\0');
}

/* The field ("connection_config.rows", "codes[2]") of the value that ends
 * at byte end of a body that is well-formed JSON up to there (jansson
 * stops at a number it cannot hold), or NULL for a top-level value. Only
 * member names and indexes are given back, never a value, and each name
 * is cut at 100 bytes. */
static char *number_field(const char *text, size_t end)
{
    enum { MAX_NEST = 64, MAX_NAME = 100 };
    struct frame {
        int is_obj;
        size_t index;        /* arrays: the element's index */
        const char *name;    /* objects: the member's name, as written */
        size_t name_len;
        int want_name;       /* objects: the next string is a name */
    } st[MAX_NEST];
    int depth = 0, deep = 0; /* deep: levels past MAX_NEST, not named */
    for (size_t i = 0; i < end; i++) {
        char ch = text[i];
        struct frame *top = depth > 0 && !deep ? &st[depth - 1] : NULL;
        if (ch == '"') {
            size_t start = ++i;
            while (i < end && text[i] != '"')
                i += text[i] == '\\' ? 2 : 1;
            if (top && top->is_obj && top->want_name) {
                top->name = text + start;
                top->name_len = (i < end ? i : end) - start;
                top->want_name = 0;
            }
        } else if (ch == '{' || ch == '[') {
            if (depth == MAX_NEST || deep) {
                deep++;
                continue;
            }
            st[depth++] = (struct frame){.is_obj = ch == '{', .want_name = ch == '{'};
        } else if (ch == '}' || ch == ']') {
            if (deep)
                deep--;
            else if (depth > 0)
                depth--;
        } else if (ch == ',' && top) {
            if (top->is_obj)
                top->want_name = 1;
            else
                top->index++;
        }
    }
    if (depth == 0)
        return NULL;
    cd_buf b;
    cd_buf_init(&b);
    for (int k = 0; k < depth; k++) {
        if (!st[k].is_obj) {
            cd_buf_printf(&b, "[%zu]", st[k].index);
        } else if (st[k].name) {
            if (b.len)
                cd_buf_putc(&b, '.');
            size_t n = st[k].name_len < MAX_NAME ? st[k].name_len : MAX_NAME;
            while (n < st[k].name_len && n > 0 && ((unsigned char)st[k].name[n] & 0xC0) == 0x80)
                n--; /* not inside a UTF-8 sequence */
            for (size_t j = 0; j < n; j++) {
                unsigned char c = (unsigned char)st[k].name[j];
                cd_buf_putc(&b, c < 0x20 || c == 0x7f ? '?' : (char)c);
            }
        }
    }
    if (!b.len) {
        cd_buf_free(&b);
        return NULL;
    }
    return cd_buf_take(&b);
}

/* Everything after the body arrived. */
static void handle(cd_api *api, struct MHD_Connection *c, cd_api_conn *st, const char *url,
                   const char *method, cd_api_resp *r)
{
    cd_api_req q = {.api = api, .mhd = c, .method = method, .path = url, .conn_state = st};
    split_path(url, &q);

    int is_get = is(method, "GET") || is(method, "HEAD");
    /* Public: the ops page's files (the page itself asks for a token) and
     * the health check load balancers probe. */
    if (q.nseg == 0 || seg_is(&q, 0, "ops")) {
        if (is_get) {
            cd_api_static(&q, r);
        } else {
            cd_api_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed");
            r->allow = "GET, HEAD";
        }
        goto done;
    }
    if (seg_is(&q, 0, "healthz") && q.nseg == 1) {
        if (is_get) {
            cd_api_healthz(&q, r);
        } else {
            cd_api_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed");
            r->allow = "GET, HEAD";
        }
        goto done;
    }

    /* Decided already when the request's headers arrived (on_request). */
    unsigned code = 0;
    char *refusal = NULL;
    if (!st->gated && gate(api, c, method, st, &code, &refusal)) {
        if (code == MHD_HTTP_FORBIDDEN)
            cd_warn("api: %s %s: %s", method, url, refusal);
        cd_api_error(r, code, refusal);
        free(refusal);
        goto done;
    }
    q.role = st->role;
    q.actor = st->actor;

    route rt;
    route_request(&q, &rt);
    if (rt.bad_id) {
        json_t *errs = json_array();
        json_array_append_new(errs, cd_api_field_error(rt.bad_id == 1 ? "id" : "run_id",
                                                       "must be a positive integer"));
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST,
                            rt.bad_id == 1 ? "Invalid connector id" : "Invalid run id", errs);
        goto done;
    }
    if (rt.kind == R_NONE) {
        if (rt.bad_method) {
            cd_api_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed");
            r->allow = rt.allow;
        } else {
            cd_api_error(r, MHD_HTTP_NOT_FOUND, "Not found");
        }
        goto done;
    }
    if (q.role < rt.need) {
        char *m = cd_sprintf("Forbidden: this needs the %s role (your token has %s)",
                             cd_api_role_name(rt.need), cd_api_role_name(q.role));
        cd_api_error(r, MHD_HTTP_FORBIDDEN, m);
        free(m);
        goto done;
    }
    if (refuse_unknown_query(c, rt.kind, r))
        goto done;
    if (st->body_len > 0) {
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!content_type_is_json(ct)) {
            cd_api_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                         "Unsupported content type: send Content-Type: application/json");
            goto done;
        }
        json_error_t jerr;
        q.body = json_loadb(st->body, st->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!q.body) {
            /* jansson quotes the input near the fault ("near '\"hunter2'"):
             * it may be a secret, so only the position is given back. */
            char *near = strstr(jerr.text, " near '");
            if (near)
                *near = '\0';
            char *m = cd_sprintf("Malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                                 jerr.column);
            json_t *errs = NULL;
            if (json_error_code(&jerr) == json_error_numeric_overflow && jerr.position > 0) {
                /* 1e309 or an integer past int64: the body is well formed
                 * up to that number, so the field holding it can be named. */
                char *field = number_field(st->body, (size_t)jerr.position);
                errs = json_array();
                json_array_append_new(
                    errs, cd_api_field_error(field ? field : "body",
                                             "is a number too large to read (an integer from "
                                             "-9223372036854775808 to 9223372036854775807, a "
                                             "real up to about 1.8e308 either way)"));
                free(field);
            }
            cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, m, errs);
            free(m);
            goto done;
        }
        if (!json_is_object(q.body)) {
            cd_api_error(r, MHD_HTTP_BAD_REQUEST, "Request body must be a JSON object");
            goto done;
        }
    }
    dispatch(&q, r, &rt);
    /* Read your writes: whatever this request changed is not served from
     * the cache any more, even before its NOTIFY comes back. */
    if (!is_get)
        invalidate_after_write(api, &rt);
done:
    if (q.db)
        cd_api_pool_release(api->pool, q.db);
    json_decref(q.body);
    for (size_t i = 0; i < q.nseg; i++)
        free(q.seg[i]);
    free(q.seg);
}

/* Whether a Content-Length value announces more than CD_API_MAX_BODY.
 * The number is read, not its digits counted: "0000000002" is 2. (MHD
 * has answered a value that is no number itself; were one to come here,
 * it is refused rather than guessed at.) */
static int content_length_too_large(const char *cl)
{
    while (*cl == '0')
        cl++;
    size_t digits = strspn(cl, "0123456789");
    if (cl[digits] != '\0')
        return 1;
    return digits > 9 || strtoull(cl, NULL, 10) > CD_API_MAX_BODY;
}

typedef struct nul_scan {
    char *field;   /* the first parameter holding a NUL (malloc'd) */
} nul_scan;

static enum MHD_Result find_nul(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    nul_scan *ns = cls;
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
        ns->field = cd_xstrdup(*key ? key : "query");
        return MHD_NO;
    }
    return MHD_YES;
}

/* 1 with r filled when the path or a query parameter holds %00: a 400
 * naming the parameter (or the path). */
static int refuse_nul(struct MHD_Connection *c, const cd_api_conn *st, cd_api_resp *r)
{
    if (st->nul_in_path) {
        json_t *errs = json_array();
        json_array_append_new(errs, cd_api_field_error("path", "must not contain %00 (a NUL character)"));
        cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Invalid path", errs);
        return 1;
    }
    nul_scan ns = {0};
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, find_nul, &ns);
    if (!ns.field)
        return 0;
    json_t *errs = json_array();
    json_array_append_new(errs, cd_api_field_error(ns.field, "must not contain NUL characters (%00)"));
    free(ns.field);
    cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Invalid query parameters", errs);
    return 1;
}

/* The query parameters each route reads; any other is a 400 naming it, so
 * that a typo (?offest=30, ?stauts=FAILED) is not answered as if the
 * parameter were absent. */
static const char *const *known_query(route_kind k)
{
    static const char *const none[] = {NULL};
    static const char *const list[] = {"status", "type", "q", NULL};
    static const char *const audit[] = {"limit", "offset", "before", NULL};
    static const char *const history[] = {"limit", "offset", "status", "run_type", "before", NULL};
    static const char *const run[] = {"log_limit", "log_offset", "errors_limit", "errors_offset",
                                      NULL};
    static const char *const del[] = {"force", NULL};
    switch (k) {
    case R_LIST: return list;
    case R_AUDIT: return audit;
    case R_HISTORY: return history;
    case R_RUN_GET: return run;
    case R_DELETE: return del;
    default: return none;
    }
}

typedef struct query_scan {
    const char *const *known;
    json_t *errors;
    unsigned seen;      /* bit i: known[i] was given */
    unsigned reported;  /* bit i: known[i] has its error already */
} query_scan;

static enum MHD_Result find_unknown(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    (void)key_size;
    (void)value_size;
    query_scan *qs = cls;
    for (size_t i = 0; qs->known[i]; i++) {
        if (strcmp(key, qs->known[i]) != 0)
            continue;
        /* The handlers read the first value only: ?limit=5&limit=abc was
         * page 1 of 5 and ?status=ACTIVE&status=PAUSED the active ones,
         * without a word. And ?limit or ?force without "=value" read as
         * absent (the default, not forced). Both are the client's error. */
        const char *m = NULL;
        if (qs->seen & (1u << i))
            m = "is given more than once: give it once";
        else if (!value)
            m = "has no value: write it as name=value";
        qs->seen |= 1u << i;
        if (m && !(qs->reported & (1u << i))) {
            qs->reported |= 1u << i;
            json_array_append_new(qs->errors, cd_api_field_error(key, m));
        }
        return MHD_YES;
    }
    char *m;
    if (!qs->known[0]) {
        m = cd_xstrdup("unknown query parameter: this request takes none");
    } else {
        cd_buf b = {0};
        for (size_t i = 0; qs->known[i]; i++)
            cd_buf_printf(&b, "%s%s", i ? ", " : "", qs->known[i]);
        m = cd_sprintf("unknown query parameter (this request takes %s)", b.data);
        free(b.data);
    }
    json_t *e = cd_api_field_error(*key ? key : "query", m);
    if (!e) /* a name that is not UTF-8 (?%FF=1) makes no JSON string: it was
             * dropped, and with it the refusal (the request was answered) */
        e = cd_api_field_error("query", "unknown query parameter, its name not even UTF-8 text");
    json_array_append_new(qs->errors, e);
    free(m);
    return MHD_YES;
}

/* 1 with r filled when the request has a query parameter its route does
 * not read, or one it reads given twice or without a value. */
static int refuse_unknown_query(struct MHD_Connection *c, route_kind k, cd_api_resp *r)
{
    query_scan qs = {known_query(k), json_array(), 0, 0};
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, find_unknown, &qs);
    if (json_array_size(qs.errors) == 0) {
        json_decref(qs.errors);
        return 0;
    }
    cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Invalid query parameters", qs.errors);
    return 1;
}

/* Called with the request's URI as sent, before MHD decodes it: the one
 * place where %00 in the path can still be seen (the handler is given the
 * decoded path as C text, cut at the NUL). Its result is the request's
 * state (*con_cls), freed by on_completed. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    cd_api_conn *st = cd_xcalloc(1, sizeof *st);
    /* The first %00 anywhere: in the path when it comes before any '?'. */
    const char *nul = strstr(uri, "%00");
    st->nul_in_path = nul && (size_t)(nul - uri) < strcspn(uri, "?");
    return st;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    cd_api *api = cls;
    cd_api_conn *st = *con_cls;
    if (!st) { /* uri_log makes it; this is in case it did not run */
        st = cd_xcalloc(1, sizeof *st);
        *con_cls = st;
    }
    if (!st->started) {
        st->started = 1;
        /* Refuse an announced oversize body before reading any of it. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && content_length_too_large(cl)) {
            st->too_large = 1;
            return send_error_now(c, MHD_HTTP_CONTENT_TOO_LARGE,
                                  "Request body too large (at most 1 MiB)");
        }
        /* A NUL decoded from %00 would cut the path or a parameter short
         * as C text: /connectors/2%00junk would read as connector 2. */
        cd_api_resp bad = {0};
        if (refuse_nul(c, st, &bad)) {
            st->refused = 1;
            return send_response(c, &bad);
        }
        /* A caller without a valid token (or from another origin) gets its
         * answer before we hold a byte of its body. */
        unsigned code = 0;
        char *msg = NULL;
        if (!is_public_path(url) && gate(api, c, method, st, &code, &msg)) {
            if (code == MHD_HTTP_FORBIDDEN)
                cd_warn("api: %s %s: %s", method, url, msg);
            st->refused = 1;
            enum MHD_Result res = send_error_now(c, code, msg);
            free(msg);
            return res;
        }
        return MHD_YES;
    }
    if (st->refused) {
        *upload_data_size = 0; /* answered already: the body is discarded */
        return MHD_YES;
    }
    if (st->waiter) {
        /* A test run ended (or the wait did): its history is news. */
        if (api->cache)
            cd_api_cache_bump_all(api->cache);
        unsigned status = 200;
        json_t *body = cd_api_wait_take(st->waiter, &status);
        cd_api_resp r = {.status = status, .body = body};
        if (!body)
            cd_api_error(&r, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error: lost test run");
        return send_response(c, &r);
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (st->too_large)
            return MHD_YES;
        if (st->body_len + n > CD_API_MAX_BODY) {
            /* Chunked upload past the limit: drop what we have, discard the
             * rest as it arrives, answer 413 at the end. */
            st->too_large = 1;
            free(st->body);
            st->body = NULL;
            st->body_len = st->body_cap = 0;
            return MHD_YES;
        }
        if (st->body_len + n > st->body_cap) {
            size_t cap = st->body_cap ? st->body_cap : 4096;
            while (cap < st->body_len + n)
                cap *= 2;
            st->body = cd_xrealloc(st->body, cap);
            st->body_cap = cap;
        }
        memcpy(st->body + st->body_len, upload_data, n);
        st->body_len += n;
        return MHD_YES;
    }
    if (st->too_large)
        return send_error_now(c, MHD_HTTP_CONTENT_TOO_LARGE, "Request body too large (at most 1 MiB)");
    cd_api_resp r = {0};
    handle(api, c, st, url, method, &r);
    if (r.suspended)
        return MHD_YES;
    cd_debug("api: %s %s -> %u", method, url, r.status);
    return send_response(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    cd_api_conn *st = *con_cls;
    if (!st)
        return;
    cd_api_waiter_free(st->waiter);
    free(st->body);
    free(st);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char *m = cd_vsprintf(fmt, ap);
    size_t n = strlen(m);
    while (n && m[n - 1] == '\n')
        m[--n] = '\0';
    cd_warn("http: %s", m);
    free(m);
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

static void api_free(cd_api *api)
{
    cd_api_cache_listen_stop(api->cache_listener);
    cd_api_cache_free(api->cache);
    cd_api_pool_free(api->pool);
    cd_api_auth_free(api->auth);
    free(api->self_exe);
    free(api->config_path);
    free(api->worker_id);
    free(api->web_root);
    pthread_mutex_destroy(&api->wait_lock);
    pthread_cond_destroy(&api->wait_cond);
    free(api);
}

cd_api *cd_api_start(const cd_api_context *ctx, char **err)
{
    const cd_config *cfg = ctx->cfg;
    cd_api *api = cd_xcalloc(1, sizeof *api);
    pthread_mutex_init(&api->wait_lock, NULL);
    pthread_cond_init(&api->wait_cond, NULL);
    api->cfg = cfg;
    api->self_exe = cd_xstrdup(ctx->self_exe ? ctx->self_exe : "");
    api->config_path = cd_xstrdup(ctx->config_path ? ctx->config_path : "");
    api->worker_id = cd_xstrdup(ctx->worker_id ? ctx->worker_id : "api");
    const char *web = cd_config_string(cfg, "http.web_dir", NULL);
    api->web_root = web ? cd_xstrdup(web) : cd_path_from_prefix("share/connectord/web");
    api->backfill_max_days = (int)cd_config_int(cfg, "backfill.max_days", 366, NULL);
    if (api->backfill_max_days < 1)
        api->backfill_max_days = 366;
    long long rt = cd_config_int(cfg, "runner.timeout_seconds", 900, NULL);
    api->test_timeout_s = (int)cd_config_int(cfg, "http.test_timeout_seconds", rt > 0 ? rt : 900, NULL);

    api->auth = cd_api_auth_load(cfg, err);
    if (!api->auth) {
        api_free(api);
        return NULL;
    }
    const char *listen = cd_config_string(cfg, "http.listen", "127.0.0.1");
    const char *port = cd_config_string(cfg, "http.port", "5103");
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(listen, port, &hints, &ai);
    if (gai != 0 || !ai) {
        *err = cd_sprintf("http.listen %s port %s: %s", listen, port, gai_strerror(gai));
        api_free(api);
        return NULL;
    }
    if (!is_loopback(ai->ai_addr) && cd_api_auth_count(api->auth) == 0) {
        *err = cd_sprintf("refusing to serve the API on %s (not a loopback address) without "
                          "auth.tokens: configure tokens or listen on 127.0.0.1",
                          listen);
        freeaddrinfo(ai);
        api_free(api);
        return NULL;
    }
    int threads = (int)cd_config_int(cfg, "http.threads", 4, NULL);
    if (threads < 1 || threads > 64)
        threads = 4;
    int db_conns = (int)cd_config_int(cfg, "http.db_connections", threads + 2, NULL);
    api->pool = cd_api_pool_new(cd_config_string(cfg, "database.url", NULL), db_conns);
    api->cache = cd_api_cache_create(cfg);
    if (api->cache) {
        api->cache_listener = cd_api_cache_listen_start(
            api->cache, cd_config_string(cfg, "database.url", NULL), err);
        if (!api->cache_listener) {
            freeaddrinfo(ai);
            api_free(api);
            return NULL;
        }
    }
    if (cd_api_wait_start(api, err) != 0) {
        freeaddrinfo(ai);
        api_free(api);
        return NULL;
    }
    /* A client that goes away mid-response must not kill the service. */
    signal(SIGPIPE, SIG_IGN);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    unsigned limit = (unsigned)cd_config_int(cfg, "http.connection_limit", 512, NULL);
    unsigned timeout = (unsigned)cd_config_int(cfg, "http.connection_timeout_seconds", 60, NULL);
    api->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, api, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, api, MHD_OPTION_URI_LOG_CALLBACK, uri_log, api,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!api->daemon) {
        *err = cd_sprintf("cannot listen on %s port %s (in use, or not an address of this host)",
                          listen, port);
        cd_api_wait_stop(api);
        api_free(api);
        return NULL;
    }
    cd_info("api: listening on http://%s:%s/connectors (%d threads, %s)", listen, port, threads,
            cd_api_auth_count(api->auth) ? "bearer tokens required" : "no tokens: loopback only");
    return api;
}

void cd_api_stop(cd_api *api)
{
    if (!api)
        return;
    /* Answer the suspended test requests first: a daemon cannot be stopped
     * with connections it cannot see. */
    cd_api_wait_stop(api);
    MHD_stop_daemon(api->daemon);
    api_free(api);
}
