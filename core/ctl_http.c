/* ctl_http.c — connectorctl's HTTP client and output helpers. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "util.h"

#define MAX_RESPONSE (256 * 1024 * 1024)

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    cd_buf *b = arg;
    size_t len = size * n;
    if (b->len + len > MAX_RESPONSE)
        return 0; /* curl reports a write error */
    cd_buf_append(b, p, len);
    return len;
}

/* Blanks C0 and C1 control characters and DEL in s (UTF-8, in place). */
static void blank_controls(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            p[0] = p[1] = ' ';
    }
}

/* Every string in v, blanked as above. What the API returns carries text
 * from remote systems and drivers (a file name on a bank's SFTP server, a
 * gateway's error, a rejected row's value in a record error): printed as
 * it is, an escape sequence in it drives the operator's terminal (clears
 * the screen, rewrites the lines above, sets the title or the clipboard). */
static void blank_json(json_t *v, int depth)
{
    if (depth > 64)
        return;
    if (json_is_string(v)) {
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            json_string_set(v, "?"); /* holds NUL: not text to show */
            return;
        }
        char *t = cd_xstrdup(json_string_value(v));
        blank_controls(t);
        if (strcmp(t, json_string_value(v)) != 0)
            json_string_set(v, t);
        free(t);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e)
            blank_json(e, depth + 1);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            blank_json(e, depth + 1);
    }
}

/* {"success": false, "error": TEXT}: TEXT the body's text with its markup
 * tags dropped and white space collapsed, at most 300 bytes. */
static json_t *not_json_error(const char *data, size_t len)
{
    cd_buf b;
    cd_buf_init(&b);
    int in_tag = 0, space = 0;
    for (size_t i = 0; i < len && b.len < 300; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch == '<') {
            in_tag = 1;
            space = 1;
        } else if (in_tag) {
            if (ch == '>')
                in_tag = 0;
        } else if (ch <= ' ' || ch == 0x7f) {
            space = 1;
        } else {
            if (space && b.len)
                cd_buf_putc(&b, ' ');
            space = 0;
            cd_buf_putc(&b, (char)ch);
        }
    }
    if (!b.len) {
        cd_buf_free(&b);
        return NULL;
    }
    /* Cut inside a UTF-8 sequence: json_string refuses it, so drop the
     * partial character (text that is not UTF-8 at all stays refused). */
    json_t *msg = NULL;
    for (int k = 0; !msg && k < 4 && b.len >= (size_t)k; k++)
        msg = json_stringn(b.data, b.len - (size_t)k);
    cd_buf_free(&b);
    return msg ? json_pack("{s:b, s:o}", "success", 0, "error", msg) : NULL;
}

/* ctl_request; a transport failure is printed only when loud, and its
 * reason left in *why (a static string) either way. */
static int request(const ctl *c, const char *method, const char *path, const json_t *body,
                   long timeout_s, long *status, json_t **out, int loud, const char **why)
{
    *out = NULL;
    *why = NULL;
    CURL *h = curl_easy_init();
    if (!h) {
        fputs("connectorctl: cannot initialise libcurl\n", stderr);
        return -1;
    }
    char *url = cd_sprintf("%s%s", c->url, path);
    cd_buf resp;
    cd_buf_init(&resp);
    struct curl_slist *headers = NULL;
    char *auth = c->token ? cd_sprintf("Authorization: Bearer %s", c->token) : NULL;
    if (auth)
        headers = curl_slist_append(headers, auth);
    headers = curl_slist_append(headers, "Accept: application/json");
    char *text = NULL;
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0 && !body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "connectorctl/" CD_VERSION);
    CURLcode rc = curl_easy_perform(h);
    int result = -1;
    if (rc != CURLE_OK) {
        *why = curl_easy_strerror(rc);
        if (loud)
            fprintf(stderr, "connectorctl: %s %s: %s\n", method, url, *why);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        *out = resp.len ? json_loadb(resp.data, resp.len, JSON_ALLOW_NUL, NULL) : NULL;
        /* An error that is not the API's JSON (a proxy's 502 page,
         * libmicrohttpd's own 414): its text is the only message there is. */
        if (!*out && resp.len && (*status < 200 || *status > 299))
            *out = not_json_error(resp.data, resp.len);
        /* --json prints JSON, where controls are escaped: kept as sent. */
        if (*out && !c->json)
            blank_json(*out, 0);
        result = 0;
    }
    if (auth) {
        explicit_bzero(auth, strlen(auth));
        free(auth);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    free(text);
    free(url);
    cd_buf_free(&resp);
    return result;
}

int ctl_request(const ctl *c, const char *method, const char *path, const json_t *body,
                long timeout_s, long *status, json_t **out)
{
    const char *why;
    return request(c, method, path, body, timeout_s, status, out, 1, &why);
}

void ctl_print_error(long status, const json_t *body_in)
{
    /* To the terminal in every mode: blanked (blank_json). */
    json_t *body = json_deep_copy(body_in);
    blank_json(body, 0);
    const char *msg = json_string_value(json_object_get(body, "error"));
    fprintf(stderr, "connectorctl: error %ld: %s\n", status, msg ? msg : "(no message)");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(body, "errors"), i, e) {
        /* printf of a NULL %s is undefined: a server (or proxy) whose
         * entry lacks a field or message must not crash the client. */
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *text = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "  %s: %s\n", field ? field : "(request)", text ? text : "(no message)");
    }
    json_decref(body);
}

/* A 2xx answer with a body is the caller's; any other is shown (as JSON
 * too under --json) and freed. */
static json_t *success_or_report(const ctl *c, long status, json_t *out)
{
    if (status >= 200 && status <= 299 && out)
        return out;
    if (c->json && out)
        ctl_print_json(out);
    ctl_print_error(status, out);
    json_decref(out);
    return NULL;
}

json_t *ctl_call(const ctl *c, const char *method, const char *path, const json_t *body,
                 long timeout_s)
{
    long status = 0;
    json_t *out = NULL;
    if (ctl_request(c, method, path, body, timeout_s, &status, &out) != 0)
        return NULL;
    return success_or_report(c, status, out);
}

/* json_dumps, with DEL and the C1 controls escaped. jansson escapes the C0
 * controls but writes DEL and U+0080..U+009F (C2 80..C2 9F in UTF-8) as
 * they are, and a terminal takes U+009B as CSI: "\u009b2J" in a log line,
 * or in a key of connection_config, would clear the screen. Escaped, the
 * JSON says the same (JSON text has neither outside its strings). NULL if
 * json_dumps fails. */
static char *dump_safe(const json_t *j, size_t flags)
{
    char *t = json_dumps(j, flags);
    if (!t)
        return NULL;
    cd_buf b;
    cd_buf_init(&b);
    const char *run = t;
    for (const char *p = t; *p; p++) {
        unsigned char c0 = (unsigned char)*p, c1 = (unsigned char)p[1];
        if (c0 == 0x7f || (c0 == 0xc2 && c1 >= 0x80 && c1 <= 0x9f)) {
            cd_buf_append(&b, run, (size_t)(p - run));
            cd_buf_printf(&b, "\\u%04x", c0 == 0x7f ? 0x7fu : (unsigned)c1);
            if (c0 == 0xc2)
                p++;
            run = p + 1;
        }
    }
    cd_buf_puts(&b, run);
    cd_buf_putc(&b, '\0');
    free(t);
    return cd_buf_take(&b);
}

json_t *ctl_follow(const ctl *c, const char *path, long timeout_s, long patience_s)
{
    time_t failing_since = 0;
    unsigned delay = 1;
    for (;;) {
        long status = 0;
        json_t *out = NULL;
        const char *why = NULL;
        int rc = request(c, "GET", path, NULL, timeout_s, &status, &out, 0, &why);
        int transient = rc != 0 || status == 408 || status == 429 || status == 502 ||
                        status == 503 || status == 504;
        time_t now = time(NULL);
        if (transient && !failing_since) {
            failing_since = now;
            if (rc != 0) {
                fprintf(stderr, "connectorctl: GET %s%s: %s", c->url, path, why);
            } else {
                json_t *b = json_deep_copy(out);
                blank_json(b, 0);
                const char *m = json_string_value(json_object_get(b, "error"));
                fprintf(stderr, "connectorctl: GET %s%s: error %ld: %s", c->url, path, status,
                        m ? m : "(no message)");
                json_decref(b);
            }
            fprintf(stderr, "; asking again for up to %ld s (what it follows goes on)\n",
                    patience_s);
        }
        if (transient && now - failing_since < patience_s) {
            json_decref(out);
            sleep(delay);
            delay = delay * 2 > 10 ? 10 : delay * 2;
            continue;
        }
        if (failing_since && !transient)
            fputs("connectorctl: connectord answers again\n", stderr);
        if (rc != 0) {
            fprintf(stderr, "connectorctl: GET %s%s: %s\n", c->url, path, why);
            return NULL;
        }
        return success_or_report(c, status, out);
    }
}

void ctl_print_json(const json_t *j)
{
    char *t = dump_safe(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (t)
        puts(t);
    free(t);
}

char *ctl_text(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return cd_xstrdup("-");
    if (json_is_string(v))
        return cd_xstrdup(json_string_value(v));
    char *t = dump_safe(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return t ? t : cd_xstrdup("?");
}

json_t *ctl_read_definition(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "connectorctl: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    cd_buf b;
    cd_buf_init(&b);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        cd_buf_append(&b, buf, n);
    /* A directory opens but does not read (EISDIR): read as empty, it
     * would be sent as {}, which an edit takes as "change nothing" and
     * reports as a success. */
    int read_errno = ferror(f) ? errno : 0;
    if (f != stdin)
        fclose(f);
    if (read_errno) {
        fprintf(stderr, "connectorctl: cannot read %s: %s\n", path, strerror(read_errno));
        cd_buf_free(&b);
        return NULL;
    }
    json_t *j = json_loadb(b.data ? b.data : "", b.len, JSON_REJECT_DUPLICATES, NULL);
    if (!j) {
        /* Not JSON: read it as YAML, typed the way the configuration is. */
        char *err = NULL;
        cd_config *cfg = cd_config_from_string(b.data ? b.data : "", b.len, &err);
        if (!cfg) {
            fprintf(stderr, "connectorctl: %s is neither JSON nor YAML: %s\n", path, err);
            free(err);
        } else {
            j = json_deep_copy(cd_config_get(cfg, ""));
            cd_config_free(cfg);
        }
    }
    cd_buf_free(&b);
    if (j && !json_is_object(j)) {
        fprintf(stderr, "connectorctl: %s must hold one object (a mapping)\n", path);
        json_decref(j);
        j = NULL;
    } else if (j && json_object_size(j) == 0) {
        /* An empty file (a redirect that failed, a wrong file): an edit
         * would change nothing and say it updated the connector. */
        fprintf(stderr, "connectorctl: %s holds no fields: nothing to send\n", path);
        json_decref(j);
        j = NULL;
    }
    return j;
}

struct ctl_table {
    size_t ncols, nrows, cap;
    char **cells; /* row-major, headers first */
};

ctl_table *ctl_table_new(const char *const *headers, size_t ncols)
{
    ctl_table *t = cd_xcalloc(1, sizeof *t);
    t->ncols = ncols;
    ctl_table_add(t, headers);
    return t;
}

void ctl_table_add(ctl_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = cd_xrealloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
    }
    for (size_t i = 0; i < t->ncols; i++)
        t->cells[t->nrows * t->ncols + i] = cd_xstrdup(cells[i] ? cells[i] : "-");
    t->nrows++;
}

/* Characters (not bytes) of UTF-8 text. */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Bytes of the first `chars` characters of s. */
static size_t prefix_bytes(const char *s, size_t chars)
{
    size_t i = 0, c = 0;
    while (s[i]) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (c == chars)
                break;
            c++;
        }
        i++;
    }
    return i;
}

void ctl_table_print(ctl_table *t, size_t max_width)
{
    size_t *w = cd_xcalloc(t->ncols, sizeof *w);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            char *s = t->cells[r * t->ncols + c];
            /* A control character from the server (a name stored before
             * the API refused them) must not drive the terminal: an escape
             * can clear the screen or recolour what follows. C1 controls
             * are C2 80..C2 9F in UTF-8. */
            for (unsigned char *p = (unsigned char *)s; *p; p++) {
                if (*p < 0x20 || *p == 0x7f)
                    *p = ' ';
                else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
                    p[0] = p[1] = ' ';
            }
            size_t n = width(s);
            if (n > max_width)
                n = max_width;
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t n = width(s), shown = n > max_width ? max_width : n;
            size_t bytes = prefix_bytes(s, n > max_width ? max_width - 1 : n);
            fwrite(s, 1, bytes, stdout);
            if (n > max_width)
                fputs("…", stdout);
            if (c + 1 < t->ncols)
                printf("%*s", (int)(w[c] - shown + 2), "");
        }
        putchar('\n');
    }
    free(w);
}

void ctl_table_free(ctl_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}
