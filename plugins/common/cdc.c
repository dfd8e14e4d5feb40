/*
 * cdc.c — implementation of the built-in drivers' shared helpers (cdc.h).
 */
#include "cdc.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int cdc_buf_append(cdc_buf *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - b->len - 1)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void cdc_buf_free(cdc_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *cdc_printf(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : out;
}

json_t *cdc_config_parse(const cd_run_info *info, json_error_t *err)
{
    const char *text = info->config_json ? info->config_json : "{}";
    size_t len = info->config_json ? info->config_json_len : 2;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, err);
    if (root && !json_is_object(root)) {
        json_decref(root);
        snprintf(err->text, sizeof err->text, "connection_config is not a JSON object");
        return NULL;
    }
    return root;
}

const char *cdc_json_str(const json_t *obj, const char *key, const char *dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

const char *cdc_secret_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return NULL;
    return json_string_value(v);
}

int cdc_secret_present(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        return json_string_length(v) > 0;
    if (json_is_object(v)) {
        json_t *ref = json_object_get(v, "secret");
        return json_is_string(ref) && json_string_length(ref) > 0;
    }
    return 0;
}

int cdc_check_secret_shape(const cd_host_api *host, cd_run *run, const json_t *obj,
                           const char *key, const char *path)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_string(v))
        return 0;
    if (json_is_object(v)) {
        json_t *ref = json_object_get(v, "secret");
        const char *r = json_string_value(ref);
        if (r && (strncmp(r, "env:", 4) == 0 || strncmp(r, "file:", 5) == 0 ||
                  strncmp(r, "cred:", 5) == 0))
            return 0;
        host->config_error(run, path,
                           "secret reference must be {\"secret\": \"env:NAME\"}, "
                           "\"file:PATH\" or \"cred:NAME\"");
        return 1;
    }
    host->config_error(run, path, "must be a string or a {\"secret\": ...} reference");
    return 1;
}

long long cdc_json_int(const json_t *obj, const char *key, long long dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* Days in month m (1-12) of year y, Gregorian. */
static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

int cdc_is_iso_date(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* The same rule as the core's cd_rs_utf8_chars (record_schema.c), which
 * drivers cannot link: what the core stores as text must pass both. */
int cdc_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t need;
        uint32_t cp, min;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            need = 1, cp = c & 0x1Fu, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            need = 2, cp = c & 0x0Fu, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            need = 3, cp = c & 0x07u, min = 0x10000;
        else
            return 0;
        if (len - i <= need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int two_digits(const char *p) { return isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]); }

int cdc_timestamp_instant(const char *s, int64_t *unix_seconds)
{
    if (!s || strlen(s) < 16 || (s[10] != 'T' && s[10] != ' '))
        return 0;
    char day[11];
    memcpy(day, s, 10);
    day[10] = '\0';
    if (!cdc_is_iso_date(day) || !two_digits(s + 11) || s[13] != ':' || !two_digits(s + 14))
        return 0;
    int hh = (s[11] - '0') * 10 + (s[12] - '0'), mi = (s[14] - '0') * 10 + (s[15] - '0'), ss = 0;
    const char *p = s + 16;
    if (p[0] == ':' && two_digits(p + 1)) {
        ss = (p[1] - '0') * 10 + (p[2] - '0');
        p += 3;
    }
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if (hh > 23 || mi > 59 || ss > 60)
        return 0;
    long offset;
    if (p[0] == 'Z' && p[1] == '\0') {
        offset = 0;
    } else if ((p[0] == '+' || p[0] == '-') && two_digits(p + 1)) {
        const char *q = p + 3;
        int om = 0;
        if (*q == ':')
            q++;
        if (two_digits(q)) {
            om = (q[0] - '0') * 10 + (q[1] - '0');
            q += 2;
        }
        if (*q || om > 59)
            return 0;
        offset = ((p[1] - '0') * 10L + (p[2] - '0')) * 3600 + om * 60L;
        if (p[0] == '-')
            offset = -offset;
    } else {
        return 0;
    }
    long days = days_from_civil(atoi(day), atoi(day + 5), atoi(day + 8));
    *unix_seconds = (int64_t)days * 86400 + hh * 3600L + mi * 60L + ss - offset;
    return 1;
}

char *cdc_format_date(const char *pattern, const char *iso)
{
    if (!cdc_is_iso_date(iso))
        return NULL;
    cdc_buf b = {0};
    for (const char *p = pattern; *p;) {
        int rc;
        if (strncmp(p, "YYYY", 4) == 0) {
            rc = cdc_buf_append(&b, iso, 4);
            p += 4;
        } else if (strncmp(p, "YY", 2) == 0) {
            rc = cdc_buf_append(&b, iso + 2, 2);
            p += 2;
        } else if (strncmp(p, "MM", 2) == 0) {
            rc = cdc_buf_append(&b, iso + 5, 2);
            p += 2;
        } else if (strncmp(p, "DD", 2) == 0) {
            rc = cdc_buf_append(&b, iso + 8, 2);
            p += 2;
        } else {
            rc = cdc_buf_append(&b, p, 1);
            p++;
        }
        if (rc != 0) {
            cdc_buf_free(&b);
            return NULL;
        }
    }
    if (!b.data && cdc_buf_append(&b, "", 0) != 0)
        return NULL;
    return b.data;
}

char *cdc_expand_date_placeholders(const char *tmpl, const char *iso)
{
    static const struct {
        const char *token;
        const char *pattern;
    } map[] = {{"{date}", "YYYY-MM-DD"},  {"{YYYY-MM-DD}", "YYYY-MM-DD"},
               {"{YYYYMMDD}", "YYYYMMDD"}, {"{DDMMYYYY}", "DDMMYYYY"},
               {"{DD-MM-YYYY}", "DD-MM-YYYY"}};
    if (!cdc_is_iso_date(iso))
        return NULL;
    cdc_buf b = {0};
    for (const char *p = tmpl; *p;) {
        int matched = 0, rc = 0;
        for (size_t i = 0; i < sizeof map / sizeof map[0] && !matched; i++) {
            size_t n = strlen(map[i].token);
            if (strncmp(p, map[i].token, n) == 0) {
                char *v = cdc_format_date(map[i].pattern, iso);
                rc = v ? cdc_buf_append(&b, v, strlen(v)) : -1;
                free(v);
                p += n;
                matched = 1;
            }
        }
        if (!matched)
            rc = cdc_buf_append(&b, p++, 1);
        if (rc != 0) {
            cdc_buf_free(&b);
            return NULL;
        }
    }
    if (!b.data && cdc_buf_append(&b, "", 0) != 0)
        return NULL;
    return b.data;
}

int cdc_glob_match(const char *pattern, const char *s)
{
    /* Iterative with one backtrack point: linear-ish, no recursion depth
     * an attacker-chosen file name could blow up. */
    const char *star = NULL, *retry = NULL;
    while (*s) {
        if (*pattern == '*') {
            star = pattern++;
            retry = s;
        } else if (*pattern == '?' || *pattern == *s) {
            pattern++;
            s++;
        } else if (star) {
            pattern = star + 1;
            s = ++retry;
        } else {
            return 0;
        }
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == '\0';
}

/* Aborts the transfer once the host says the run must stop. */
static int xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    cdc_xfer *x = userdata;
    if (x->host->is_cancelled(x->run)) {
        x->cancelled = 1;
        return 1;
    }
    return 0;
}

char *cdc_header_value(const char *line, size_t len, size_t namelen)
{
    const char *v = line + namelen;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return strndup(v, (size_t)(end - v));
}

/* Keeps the status, reason and Retry-After of the last response (a 100
 * Continue or redirect resets them). */
static size_t header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
    cdc_xfer *x = userdata;
    size_t len = size * nitems;
    if (len > 5 && strncmp(line, "HTTP/", 5) == 0) {
        free(x->reason);
        free(x->retry_after);
        free(x->location);
        x->reason = x->retry_after = x->location = NULL;
        const char *sp = memchr(line, ' ', len);
        if (sp) {
            const char *end = line + len;
            char *endp = NULL;
            x->status = strtol(sp + 1, &endp, 10);
            if (endp && endp < end && *endp == ' ')
                x->reason = cdc_header_value(endp, (size_t)(end - endp), 0);
        }
    } else if (len > 12 && strncasecmp(line, "Retry-After:", 12) == 0) {
        free(x->retry_after);
        x->retry_after = cdc_header_value(line, len, 12);
    } else if (len > 9 && strncasecmp(line, "Location:", 9) == 0) {
        free(x->location);
        x->location = cdc_header_value(line, len, 9);
    }
    return len;
}

int cdc_http_driver_init(const cd_host_api *host)
{
    if (host->abi_major != CD_PLUGIN_ABI_MAJOR || !CD_HOST_HAS(host, init_error))
        return CD_ERR_PERMANENT;
    CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK) {
        host->init_error("curl_global_init failed: %s", curl_easy_strerror(cc));
        return CD_ERR_PERMANENT;
    }
    return CD_OK;
}

void cdc_http_driver_destroy(void) { curl_global_cleanup(); }

CURLcode cdc_curl_setup(CURL *c, cdc_xfer *x, const cd_host_api *host, cd_run *run,
                        long config_timeout_s, const char *ca_bundle)
{
    const cd_http_defaults *d = host->http_defaults(run);
    x->host = host;
    x->run = run;
    x->errbuf[0] = '\0';

    long connect_ms = d && d->connect_timeout_s ? (long)d->connect_timeout_s * 1000 : 0;
    long total_ms = d && d->request_timeout_s ? (long)d->request_timeout_s * 1000 : 0;
    if (config_timeout_s > 0 && (total_ms == 0 || config_timeout_s * 1000 < total_ms))
        total_ms = config_timeout_s * 1000;
    int64_t left = host->remaining_ms(run);
    if (left >= 0) {
        /* Leave the driver a moment to report before the host's kill. */
        int64_t budget = left > 1000 ? left - 500 : left;
        if (budget <= 0)
            return CURLE_OPERATION_TIMEDOUT;
        if (total_ms == 0 || budget < total_ms)
            total_ms = (long)budget;
    }
    if (connect_ms && total_ms && connect_ms > total_ms)
        connect_ms = total_ms;
    x->timeout_ms = total_ms;

    CURLcode rc;
#define SET(opt, val)                                 \
    do {                                              \
        if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK) \
            return rc;                                \
    } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SET(CURLOPT_TIMEOUT_MS, total_ms);
    SET(CURLOPT_NOPROGRESS, 0L);
    SET(CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
    SET(CURLOPT_XFERINFODATA, x);
    SET(CURLOPT_HEADERFUNCTION, header_cb);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    /* Verification stays on unless the operator turned it off globally. */
    long verify = d ? (d->verify_tls ? 1L : 0L) : 1L;
    SET(CURLOPT_SSL_VERIFYPEER, verify);
    SET(CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
    if (ca_bundle && *ca_bundle)
        SET(CURLOPT_CAINFO, ca_bundle);
    else if (d && d->ca_file)
        SET(CURLOPT_CAINFO, d->ca_file);
    if (d && d->proxy)
        SET(CURLOPT_PROXY, d->proxy);
    SET(CURLOPT_USERAGENT, d && d->user_agent ? d->user_agent : "connectord/1.0");
#undef SET
    return CURLE_OK;
}

int cdc_header_add(struct curl_slist **list, const char *header)
{
    if (!header)
        return -1;
    struct curl_slist *l = curl_slist_append(*list, header);
    if (!l)
        return -1;
    *list = l;
    return 0;
}

int cdc_curl_prepare(CURL *c, cdc_xfer *x, const cd_host_api *host, cd_run *run,
                     const cdc_request *req, const char *host_name)
{
    CURLcode cc = cdc_curl_setup(c, x, host, run, req->config_timeout_s, req->ca_bundle);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        host->set_message(run, "no time left before the run's deadline to call %s", host_name);
        return CD_ERR_TRANSIENT;
    }
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_URL, req->url);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, req->headers);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, req->write_cb);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c, CURLOPT_WRITEDATA, req->write_data);
    if (cc == CURLE_OK && req->header_cb)
        cc = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, req->header_cb);
    if (cc == CURLE_OK && req->header_cb)
        cc = curl_easy_setopt(c, CURLOPT_HEADERDATA, req->header_data);
    if (cc == CURLE_OK && req->basic_user) {
        cc = curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c, CURLOPT_USERNAME, req->basic_user);
        if (cc == CURLE_OK)
            cc = curl_easy_setopt(c, CURLOPT_PASSWORD, req->basic_password);
    }
    if (cc != CURLE_OK) {
        host->set_message(run, "cannot set up the request to %s: %s", host_name,
                          curl_easy_strerror(cc));
        return cdc_status_for_curl(cc, x);
    }
    return CD_OK;
}

size_t cdc_xfer_header(char *line, size_t size, size_t nitems, void *userdata)
{
    return header_cb(line, size, nitems, userdata);
}

void cdc_note_retry_after(const cd_host_api *host, cd_run *run, const char *value)
{
    long long secs = -1;
    char *end = NULL;
    long long n = strtoll(value, &end, 10);
    if (end != value && *end == '\0' && n >= 0) {
        secs = n;
    } else {
        time_t when = curl_getdate(value, NULL);
        if (when != (time_t)-1) {
            time_t now = time(NULL);
            secs = when > now ? (long long)(when - now) : 0;
        }
    }
    json_t *txt = json_string(value); /* NULL for invalid UTF-8: then only the seconds */
    char *t = txt ? json_dumps(txt, JSON_ENCODE_ANY) : NULL;
    json_decref(txt);
    if (t)
        host->set_detail(run, "retry_after", t);
    free(t);
    if (secs >= 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", secs);
        host->set_detail(run, "retry_after_seconds", buf);
    }
}

void cdc_xfer_cleanup(cdc_xfer *x)
{
    free(x->reason);
    free(x->retry_after);
    free(x->location);
    x->reason = x->retry_after = x->location = NULL;
}

void cdc_status_message(const cd_host_api *host, cd_run *run, long status, const cdc_xfer *x)
{
    if (status >= 300 && status <= 399 && x->location && *x->location)
        host->set_message(run, "API responded with status %ld: %s, to %.300s (redirects are "
                               "not followed: put that address in the connector)",
                          status, cdc_http_reason(status, x->reason), x->location);
    else
        host->set_message(run, "API responded with status %ld: %s", status,
                          cdc_http_reason(status, x->reason));
}

int cdc_markup_type(const char *type)
{
    static const char *const markup[] = {"text/html", "application/xhtml+xml", "text/xml",
                                         "application/xml"};
    if (!type)
        return 0;
    while (*type == ' ' || *type == '\t')
        type++;
    for (size_t i = 0; i < sizeof markup / sizeof markup[0]; i++) {
        size_t n = strlen(markup[i]);
        if (strncasecmp(type, markup[i], n) == 0 &&
            (type[n] == '\0' || type[n] == ';' || type[n] == ' ' || type[n] == '\t'))
            return 1;
    }
    return 0;
}

const char *cdc_http_reason(long status, const char *server_reason)
{
    switch (status) {
    case 202: return "Accepted (the answer is not ready yet)";
    case 206: return "Partial Content (a part of the answer only)";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: break;
    }
    return server_reason && *server_reason ? server_reason : "HTTP error";
}

int cdc_http_data_status(long status)
{
    return status >= 200 && status <= 299 && status != 202 && status != 206;
}

int cdc_status_for_http(long status)
{
    if (status == 401 || status == 403)
        return CD_ERR_CONFIG;
    if (status == 202 || status == 206 || status == 408 || status == 429 || status >= 500)
        return CD_ERR_TRANSIENT;
    return CD_ERR_PERMANENT;
}

int cdc_status_for_curl(CURLcode rc, const cdc_xfer *x)
{
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        return x && x->cancelled ? CD_CANCELLED : CD_ERR_TRANSIENT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_LOGIN_DENIED:
        return CD_ERR_CONFIG;
    default:
        return CD_ERR_TRANSIENT;
    }
}

char *cdc_url_host(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL, *out = NULL;
    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        out = strdup(host);
    curl_free(host);
    curl_url_cleanup(u);
    return out;
}

char *cdc_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return out;
}

void cdc_report(const cd_host_api *host, int validating, cd_run *run, const char *field,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    if (validating)
        host->config_error(run, field, "%s", msg ? msg : "invalid");
    else
        host->log(run, CD_LOG_ERROR, "connection_config.%s: %s", field, msg ? msg : "invalid");
    free(msg);
}

int cdc_validate_with(const cd_host_api *host, cd_run *run, int *validating,
                      int (*check)(cd_run *run, const json_t *config))
{
    json_error_t err;
    json_t *root = cdc_config_parse(host->run_info(run), &err);
    if (!root) {
        host->config_error(run, "", "connection_config is not valid JSON: %s", err.text);
        return CD_ERR_CONFIG;
    }
    *validating = 1;
    int bad = check(run, root);
    *validating = 0;
    json_decref(root);
    return bad ? CD_ERR_CONFIG : CD_OK;
}
