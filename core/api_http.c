/* api_http.c — responses and request helpers shared by the handlers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "record_schema.h"
#include "log.h"
#include "util.h"

void cd_api_ok(cd_api_resp *r, unsigned status, json_t *body)
{
    json_decref(r->body);
    free(r->text);
    r->text = NULL;
    r->status = status;
    r->body = body;
}

json_t *cd_api_field_error(const char *field, const char *message)
{
    return json_pack("{s:s, s:s}", "field", field, "message", message);
}

void cd_api_error_fields(cd_api_resp *r, unsigned status, const char *msg, json_t *errors)
{
    json_t *b = json_pack("{s:b, s:s}", "success", 0, "error", msg);
    if (errors && json_array_size(errors))
        json_object_set_new(b, "errors", errors);
    else
        json_decref(errors);
    cd_api_ok(r, status, b);
}

void cd_api_error(cd_api_resp *r, unsigned status, const char *msg)
{
    cd_api_error_fields(r, status, msg, NULL);
}

void cd_api_internal_error(cd_api_resp *r, const char *what, char *detail)
{
    /* The detail may quote SQL or server text: the log gets it, the client
     * a generic message. */
    cd_error("api: %s: %s", what, detail ? detail : "unknown error");
    free(detail);
    char *msg = cd_sprintf("Internal error while %s", what);
    cd_api_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
    free(msg);
}

const char *cd_api_query(const cd_api_req *q, const char *key)
{
    return MHD_lookup_connection_value(q->mhd, MHD_GET_ARGUMENT_KIND, key);
}

const char *cd_api_query_text(const cd_api_req *q, const char *key, long maxchars,
                              json_t *errors)
{
    const char *v = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(q->mhd, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
                                      &len) != MHD_YES || !v)
        return NULL;
    /* %00 would cut the term short in C and %FF would reach the database
     * as an encoding error: both are the client's mistake. */
    long chars = cd_rs_utf8_chars(v, len);
    if (chars >= 0 && chars <= maxchars)
        return v;
    char *m = chars < 0 ? cd_xstrdup("must be UTF-8 text without NUL characters")
                        : cd_sprintf("must be at most %ld characters", maxchars);
    json_array_append_new(errors, cd_api_field_error(key, m));
    free(m);
    return NULL;
}

int64_t cd_api_parse_id(const char *s)
{
    if (!s || !*s || strlen(s) > 19)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0)
        return -1;
    return (int64_t)v;
}

long long cd_api_query_int(const cd_api_req *q, const char *key, long long dflt, long long min,
                           long long max, json_t *errors)
{
    const char *s = cd_api_query(q, key);
    if (!s)
        return dflt;
    int ok = *s && strlen(s) <= 12;
    for (const char *p = s; ok && *p; p++)
        ok = *p >= '0' && *p <= '9';
    long long v = ok ? strtoll(s, NULL, 10) : -1;
    if (!ok || v < min || v > max) {
        char *m = cd_sprintf("must be an integer from %lld to %lld", min, max);
        json_array_append_new(errors, cd_api_field_error(key, m));
        free(m);
        return -1;
    }
    return v;
}

PGconn *cd_api_db(cd_api_req *q, cd_api_resp *r)
{
    if (q->db)
        return q->db;
    char *err = NULL;
    q->db = cd_api_pool_acquire(q->api->pool, 5000, &err);
    if (!q->db) {
        cd_error("api: %s", err);
        free(err);
        cd_api_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Database unavailable");
    }
    return q->db;
}

void cd_api_check_fields(const json_t *body, const char *const *allowed, json_t *errors)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = 1;
        if (!ok)
            json_array_append_new(errors, cd_api_field_error(key, "is not an allowed field"));
    }
}

int cd_api_has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 1;
        /* U+0080..U+009F are C2 80..C2 9F in UTF-8. */
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return 1;
    }
    return 0;
}

int cd_api_refuse_body_fields(cd_api_req *q, cd_api_resp *r)
{
    static const char *const none[] = {NULL};
    json_t *errors = json_array();
    if (q->body && !json_is_object(q->body))
        json_array_append_new(errors, cd_api_field_error("body", "must be a JSON object or empty"));
    else if (q->body)
        cd_api_check_fields(q->body, none, errors);
    if (json_array_size(errors) == 0) {
        json_decref(errors);
        return 0;
    }
    cd_api_error_fields(r, MHD_HTTP_BAD_REQUEST, "Invalid request body", errors);
    return -1;
}

const char *cd_api_opt_string(const json_t *body, const char *key, size_t maxlen,
                              json_t *errors)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        json_array_append_new(errors, cd_api_field_error(key, "must be a string"));
        return NULL;
    }
    if (json_string_length(v) > maxlen || strlen(json_string_value(v)) != json_string_length(v)) {
        char *m = cd_sprintf("must be at most %zu characters, without NUL", maxlen);
        json_array_append_new(errors, cd_api_field_error(key, m));
        free(m);
        return NULL;
    }
    /* Every such field is one line of text (a reason, a name, a date) that
     * ends up in a terminal, a log line or an alert. */
    if (cd_api_has_control(json_string_value(v))) {
        json_array_append_new(errors, cd_api_field_error(key, CD_API_NO_CONTROL));
        return NULL;
    }
    return json_string_value(v);
}

json_t *cd_api_id_string(int64_t id)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)id);
    return json_string(buf);
}
