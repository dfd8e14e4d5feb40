/*
 * razorpay.c — connectord driver for Razorpay payments (category PG_API,
 * records into sp_v2_transactions). Built out of tree against the installed
 * SDK only (see Makefile): it links libcurl and jansson, nothing of
 * connectord.
 *
 * One run: GET {base_url}/v1/payments?from=F&to=T&count=100&skip=N with HTTP
 * basic auth (key_id:key_secret), N = the payments received so far, until a
 * page holds none: a page shorter than `count` is not taken as the last, as
 * the API may send fewer than asked. F and T are the run's window (inclusive local
 * dates) as Unix seconds in the connector's time zone. Razorpay gives
 * amounts in paise already, so they go to amount_paise unchanged.
 *
 * Time zone: the window and each payment's local date need the connector's
 * IANA zone; the only zone database a driver can count on is the C
 * library's, reached through TZ. A run is its own single-threaded process,
 * so the driver sets TZ for the duration of run()/test() and restores it.
 */
#include <connectord/plugin.h>

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RZP_DEFAULT_BASE "https://api.razorpay.com"
#define RZP_PAGE_MAX 100
#define RZP_MAX_PAGES 100000 /* 10 million payments a window: a runaway guard */
#define RZP_MAX_BODY (16u * 1024u * 1024u)

static const cd_host_api *host;

static const cd_driver_magic razorpay_magic = CD_DRIVER_MAGIC_INIT(
    "razorpay", "1.0.0", "connectord contrib", CD_CATEGORY_PG_API, CD_DATASET_PG_TRANSACTION,
    "Razorpay payments (GET /v1/payments) into sp_v2_transactions");

static const char schema[] =
    "{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
    " \"type\": \"object\","
    " \"required\": [\"key_id\", \"key_secret\", \"merchant_id\"],"
    " \"additionalProperties\": false,"
    " \"properties\": {"
    "  \"base_url\": {\"type\": \"string\", \"pattern\": \"^https?://\","
    "   \"description\": \"API root, default " RZP_DEFAULT_BASE "\"},"
    "  \"key_id\": {\"type\": \"string\", \"minLength\": 1, \"writeOnly\": true,"
    "   \"description\": \"API key id; use a reference: {\\\"secret\\\": \\\"cred:razorpay_key_id\\\"}\"},"
    "  \"key_secret\": {\"type\": \"string\", \"minLength\": 1, \"writeOnly\": true,"
    "   \"description\": \"API key secret; use a reference: {\\\"secret\\\": \\\"cred:razorpay_key_secret\\\"}\"},"
    "  \"merchant_id\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 64,"
    "   \"description\": \"merchant_id written to every transaction of this account\"},"
    "  \"merchant_name\": {\"type\": \"string\", \"maxLength\": 200},"
    "  \"page_size\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100},"
    "  \"timeout_seconds\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3600}"
    " }}";

static const char *describe_config(void) { return schema; }

typedef struct rzp_config {
    json_t *root;
    const char *base_url;
    const char *key_id;
    const char *key_secret;
    const char *merchant_id;
    const char *merchant_name;
    long page_size;
    long timeout_s;
} rzp_config;

static int validating;

/* A config problem: a field error during validate(), the run's message
 * otherwise. */
static void bad(cd_run *run, const char *field, const char *fmt, ...) CD_PRINTF(3, 4);
static void bad(cd_run *run, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (validating)
        host->config_error(run, field, "%s", msg);
    else
        host->set_message(run, "connection_config.%s: %s", field, msg);
}

static const char *opt_string(cd_run *run, json_t *root, const char *key, int required, int *ok)
{
    json_t *v = json_object_get(root, key);
    if (!v) {
        if (required) {
            bad(run, key, "required");
            *ok = 0;
        }
        return NULL;
    }
    /* In validate() a secret field may still be a {"secret": ...} reference. */
    if (validating && json_is_object(v) && json_is_string(json_object_get(v, "secret")))
        return NULL;
    if (!json_is_string(v) || (required && !*json_string_value(v))) {
        bad(run, key, "must be a non-empty string");
        *ok = 0;
        return NULL;
    }
    return json_string_value(v);
}

static long opt_int(cd_run *run, json_t *root, const char *key, long dflt, long lo, long hi,
                    int *ok)
{
    json_t *v = json_object_get(root, key);
    if (!v)
        return dflt;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        bad(run, key, "must be an integer from %ld to %ld", lo, hi);
        *ok = 0;
        return dflt;
    }
    return (long)json_integer_value(v);
}

/* Reads connection_config; CD_OK or CD_ERR_CONFIG (reported). */
static int load_config(cd_run *run, rzp_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    const cd_run_info *info = host->run_info(run);
    json_error_t jerr;
    cfg->root = json_loadb(info->config_json, info->config_json_len, 0, &jerr);
    if (!json_is_object(cfg->root)) {
        bad(run, "", "not a JSON object");
        return CD_ERR_CONFIG;
    }
    int ok = 1;
    cfg->base_url = opt_string(run, cfg->root, "base_url", 0, &ok);
    if (!cfg->base_url)
        cfg->base_url = RZP_DEFAULT_BASE;
    else if (strncmp(cfg->base_url, "https://", 8) != 0 &&
             strncmp(cfg->base_url, "http://", 7) != 0) {
        bad(run, "base_url", "must start with https:// (or http:// for a local test server)");
        ok = 0;
    }
    cfg->key_id = opt_string(run, cfg->root, "key_id", 1, &ok);
    cfg->key_secret = opt_string(run, cfg->root, "key_secret", 1, &ok);
    cfg->merchant_id = opt_string(run, cfg->root, "merchant_id", 1, &ok);
    cfg->merchant_name = opt_string(run, cfg->root, "merchant_name", 0, &ok);
    cfg->page_size = opt_int(run, cfg->root, "page_size", RZP_PAGE_MAX, 1, RZP_PAGE_MAX, &ok);
    cfg->timeout_s = opt_int(run, cfg->root, "timeout_seconds", 0, 1, 3600, &ok);
    return ok ? CD_OK : CD_ERR_CONFIG;
}

static void free_config(rzp_config *cfg)
{
    json_decref(cfg->root);
    cfg->root = NULL;
}

static int validate(cd_run *run)
{
    rzp_config cfg;
    validating = 1;
    int rc = load_config(run, &cfg);
    validating = 0;
    free_config(&cfg);
    return rc;
}

/* --- time zone ----------------------------------------------------------- */

typedef struct tz_saved {
    char *old;
    int had;
} tz_saved;

static void tz_enter(tz_saved *s, const char *zone)
{
    const char *old = getenv("TZ");
    s->had = old != NULL;
    s->old = old ? strdup(old) : NULL;
    setenv("TZ", zone && *zone ? zone : "UTC", 1);
    tzset();
}

static void tz_leave(tz_saved *s)
{
    if (s->had && s->old)
        setenv("TZ", s->old, 1);
    else
        unsetenv("TZ");
    tzset();
    free(s->old);
}

/* Local midnight of a YYYY-MM-DD date in the current TZ; -1 if bad. */
static int64_t local_midnight(const char *date, int plus_days)
{
    int y, m, d;
    if (!date || sscanf(date, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d + plus_days;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t == (time_t)-1 ? -1 : (int64_t)t;
}

/* --- HTTP ----------------------------------------------------------------- */

typedef struct rzp_body {
    char *data;
    size_t len;
    int too_big;
} rzp_body;

static size_t body_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
    rzp_body *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > RZP_MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    char *nd = realloc(b->data, b->len + n + 1);
    if (!nd)
        return 0;
    b->data = nd;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static int progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return host->is_cancelled((cd_run *)clientp) ? 1 : 0;
}

/* Retry-After of the answer, when there is one: seconds from now (-1: none).
 * Razorpay sends it with 429; the core waits that long before the retry. */
static size_t header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
    long *retry_after = userdata;
    size_t len = size * nitems;
    static const char name[] = "retry-after:";
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        *retry_after = -1; /* a new answer (after a 100 Continue, say) */
    } else if (len > sizeof name - 1 && strncasecmp(line, name, sizeof name - 1) == 0) {
        char value[128];
        size_t n = len - (sizeof name - 1);
        if (n >= sizeof value)
            n = sizeof value - 1;
        memcpy(value, line + sizeof name - 1, n);
        value[n] = '\0';
        char *v = value;
        while (*v == ' ' || *v == '\t')
            v++;
        for (char *e = v + strlen(v); e > v && isspace((unsigned char)e[-1]);)
            *--e = '\0';
        char *end;
        errno = 0;
        long secs = strtol(v, &end, 10);
        if (*v && *end == '\0' && errno == 0 && secs >= 0) {
            *retry_after = secs;
        } else { /* an HTTP-date */
            time_t when = curl_getdate(v, NULL);
            if (when != (time_t)-1)
                *retry_after = when > time(NULL) ? (long)(when - time(NULL)) : 0;
        }
    }
    return len;
}

/* The status for an HTTP answer that is not 2xx. */
static int status_for_http(long status)
{
    if (status == 401 || status == 403)
        return CD_ERR_CONFIG; /* the key pair is wrong: retrying will not help */
    if (status == 408 || status == 429 || status >= 500)
        return CD_ERR_TRANSIENT;
    return CD_ERR_PERMANENT;
}

/* GETs one page into *out (a JSON object). Returns a cd_status; on failure
 * the run's message says why (never with the credentials). */
static int get_page(cd_run *run, const rzp_config *cfg, const char *query, json_t **out)
{
    *out = NULL;
    size_t blen = strlen(cfg->base_url);
    while (blen > 0 && cfg->base_url[blen - 1] == '/')
        blen--;
    size_t ulen = blen + strlen(query) + 32;
    char *url = malloc(ulen);
    CURL *c = curl_easy_init();
    if (!url || !c) {
        free(url);
        if (c)
            curl_easy_cleanup(c);
        host->set_message(run, "out of memory");
        return CD_ERR_TRANSIENT;
    }
    snprintf(url, ulen, "%.*s/v1/payments?%s", (int)blen, cfg->base_url, query);

    const cd_http_defaults *hd = host->http_defaults(run);
    long connect_s = hd && hd->connect_timeout_s ? (long)hd->connect_timeout_s : 10;
    long total_ms = cfg->timeout_s ? cfg->timeout_s * 1000
                                   : (hd && hd->request_timeout_s ? (long)hd->request_timeout_s * 1000
                                                                  : 60000);
    int64_t left = host->remaining_ms(run);
    if (left >= 0 && left < total_ms)
        total_ms = left > 1000 ? (long)left : 1000;

    rzp_body body = {NULL, 0, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERNAME, cfg->key_id);
    curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->key_secret);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    long retry_after = -1;
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &retry_after);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, connect_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, run);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (hd) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, hd->verify_tls ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, hd->verify_tls ? 2L : 0L);
        if (hd->ca_file)
            curl_easy_setopt(c, CURLOPT_CAINFO, hd->ca_file);
        if (hd->proxy)
            curl_easy_setopt(c, CURLOPT_PROXY, hd->proxy);
        if (hd->user_agent)
            curl_easy_setopt(c, CURLOPT_USERAGENT, hd->user_agent);
    }
    host->log(run, CD_LOG_DEBUG, "GET %s", url);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int rc = CD_OK;
    if (cc == CURLE_ABORTED_BY_CALLBACK && host->is_cancelled(run)) {
        rc = CD_CANCELLED;
        host->set_message(run, "cancelled while talking to Razorpay");
    } else if (cc != CURLE_OK) {
        rc = body.too_big ? CD_ERR_PERMANENT : CD_ERR_TRANSIENT;
        host->set_message(run, "%s: %s", body.too_big ? "page larger than 16 MiB" : "cannot reach Razorpay",
                          errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (status < 200 || status > 299) {
        rc = status_for_http(status);
        json_t *err = body.data ? json_loads(body.data, 0, NULL) : NULL;
        const char *desc =
            json_string_value(json_object_get(json_object_get(err, "error"), "description"));
        host->set_message(run, "Razorpay answered HTTP %ld%s%s%s", status, desc ? ": " : "",
                          desc ? desc : "",
                          rc == CD_ERR_CONFIG ? " (check key_id and key_secret)" : "");
        json_decref(err);
        if (rc == CD_ERR_TRANSIENT && retry_after >= 0) {
            char secs[32];
            snprintf(secs, sizeof secs, "%ld", retry_after);
            host->set_detail(run, "retry_after_seconds", secs);
        }
    } else {
        json_error_t jerr;
        *out = body.data ? json_loads(body.data, 0, &jerr) : NULL;
        if (!json_is_object(*out) || !json_is_array(json_object_get(*out, "items"))) {
            host->set_message(run, "Razorpay answered a page that is not a payments collection%s%s",
                              body.data && !*out ? ": " : "", body.data && !*out ? jerr.text : "");
            json_decref(*out);
            *out = NULL;
            rc = CD_ERR_PERMANENT;
        }
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    free(body.data);
    free(url);
    return rc;
}

/* --- mapping --------------------------------------------------------------- */

enum {
    C_ID, C_MERCHANT, C_AMOUNT, C_DATE, C_TS, C_CURRENCY, C_METHOD, C_GWREF, C_RRN, C_STATUS,
    C_FEE, C_SETTLEMENT, C_SOURCE_NAME, C_MERCHANT_NAME, C_COUNT
};
static const char *const columns[C_COUNT] = {
    "transaction_id", "merchant_id", "amount_paise", "transaction_date",
    "transaction_timestamp", "currency", "payment_method", "gateway_ref", "rrn", "status",
    "bank_fee_paise", "settlement_amount_paise", "source_name", "merchant_name"};

static const char *str_field(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Razorpay's payment states in the platform's words (sp_v2_transactions
 * keeps SUCCESS / FAILED / PENDING / REFUNDED); anything else upper-cased. */
static const char *map_status(const char *s, char *buf, size_t n)
{
    static const char *const map[][2] = {{"captured", "SUCCESS"}, {"failed", "FAILED"},
                                         {"authorized", "PENDING"}, {"created", "PENDING"},
                                         {"refunded", "REFUNDED"}};
    if (!s)
        return NULL;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i][0]) == 0)
            return map[i][1];
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        buf[i] = (char)toupper((unsigned char)s[i]);
    buf[i] = '\0';
    return buf;
}

/* Emits one payment; *failed is set for a payment the driver rejects. */
static int emit_payment(cd_run *run, const rzp_config *cfg, json_t *p, const char *ref,
                        uint64_t *failed)
{
    const char *id = str_field(p, "id");
    json_t *amount = json_object_get(p, "amount");
    json_t *created = json_object_get(p, "created_at");
    const char *why = NULL;
    if (!json_is_object(p))
        why = "item is not a JSON object";
    else if (!id || !*id)
        why = "payment without an id";
    else if (!json_is_integer(amount) || json_integer_value(amount) < 0)
        why = "amount is not a whole number of paise";
    else if (!json_is_integer(created))
        why = "created_at is not a Unix time";
    if (why) {
        char *raw = json_dumps(p, JSON_COMPACT);
        host->record_error(run, ref, why, raw, raw ? strlen(raw) : 0);
        free(raw);
        (*failed)++;
        return CD_OK;
    }
    char amount_s[32], date_s[16], ts_s[32], fee_s[32], settle_s[32], status_buf[32];
    long long amt = (long long)json_integer_value(amount);
    snprintf(amount_s, sizeof amount_s, "%lld", amt);
    time_t t = (time_t)json_integer_value(created);
    struct tm local, utc;
    localtime_r(&t, &local);
    gmtime_r(&t, &utc);
    strftime(date_s, sizeof date_s, "%Y-%m-%d", &local);
    strftime(ts_s, sizeof ts_s, "%Y-%m-%dT%H:%M:%SZ", &utc);
    json_t *fee = json_object_get(p, "fee");
    const char *fee_v = NULL, *settle_v = NULL;
    if (json_is_integer(fee)) {
        snprintf(fee_s, sizeof fee_s, "%lld", (long long)json_integer_value(fee));
        snprintf(settle_s, sizeof settle_s, "%lld", amt - (long long)json_integer_value(fee));
        fee_v = fee_s;
        settle_v = settle_s;
    }
    const char *values[C_COUNT] = {
        [C_ID] = id,
        [C_MERCHANT] = cfg->merchant_id,
        [C_AMOUNT] = amount_s,
        [C_DATE] = date_s,
        [C_TS] = ts_s,
        [C_CURRENCY] = str_field(p, "currency"),
        [C_METHOD] = str_field(p, "method"),
        [C_GWREF] = str_field(p, "order_id"),
        [C_RRN] = str_field(json_object_get(p, "acquirer_data"), "rrn"),
        [C_STATUS] = map_status(str_field(p, "status"), status_buf, sizeof status_buf),
        [C_FEE] = fee_v,
        [C_SETTLEMENT] = settle_v,
        [C_SOURCE_NAME] = "RAZORPAY",
        [C_MERCHANT_NAME] = cfg->merchant_name,
    };
    size_t lengths[C_COUNT];
    for (size_t i = 0; i < C_COUNT; i++)
        lengths[i] = values[i] ? strlen(values[i]) : 0;
    return host->record_emit(run, values, lengths, ref);
}

/* --- callbacks ------------------------------------------------------------- */

static int fetch_window(cd_run *run, const rzp_config *cfg, int emit)
{
    const cd_run_info *info = host->run_info(run);
    int64_t from = local_midnight(info->window_from, 0);
    int64_t to = local_midnight(info->window_to, 1);
    if (from < 0 || to < 0) {
        host->set_message(run, "the run's window %s..%s cannot be read as dates",
                          info->window_from, info->window_to);
        return CD_ERR_CONFIG;
    }
    to -= 1; /* inclusive: the last second of window_to */
    int rc = emit ? host->records_begin(run, columns, C_COUNT) : CD_OK;
    if (rc != CD_OK)
        return rc;
    uint64_t total = 0, failed = 0;
    long pages = 0, requests = 0; /* pages: those holding payments */
    long count = emit ? cfg->page_size : 1;
    for (long skip = 0;;) {
        if (host->is_cancelled(run)) {
            host->set_message(run, "cancelled after %" PRIu64 " payments", total);
            return CD_CANCELLED;
        }
        if (++requests > RZP_MAX_PAGES) {
            host->set_message(run, "more than %d pages in one window; narrow the window",
                              RZP_MAX_PAGES);
            return CD_ERR_PERMANENT;
        }
        char query[160];
        snprintf(query, sizeof query, "from=%" PRId64 "&to=%" PRId64 "&count=%ld&skip=%ld", from,
                 to, count, skip);
        json_t *page;
        rc = get_page(run, cfg, query, &page);
        if (rc != CD_OK)
            return rc;
        json_t *items = json_object_get(page, "items");
        size_t n = json_array_size(items);
        if (n > 0)
            pages++;
        for (size_t i = 0; emit && i < n && rc == CD_OK; i++) {
            char ref[64];
            snprintf(ref, sizeof ref, "page %ld item %zu", pages, i + 1);
            rc = emit_payment(run, cfg, json_array_get(items, i), ref, &failed);
        }
        json_decref(page);
        if (rc != CD_OK)
            return rc;
        total += n;
        if (emit)
            host->progress(run, total, 0);
        /* Only an empty page ends the listing: a page short of count may
         * just be the API sending fewer than asked, and stopping there
         * would load part of the day as SUCCESS. skip moves by what came,
         * so a capped page skips nothing. */
        if (!emit || n == 0)
            break;
        skip += (long)n;
    }
    if (emit) {
        char detail[64];
        snprintf(detail, sizeof detail, "%ld", pages);
        host->set_detail(run, "pages", detail);
        host->log(run, CD_LOG_INFO,
                  "razorpay: %" PRIu64 " payments from %s to %s in %ld page%s, %" PRIu64
                  " rejected",
                  total, info->window_from, info->window_to, pages, pages == 1 ? "" : "s", failed);
    }
    return CD_OK;
}

static int run_driver(cd_run *run)
{
    rzp_config cfg;
    int rc = load_config(run, &cfg);
    if (rc == CD_OK) {
        tz_saved tz;
        tz_enter(&tz, host->run_info(run)->timezone);
        rc = fetch_window(run, &cfg, 1);
        tz_leave(&tz);
    }
    free_config(&cfg);
    return rc;
}

static int test(cd_run *run)
{
    rzp_config cfg;
    int rc = load_config(run, &cfg);
    host->test_step(run, "config", rc == CD_OK, "%s", rc == CD_OK ? "complete" : "incomplete");
    if (rc == CD_OK) {
        tz_saved tz;
        tz_enter(&tz, host->run_info(run)->timezone);
        rc = fetch_window(run, &cfg, 0);
        tz_leave(&tz);
        host->test_step(run, "payments API", rc == CD_OK, "%s",
                        rc == CD_OK ? "key accepted, payments listed" : "failed");
        if (rc == CD_OK)
            host->set_message(run, "Razorpay answered; the key pair works");
    }
    free_config(&cfg);
    return rc;
}

static void destroy(void) { curl_global_cleanup(); }

static int razorpay_init(const cd_host_api *h, cd_driver_callbacks *cb)
{
    host = h;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        h->init_error("curl_global_init failed");
        return CD_ERR_PERMANENT;
    }
    cb->describe_config = describe_config;
    cb->validate = validate;
    cb->test = test;
    cb->run = run_driver;
    cb->destroy = destroy;
    return CD_OK;
}

CONNECTORD_DRIVER(razorpay_magic, razorpay_init)
