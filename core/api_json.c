/* api_json.c — PostgreSQL result rows as the API's JSON. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "log.h"
#include "util.h"

/* Type OIDs from pg_type.h (stable across server versions). */
enum {
    OID_BOOL = 16,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_TIMESTAMPTZ = 1184,
    OID_TIMESTAMP = 1114,
    OID_JSONB = 3802
};

char *cd_api_iso_timestamp(const char *s)
{
    /* The session is UTC with DateStyle ISO: "YYYY-MM-DD HH:MM:SS[.ffffff]+00".
     * Anything else (infinity, an unexpected offset) is passed through. */
    size_t n = strlen(s);
    if (n < 19 || s[10] != ' ')
        return cd_xstrdup(s);
    cd_buf b;
    cd_buf_init(&b);
    cd_buf_append(&b, s, 10);
    cd_buf_putc(&b, 'T');
    cd_buf_append(&b, s + 11, 8);
    const char *p = s + 19;
    char frac[4] = "000";
    if (*p == '.') {
        p++;
        for (int i = 0; i < 3 && *p >= '0' && *p <= '9'; i++, p++)
            frac[i] = *p;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    cd_buf_putc(&b, '.');
    cd_buf_append(&b, frac, 3);
    if (strcmp(p, "+00") == 0 || *p == '\0')
        cd_buf_putc(&b, 'Z');
    else if (strlen(p) == 3)
        cd_buf_printf(&b, "%s:00", p);
    else
        cd_buf_puts(&b, p);
    return cd_buf_take(&b);
}

static int is_id_column(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "id") == 0 || (n > 3 && strcmp(name + n - 3, "_id") == 0);
}

json_t *cd_api_row_json(const PGresult *res, int row)
{
    json_t *o = json_object();
    int nf = PQnfields(res);
    for (int f = 0; f < nf; f++) {
        const char *name = PQfname(res, f);
        if (PQgetisnull(res, row, f)) {
            json_object_set_new(o, name, json_null());
            continue;
        }
        const char *v = PQgetvalue(res, row, f);
        json_t *j = NULL;
        switch (PQftype(res, f)) {
        case OID_BOOL:
            j = json_boolean(v[0] == 't');
            break;
        case OID_INT8:
            j = is_id_column(name) ? json_string(v) : json_integer(strtoll(v, NULL, 10));
            break;
        case OID_INT2:
        case OID_INT4:
            j = json_integer(strtoll(v, NULL, 10));
            break;
        case OID_FLOAT4:
        case OID_FLOAT8:
            j = json_real(strtod(v, NULL));
            break;
        case OID_TIMESTAMPTZ:
        case OID_TIMESTAMP: {
            char *t = cd_api_iso_timestamp(v);
            j = json_string(t);
            free(t);
            break;
        }
        case OID_JSON:
        case OID_JSONB:
            j = json_loads(v, JSON_DECODE_ANY, NULL);
            /* Never the raw text instead: a document that does not parse
             * (a number beyond int64 stored before the API refused them)
             * cannot be masked, and may hold a plaintext secret. */
            if (!j) {
                cd_error("api: column %s of a row is JSON this service cannot read; sent as null",
                         name);
                j = json_null();
            }
            break;
        default:
            break; /* text, varchar, date, numeric, uuid: the server's text */
        }
        if (!j)
            j = json_string(v);
        if (!j) /* not UTF-8: the database is UTF8, so this is unreachable in practice */
            j = json_null();
        json_object_set_new(o, name, j);
    }
    return o;
}

json_t *cd_api_rows_json(const PGresult *res)
{
    json_t *a = json_array();
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        json_array_append_new(a, cd_api_row_json(res, i));
    return a;
}

static void emit_string(cd_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    cd_buf_putc(b, '"');
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        cd_buf_append(b, run, (size_t)(s - run));
        if (c == '"' || c == '\\') {
            cd_buf_putc(b, '\\');
            cd_buf_putc(b, (char)c);
        } else {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            cd_buf_append(b, u, 6);
        }
        run = s + 1;
    }
    cd_buf_append(b, run, (size_t)(s - run));
    cd_buf_putc(b, '"');
}

void cd_api_row_emit(cd_buf *b, const PGresult *res, int row, cd_api_column_fn fn, void *arg)
{
    cd_buf_putc(b, '{');
    int nf = PQnfields(res);
    for (int f = 0; f < nf; f++) {
        const char *name = PQfname(res, f);
        if (f)
            cd_buf_putc(b, ',');
        emit_string(b, name);
        cd_buf_putc(b, ':');
        if (fn && fn(b, res, row, f, arg))
            continue;
        if (PQgetisnull(res, row, f)) {
            cd_buf_puts(b, "null");
            continue;
        }
        const char *v = PQgetvalue(res, row, f);
        switch (PQftype(res, f)) {
        case OID_BOOL:
            cd_buf_puts(b, v[0] == 't' ? "true" : "false");
            break;
        case OID_INT8:
            if (is_id_column(name))
                emit_string(b, v);
            else
                cd_buf_puts(b, v);
            break;
        case OID_INT2:
        case OID_INT4:
            cd_buf_puts(b, v);
            break;
        case OID_TIMESTAMPTZ:
        case OID_TIMESTAMP: {
            char *t = cd_api_iso_timestamp(v);
            emit_string(b, t);
            free(t);
            break;
        }
        case OID_JSON:
        case OID_JSONB:
            /* The server's JSON text is valid JSON: pass it through. */
            cd_buf_puts(b, v);
            break;
        default:
            emit_string(b, v);
            break;
        }
    }
}
